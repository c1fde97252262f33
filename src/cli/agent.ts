// `swimd agent`: the daemon's entry point. The long-running agent loads only
// what it runs (config, daemon); the command-line parser and the other
// commands stay unloaded, which keeps every sidecar's resident memory and
// start-up CPU down (bench/sidecar-bench.ts).
import { parseArgs } from 'node:util';
import { applyOverrides, loadDaemonConfigFile } from '../config/daemon-config.js';
import { ConfigError } from '../config/errors.js';
import { Daemon } from '../daemon/daemon.js';

/** Above this many partitions, lite mode's interpreter-only compute shows in failover times (bench/RESULTS.md). */
export const LITE_MODE_MAX_PARTITIONS = 4096;

export interface AgentArgs {
  config: string;
  name?: string;
  bind?: string;
  advertise?: string;
  join?: string[];
  socket?: string;
  dataDir?: string;
}

/**
 * The agent's flags read without the full parser, when they are plain
 * (`--flag value` or `--flag=value`, each join repeated as its own flag).
 * Anything else (help, an unknown flag, `--join a b`) returns null and the
 * full command line handles it, with its help and error messages.
 */
export function plainAgentArgs(args: string[]): AgentArgs | null {
  try {
    const { values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        name: { type: 'string' },
        bind: { type: 'string' },
        advertise: { type: 'string' },
        join: { type: 'string', multiple: true },
        socket: { type: 'string' },
        'data-dir': { type: 'string' },
        dataDir: { type: 'string' },
      },
    });
    if (values.config === undefined) return null;
    const dataDir = values['data-dir'] ?? values.dataDir;
    return {
      config: values.config,
      ...(values.name !== undefined ? { name: values.name } : {}),
      ...(values.bind !== undefined ? { bind: values.bind } : {}),
      ...(values.advertise !== undefined ? { advertise: values.advertise } : {}),
      ...(values.join !== undefined ? { join: values.join } : {}),
      ...(values.socket !== undefined ? { socket: values.socket } : {}),
      ...(dataDir !== undefined ? { dataDir } : {}),
    };
  } catch {
    return null;
  }
}

export async function runAgent(args: AgentArgs): Promise<void> {
  const load = () => applyOverrides(loadDaemonConfigFile(args.config), { name: args.name, bind: args.bind, advertise: args.advertise, join: args.join, socket: args.socket, dataDir: args.dataDir });
  let cfg;
  try {
    cfg = load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      process.exit(2);
    }
    throw err;
  }
  let daemon: Daemon;
  try {
    daemon = await Daemon.start(cfg, (code) => process.exit(code));
  } catch (err) {
    // A path the file names that cannot be used (api.socket) is the file's problem: exit 2, as for a bad field.
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      process.exit(2);
    }
    process.stderr.write(`swimd: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  // Lite mode suits a small idle sidecar; a large partition table wants the optimizing compiler.
  if (process.execArgv.includes('--lite-mode') && cfg.partitions.count > LITE_MODE_MAX_PARTITIONS) {
    daemon.log.warn({ partitions: cfg.partitions.count }, `node runs in --lite-mode and partitions.count is over ${LITE_MODE_MAX_PARTITIONS}: failover compute is many times slower without the optimizing compiler; start the agent without --lite-mode`);
  }
  const stop = (signal: string): void => {
    void daemon.stop(signal).then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => {
    try {
      daemon.reload(load());
    } catch (err) {
      daemon.log.error({ err: err instanceof Error ? err.message : String(err) }, 'reload failed; keeping the running configuration');
    }
  });
}
