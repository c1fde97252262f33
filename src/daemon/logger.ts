// pino logs, as JSON lines (for collectors) or as text lines (for people); the
// core logs through the CoreLogger adapter so it never formats a message
// unless the level is enabled. Every line also goes to the monitor streams
// (GET /v1/monitor), which may ask for a more detailed level than the
// configured one while they are open.
import { pino, type Logger } from 'pino';
import type { CoreLogger } from '../base/env.js';
import type { LogFormat, LogLevel } from '../config/daemon-config.js';

/** pino's level numbers. */
export const LOG_LEVEL_VALUES: Readonly<Record<Exclude<LogLevel, 'silent'>, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const SILENT = Infinity;

function levelValue(level: LogLevel): number {
  return level === 'silent' ? SILENT : LOG_LEVEL_VALUES[level];
}

/** Where the monitor streams receive lines (src/api/monitor.ts). */
export interface LogTap {
  /** Most detailed level any open stream asks for (Infinity when none is open). */
  lowestLevel(): number;
  publish(line: string, level: number): void;
  /** Called when lowestLevel() may have changed. */
  onLevelsChanged(listener: () => void): void;
}

interface LineSink {
  write(text: string): unknown;
}

const routers = new WeakMap<Logger, LogRouter>();

/** Sends each pino line to the output at the configured level and to the tap at its own. */
class LogRouter {
  logger!: Logger;
  private configured: number;

  constructor(
    level: LogLevel,
    private readonly format: LogFormat,
    private readonly out: LineSink,
    private readonly tap: LogTap | null,
  ) {
    this.configured = levelValue(level);
  }

  write(line: string): void {
    const level = levelOfLine(line);
    if (level >= this.configured) this.out.write(this.format === 'text' ? formatLogLine(line) + '\n' : line);
    if (this.tap !== null && level >= this.tap.lowestLevel()) this.tap.publish(line, level);
  }

  setConfigured(level: LogLevel): void {
    this.configured = levelValue(level);
    this.apply();
  }

  /** pino produces lines down to the most detailed level anybody reads. */
  apply(): void {
    const lowest = Math.min(this.configured, this.tap?.lowestLevel() ?? SILENT);
    const name = Object.entries(LOG_LEVEL_VALUES).find(([, v]) => v === lowest)?.[0] ?? 'silent';
    this.logger.level = name;
  }
}

export function createLogger(level: LogLevel, name: string, options: { format?: LogFormat; tap?: LogTap; out?: LineSink } = {}): Logger {
  const router = new LogRouter(level, options.format ?? 'json', options.out ?? pino.destination(1), options.tap ?? null);
  const logger = pino({ level, base: { node: name } }, { write: (line: string) => router.write(line) });
  router.logger = logger;
  routers.set(logger, router);
  options.tap?.onLevelsChanged(() => router.apply());
  router.apply();
  return logger;
}

/** Changes the configured level of a logger made by createLogger (SIGHUP); open monitor streams keep theirs. */
export function setLogLevel(logger: Logger, level: LogLevel): void {
  const router = routers.get(logger);
  if (router) router.setConfigured(level);
  else logger.level = level;
}

/** The level number of a pino JSON line (pino writes it first). */
export function levelOfLine(line: string): number {
  const m = /^\{"level":(\d+)/.exec(line);
  return m ? Number(m[1]) : LOG_LEVEL_VALUES.info;
}

const LEVEL_LABELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const OMITTED = new Set(['level', 'time', 'msg', 'node', 'pid', 'hostname']);

function fieldText(v: unknown): string {
  if (typeof v === 'string') return v !== '' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

/**
 * One pino JSON line as text for people:
 * `2026-01-02T03:04:05.678Z INFO  node-a member dead member=node-b incarnation=3`.
 * A line that is not JSON is returned as it is.
 */
export function formatLogLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.replace(/\n$/, '');
  }
  if (o === null || typeof o !== 'object') return line.replace(/\n$/, '');
  const time = typeof o.time === 'number' ? new Date(o.time).toISOString() : '-';
  const level = LEVEL_LABELS[o.level as number] ?? String(o.level);
  const fields = Object.entries(o)
    .filter(([k]) => !OMITTED.has(k))
    .map(([k, v]) => `${k}=${fieldText(v)}`);
  return [time, level, o.node === undefined ? null : String(o.node), String(o.msg ?? ''), ...fields].filter((p) => p !== null && p !== '').join(' ');
}

export function coreLoggerOf(log: Logger): CoreLogger {
  return {
    isLevelEnabled: (level) => log.isLevelEnabled(level),
    log: (level, msg, fields) => log[level](fields ?? {}, msg),
  };
}
