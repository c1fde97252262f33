// The daemon's YAML file: parsed, defaulted from the chosen profile, and
// validated with one error per bad field (all of them at once).
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { Address } from '../base/env.js';
import { parseHostOrNamePort } from '../net/host-port.js';
import { formatDurationMs, parseDurationMs } from './duration.js';
import { ConfigError, type ConfigFieldError } from './errors.js';
import { FLAP_DEFAULTS } from './knobs.js';
import { presetConfig, type ProfileName } from './presets.js';
import { LIVE_SWIM_FIELDS, type SwimConfig } from '../base/swim-config.js';
import { KNOB_DOCS } from './knobs.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
/** json: one pino JSON object a line (for collectors); text: one readable line per entry (for people). */
export type LogFormat = 'json' | 'text';

export interface DaemonConfig {
  /** bind and advertise hosts may be DNS names, resolved once at start. */
  node: { name: string; bind: Address; advertise: Address | null; meta: Record<string, string>; dataDir: string };
  /** Seeds; a host may be a DNS name, resolved (A and AAAA) on every join attempt. */
  join: Address[];
  /** How joining the seeds is retried: delay min(intervalMs × 2^(n−1), 8 × intervalMs) after attempt n, max attempts. */
  joinRetry: { intervalMs: number; max: number };
  profile: ProfileName;
  swim: SwimConfig;
  partitions: {
    count: number;
    replicas: number;
    strategy: 'rendezvous' | 'modulo';
    /** Grants an epoch needs: more than half of the eligible members. */
    quorum: number;
    boundedLoadEpsilon: number | null;
    failoverOnSuspect: boolean;
    /** Tags a member must carry to hold partitions and grant epochs. */
    eligible: Record<string, string>;
    claimTimeoutMs: number;
    syncIntervalMs: number;
    /** Heartbeats among eligible members (partition/heartbeats.ts); 0: off. */
    heartbeatIntervalMs: number;
    /** An eligible member not heard from this long may not be primary here and does not count for quorum. */
    heartbeatTimeoutMs: number;
    /** Eligible for primary only while an application session is live. */
    requireSession: boolean;
    /** A planned stop drains first and waits this long at most for successors to take over. */
    handoffTimeoutMs: number;
    /** A partition-table disagreement with a peer lasting this long is logged at warn, once per episode. */
    disagreementWarnAfterMs: number;
    /** Flap damping (knobs.ts, PARTITION_KNOB_DOCS); penalty 0 disables it. */
    flapPenalty: number;
    flapSuppressAbove: number;
    flapReuseBelow: number;
    flapHalfLifeMs: number;
  };
  api: { socket: string; mode: number; watchQueueDepth: number; watchQueueBytes: number; maxConnections: number; maxSessions: number; monitorQueueBytes: number };
  log: { level: LogLevel; format: LogFormat };
  /** Where the file came from ('' for text parsed directly). */
  source: string;
}

/**
 * Two push/pull intervals: a peer's table is compared at most once per
 * interval, so a disagreement seen in two exchanges has lasted, not just
 * crossed a change in flight. A minute when push/pull is off.
 */
/** Heartbeats by profile: on for local (a cut-off primary's partitions move in about 0.35 s), off on lan and wan, where SWIM alone decides. */
export function defaultHeartbeatIntervalMs(profile: ProfileName): number {
  return profile === 'local' ? 100 : 0;
}

/** Silent after 3.5 heartbeat intervals: three heartbeats in a row lost, with half an interval for the phase. */
export function defaultHeartbeatTimeoutMs(intervalMs: number): number {
  return Math.round(intervalMs * 3.5);
}

export function defaultDisagreementWarnAfterMs(pushPullIntervalMs: number): number {
  return pushPullIntervalMs > 0 ? 2 * pushPullIntervalMs : 60_000;
}

/** limits.* keys the daemon reads itself (API and watch bounds), beside the core's in the knob table. */
const DAEMON_LIMIT_KEYS = ['watchQueueDepth', 'maxApiConnections', 'maxSessions', 'watchQueueBytes', 'monitorQueueBytes'];
/** Keys each section accepts besides the knob table's swim.* and limits.* rows: the parser and the shipped-file test read this list. */
export const SECTION_KEYS = {
  '': ['node', 'join', 'profile', 'swim', 'limits', 'partitions', 'api', 'security', 'log'],
  node: ['name', 'bind', 'advertise', 'meta', 'dataDir'],
  join: ['seeds', 'retryInterval', 'retryMax'],
  partitions: ['count', 'replicas', 'strategy', 'quorum', 'boundedLoadEpsilon', 'failoverOnSuspect', 'eligible', 'claimTimeout', 'syncInterval', 'heartbeatInterval', 'heartbeatTimeout', 'requireSession', 'handoffTimeout', 'disagreementWarnAfter', 'flapPenalty', 'flapSuppressAbove', 'flapReuseBelow', 'flapHalfLife'],
  api: ['socket', 'mode'],
  security: ['keys', 'label', 'verifyIncoming', 'verifyOutgoing'],
  log: ['level', 'format'],
} as const;

/** Every dotted key the file accepts (top-level keys alone), knob-table rows included. */
export function acceptedConfigKeys(): string[] {
  const keys: string[] = [...SECTION_KEYS['']];
  for (const [section, names] of Object.entries(SECTION_KEYS)) if (section !== '') for (const n of names) keys.push(`${section}.${n}`);
  for (const d of KNOB_DOCS) keys.push(d.key);
  for (const n of DAEMON_LIMIT_KEYS) keys.push(`limits.${n}`);
  return keys;
}

/** Levenshtein distance, for "did you mean" on unknown keys. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known key nearest to an unknown one, when it is close enough to be a typo (case ignored). */
export function nearestKey(unknown: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(unknown.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  // A third of the name, at least 2 edits: catches doubled letters and swaps, not unrelated words.
  return best !== null && bestDistance <= Math.max(2, Math.floor(unknown.length / 3)) ? best : null;
}

const LOG_LEVELS: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Timing knobs a running daemon applies on SIGHUP (declared once, in base/swim-config.ts); every other change needs a restart. */
export const LIVE_SWIM_KEYS = LIVE_SWIM_FIELDS;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

class Checker {
  readonly errors: ConfigFieldError[] = [];
  bad(field: string, rule: string, got: unknown): void {
    this.errors.push({ field, rule, got });
  }
  section(root: Obj, key: string, allowed: readonly string[]): Obj {
    const v = root[key];
    if (v === undefined || v === null) return {};
    if (!isObj(v)) {
      this.bad(key, 'expected a mapping', v);
      return {};
    }
    this.unknownKeys(v, key, allowed);
    return v;
  }
  /** One error per key not in allowed, suggesting the nearest known key of the same section. */
  unknownKeys(obj: Obj, section: string, allowed: readonly string[]): void {
    const dotted = (k: string): string => (section === '' ? k : `${section}.${k}`);
    for (const k of Object.keys(obj)) {
      if (allowed.includes(k)) continue;
      const near = nearestKey(k, allowed);
      if (near !== null) this.errors.push({ field: dotted(k), rule: `unknown key; did you mean ${dotted(near)}?` });
      else this.bad(dotted(k), `unknown key (known: ${allowed.join(', ')})`, obj[k]);
    }
  }
  duration(obj: Obj, key: string, field: string, min: number): number | undefined {
    if (obj[key] === undefined) return undefined;
    const ms = parseDurationMs(obj[key]);
    if (ms === null) {
      this.bad(field, 'expected a duration such as "200ms"', obj[key]);
      return undefined;
    }
    if (ms < min) {
      this.bad(field, `expected at least ${min}ms`, obj[key]);
      return undefined;
    }
    return ms;
  }
  int(obj: Obj, key: string, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = obj[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.bad(field, `expected an integer from ${min} to ${max}`, v);
      return undefined;
    }
    return v;
  }
  num(obj: Obj, key: string, field: string, min: number, max: number): number | undefined {
    const v = obj[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      this.bad(field, `expected a number from ${min} to ${max}`, v);
      return undefined;
    }
    return v;
  }
  bool(obj: Obj, key: string, field: string): boolean | undefined {
    const v = obj[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') {
      this.bad(field, 'expected true or false', v);
      return undefined;
    }
    return v;
  }
  address(v: unknown, field: string): Address | undefined {
    if (typeof v !== 'string') {
      this.bad(field, 'expected an address such as "127.0.0.1:7946", "[::1]:7946" or "db-0.svc:7946"', v);
      return undefined;
    }
    try {
      return parseHostOrNamePort(v);
    } catch (err) {
      this.bad(field, (err as Error).message.replace(/, got .*$/, ''), v);
      return undefined;
    }
  }
}

/** Parses and validates a config file's text; throws ConfigError listing every problem. */
export function parseDaemonConfig(text: string, source: string): DaemonConfig {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => ({ field: `(yaml line ${e.linePos?.[0]?.line ?? '?'}, column ${e.linePos?.[0]?.col ?? '?'})`, rule: e.message.split('\n')[0]!, got: text.split('\n')[(e.linePos?.[0]?.line ?? 1) - 1] ?? '' })),
    );
  }
  const raw = doc.toJS() as unknown;
  const c = new Checker();
  const root: Obj = raw === null || raw === undefined ? {} : isObj(raw) ? raw : (c.bad('(root)', 'expected a mapping', raw), {});
  c.unknownKeys(root, '', SECTION_KEYS['']);

  const profileRaw = root.profile ?? 'lan';
  let profile: ProfileName = 'lan';
  if (profileRaw === 'lan' || profileRaw === 'wan' || profileRaw === 'local') profile = profileRaw;
  else c.bad('profile', 'expected one of lan, wan, local', profileRaw);
  const swim = presetConfig(profile);

  const node = c.section(root, 'node', SECTION_KEYS.node);
  const name = node.name;
  if (typeof name !== 'string' || name.trim() === '' || Buffer.byteLength(name) > 128) c.bad('node.name', 'expected a non-empty name of at most 128 bytes', name);
  const bind = c.address(node.bind ?? '127.0.0.1:7946', 'node.bind') ?? { host: '127.0.0.1', port: 7946 };
  const advertise = node.advertise === undefined || node.advertise === null ? null : (c.address(node.advertise, 'node.advertise') ?? null);
  const meta: Record<string, string> = {};
  if (node.meta !== undefined && node.meta !== null) {
    if (!isObj(node.meta)) c.bad('node.meta', 'expected a mapping of tag names to values', node.meta);
    else for (const [k, v] of Object.entries(node.meta)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') meta[k] = String(v);
      else c.bad(`node.meta.${k}`, 'expected a string, number or boolean', v);
    }
  }

  // `join: [seeds]`, or `join: { seeds: [..], retryInterval, retryMax }` to tune the retry.
  const join: Address[] = [];
  let seedList: unknown = root.join;
  let seedField = 'join';
  let joinOpts: Obj = {};
  if (isObj(root.join)) {
    joinOpts = c.section(root, 'join', SECTION_KEYS.join);
    seedList = joinOpts.seeds;
    seedField = 'join.seeds';
  }
  if (seedList !== undefined && seedList !== null) {
    if (!Array.isArray(seedList)) c.bad(seedField, 'expected a list of addresses, or a mapping { seeds, retryInterval, retryMax }', seedList);
    else if (seedList.length > 256) c.bad(seedField, 'expected at most 256 seeds', seedList.length);
    else seedList.forEach((j, i) => {
      const a = c.address(j, `${seedField}[${i}]`);
      if (a) join.push(a);
    });
  }
  const joinRetry = {
    intervalMs: c.duration(joinOpts, 'retryInterval', 'join.retryInterval', 10) ?? 1_000,
    max: c.int(joinOpts, 'retryMax', 'join.retryMax', 1, 10_000) ?? 10,
  };

  // Every swim.* and limits.* knob of the core is read from its row in the knob table (knobs.ts):
  // key, field, kind and bounds live there once, beside the docs the README is rendered from.
  const swimDocs = KNOB_DOCS.filter((d) => d.key.startsWith('swim.'));
  const limitDocs = KNOB_DOCS.filter((d) => d.key.startsWith('limits.'));
  const s = c.section(root, 'swim', swimDocs.map((d) => d.key.slice('swim.'.length)));
  const limits = c.section(root, 'limits', [...limitDocs.map((d) => d.key.slice('limits.'.length)), ...DAEMON_LIMIT_KEYS]);
  for (const d of KNOB_DOCS) {
    const swimKnob = d.key.startsWith('swim.');
    const section = swimKnob ? s : limits;
    const name = d.key.slice(d.key.indexOf('.') + 1);
    if (d.kind === 'duration') {
      const v = c.duration(section, name, d.key, d.min ?? 1);
      if (v !== undefined) (swim[d.field] as number) = v;
    } else if (d.kind === 'int') {
      const v = c.int(section, name, d.key, d.min ?? 1, d.max ?? (swimKnob ? 1000 : 10_000_000));
      if (v !== undefined) (swim[d.field] as number) = v;
    } else if (d.kind === 'bool') {
      const v = c.bool(section, name, d.key);
      if (v !== undefined) (swim[d.field] as boolean) = v;
    }
    // String knobs (limits.memberNamePattern) have rules of their own, below.
  }
  if (swim.probeTimeoutMs >= swim.probeIntervalMs) {
    // Say which side the profile filled in, so the user knows which key to set.
    const timeout = formatDurationMs(swim.probeTimeoutMs);
    const interval = `swim.probeInterval ${formatDurationMs(swim.probeIntervalMs)}${s.probeInterval === undefined ? ` (from profile ${profile})` : ''}`;
    const rule =
      s.probeTimeout === undefined
        ? `${timeout} comes from profile ${profile} and must be below ${interval}; set swim.probeTimeout`
        : `${timeout} must be below ${interval}; lower swim.probeTimeout or ${s.probeInterval === undefined ? 'set' : 'raise'} swim.probeInterval`;
    c.errors.push({ field: 'swim.probeTimeout', rule });
  }

  const watchQueueDepth = c.int(limits, 'watchQueueDepth', 'limits.watchQueueDepth', 1, 1_000_000) ?? 1024;
  const maxApiConnections = c.int(limits, 'maxApiConnections', 'limits.maxApiConnections', 1, 100_000) ?? 256;
  const maxSessions = c.int(limits, 'maxSessions', 'limits.maxSessions', 1, 10_000) ?? 16;
  const watchQueueBytes = c.int(limits, 'watchQueueBytes', 'limits.watchQueueBytes', 1024, 1 << 30) ?? 4 * 1024 * 1024;
  const monitorQueueBytes = c.int(limits, 'monitorQueueBytes', 'limits.monitorQueueBytes', 1024, 1 << 30) ?? 1024 * 1024;
  if (limits.memberNamePattern !== undefined && limits.memberNamePattern !== null) {
    const pat = limits.memberNamePattern;
    let ok = typeof pat === 'string' && pat.length <= 1000;
    if (ok) {
      try {
        new RegExp(pat as string, 'u');
      } catch {
        ok = false;
      }
    }
    if (!ok) c.bad('limits.memberNamePattern', 'expected a regular expression such as "^[A-Za-z0-9.-]+$"', pat);
    else swim.memberNamePattern = pat as string;
  }

  const p = c.section(root, 'partitions', SECTION_KEYS.partitions);
  const strategy = p.strategy ?? 'rendezvous';
  if (strategy !== 'rendezvous' && strategy !== 'modulo') c.bad('partitions.strategy', 'expected rendezvous or modulo', strategy);
  let eps: number | null = null;
  if (p.boundedLoadEpsilon !== undefined && p.boundedLoadEpsilon !== null) {
    if (typeof p.boundedLoadEpsilon !== 'number' || !(p.boundedLoadEpsilon > 0) || p.boundedLoadEpsilon > 10) c.bad('partitions.boundedLoadEpsilon', 'expected a number above 0 and at most 10, or null', p.boundedLoadEpsilon);
    else eps = p.boundedLoadEpsilon;
  }
  const partitions = {
    count: c.int(p, 'count', 'partitions.count', 1, 1 << 20) ?? 256,
    replicas: c.int(p, 'replicas', 'partitions.replicas', 1, 16) ?? 3,
    strategy: (strategy === 'modulo' ? 'modulo' : 'rendezvous') as 'rendezvous' | 'modulo',
    quorum: 1,
    boundedLoadEpsilon: eps,
    failoverOnSuspect: c.bool(p, 'failoverOnSuspect', 'partitions.failoverOnSuspect') ?? false,
    eligible: {} as Record<string, string>,
    claimTimeoutMs: c.duration(p, 'claimTimeout', 'partitions.claimTimeout', 1) ?? swim.probeTimeoutMs,
    syncIntervalMs: c.duration(p, 'syncInterval', 'partitions.syncInterval', 10) ?? swim.probeIntervalMs * 2,
    heartbeatIntervalMs: c.duration(p, 'heartbeatInterval', 'partitions.heartbeatInterval', 0) ?? defaultHeartbeatIntervalMs(profile),
    heartbeatTimeoutMs: 0,
    requireSession: c.bool(p, 'requireSession', 'partitions.requireSession') ?? false,
    handoffTimeoutMs: c.duration(p, 'handoffTimeout', 'partitions.handoffTimeout', 0) ?? 5_000,
    disagreementWarnAfterMs: c.duration(p, 'disagreementWarnAfter', 'partitions.disagreementWarnAfter', 0) ?? defaultDisagreementWarnAfterMs(swim.pushPullIntervalMs),
    flapPenalty: c.num(p, 'flapPenalty', 'partitions.flapPenalty', 0, 1000) ?? FLAP_DEFAULTS.penalty,
    flapSuppressAbove: c.num(p, 'flapSuppressAbove', 'partitions.flapSuppressAbove', 0.001, 1_000_000) ?? FLAP_DEFAULTS.suppressAbove,
    flapReuseBelow: c.num(p, 'flapReuseBelow', 'partitions.flapReuseBelow', 0.001, 1_000_000) ?? FLAP_DEFAULTS.reuseBelow,
    flapHalfLifeMs: c.duration(p, 'flapHalfLife', 'partitions.flapHalfLife', 1000) ?? FLAP_DEFAULTS.halfLifeMs,
  };
  if (partitions.flapPenalty > 0 && partitions.flapReuseBelow >= partitions.flapSuppressAbove) {
    c.bad('partitions.flapReuseBelow', `expected less than partitions.flapSuppressAbove (${partitions.flapSuppressAbove})`, partitions.flapReuseBelow);
  }
  if (partitions.heartbeatIntervalMs > 0 && partitions.heartbeatIntervalMs < 10) c.bad('partitions.heartbeatInterval', 'expected 0 (off) or at least 10ms', p.heartbeatInterval);
  partitions.heartbeatTimeoutMs = c.duration(p, 'heartbeatTimeout', 'partitions.heartbeatTimeout', 1) ?? defaultHeartbeatTimeoutMs(partitions.heartbeatIntervalMs);
  if (partitions.heartbeatIntervalMs > 0 && partitions.heartbeatTimeoutMs <= partitions.heartbeatIntervalMs) {
    c.bad('partitions.heartbeatTimeout', `expected more than partitions.heartbeatInterval (${formatDurationMs(partitions.heartbeatIntervalMs)}); 3 to 5 intervals keeps a lost heartbeat or two from moving partitions`, p.heartbeatTimeout ?? formatDurationMs(partitions.heartbeatTimeoutMs));
  }
  if (p.quorum === undefined || p.quorum === null) {
    c.bad('partitions.quorum', 'required: the grants a partition epoch needs, more than half of the eligible members (2 of 3, 3 of 5)', p.quorum ?? null);
  } else {
    partitions.quorum = c.int(p, 'quorum', 'partitions.quorum', 1, 100_000) ?? 1;
  }
  if (p.eligible !== undefined && p.eligible !== null) {
    if (!isObj(p.eligible)) c.bad('partitions.eligible', 'expected a mapping of tag names to the values a member must carry, such as { role: app }', p.eligible);
    else for (const [k, v] of Object.entries(p.eligible)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') partitions.eligible[k] = String(v);
      else c.bad(`partitions.eligible.${k}`, 'expected a string, number or boolean', v);
    }
  }

  const api = c.section(root, 'api', SECTION_KEYS.api);
  let socket = './swimd.sock';
  if (api.socket !== undefined) {
    if (typeof api.socket !== 'string' || api.socket === '') c.bad('api.socket', 'expected a file path', api.socket);
    else socket = api.socket;
  }
  if (!isAbsolute(socket)) socket = resolve(source && source !== '<text>' ? dirname(source) : process.cwd(), socket);
  if (Buffer.byteLength(socket) > 100) c.bad('api.socket', 'expected a path of at most 100 bytes (Unix socket limit)', socket);
  let mode = 0o600;
  if (api.mode !== undefined) {
    if (typeof api.mode !== 'string' || !/^0?[0-7]{3}$/.test(api.mode)) c.bad('api.mode', 'expected an octal file mode in quotes such as "0600"', api.mode);
    else mode = parseInt(api.mode, 8);
  }

  const sec = c.section(root, 'security', SECTION_KEYS.security);
  if (sec.keys !== undefined && sec.keys !== null) {
    if (!Array.isArray(sec.keys)) c.bad('security.keys', 'expected a list of base64 keys', sec.keys);
    else swim.keys = sec.keys.flatMap((k, i) => {
      const b = typeof k === 'string' ? Buffer.from(k, 'base64') : null;
      if (!b || ![16, 24, 32].includes(b.length) || b.toString('base64') !== k) {
        c.bad(`security.keys[${i}]`, 'expected a base64 key of 16, 24 or 32 bytes (swimd keygen makes one)', k);
        return [];
      }
      return [new Uint8Array(b)];
    });
    if (swim.keys.length > swim.maxKeys) c.bad('security.keys', `expected at most limits.maxKeys (${swim.maxKeys}) keys`, `${swim.keys.length} keys`);
  }
  if (sec.label !== undefined) {
    if (typeof sec.label !== 'string' || Buffer.byteLength(sec.label) > 255) c.bad('security.label', 'expected a string of at most 255 bytes', sec.label);
    else swim.label = sec.label;
  }
  swim.gossipVerifyIncoming = c.bool(sec, 'verifyIncoming', 'security.verifyIncoming') ?? swim.gossipVerifyIncoming;
  swim.gossipVerifyOutgoing = c.bool(sec, 'verifyOutgoing', 'security.verifyOutgoing') ?? swim.gossipVerifyOutgoing;

  let dataDir = `./swimd-data/${typeof name === 'string' ? name.replace(/[^A-Za-z0-9._-]/g, '_') : 'member'}`;
  if (node.dataDir !== undefined && node.dataDir !== null) {
    if (typeof node.dataDir !== 'string' || node.dataDir === '') c.bad('node.dataDir', 'expected a directory path', node.dataDir);
    else dataDir = node.dataDir;
  }
  if (!isAbsolute(dataDir)) dataDir = resolve(source && source !== '<text>' ? dirname(source) : process.cwd(), dataDir);

  const log = c.section(root, 'log', SECTION_KEYS.log);
  const level = (log.level ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level)) c.bad('log.level', `expected one of ${LOG_LEVELS.join(', ')}`, log.level);
  const format = (log.format ?? 'json') as LogFormat;
  if (format !== 'json' && format !== 'text') c.bad('log.format', 'expected json or text', log.format);

  if (c.errors.length > 0) throw new ConfigError(source, c.errors);
  return {
    node: { name: String(name), bind, advertise, meta, dataDir },
    join,
    joinRetry,
    profile,
    swim,
    partitions,
    api: { socket, mode, watchQueueDepth, watchQueueBytes, maxConnections: maxApiConnections, maxSessions, monitorQueueBytes },
    log: { level, format },
    source,
  };
}

export function loadDaemonConfigFile(path: string): DaemonConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ field: '(file)', rule: `cannot read the file: ${(err as Error).message}`, got: path }]);
  }
  return parseDaemonConfig(text, resolve(path));
}

export interface ConfigOverrides {
  name?: string | undefined;
  bind?: string | undefined;
  advertise?: string | undefined;
  join?: string[] | undefined;
  socket?: string | undefined;
  dataDir?: string | undefined;
}

/** Command-line flags win over the file. */
export function applyOverrides(cfg: DaemonConfig, o: ConfigOverrides): DaemonConfig {
  const c = new Checker();
  const out: DaemonConfig = { ...cfg, node: { ...cfg.node }, api: { ...cfg.api } };
  if (o.name !== undefined) out.node.name = o.name;
  if (o.bind !== undefined) out.node.bind = c.address(o.bind, '--bind') ?? out.node.bind;
  if (o.advertise !== undefined) out.node.advertise = c.address(o.advertise, '--advertise') ?? out.node.advertise;
  if (o.join !== undefined && o.join.length > 0) out.join = o.join.map((j, i) => c.address(j, `--join[${i}]`)).filter((a): a is Address => a !== undefined);
  if (o.socket !== undefined) out.api.socket = resolve(o.socket);
  if (o.dataDir !== undefined) out.node.dataDir = resolve(o.dataDir);
  else if (o.name !== undefined && o.name !== cfg.node.name && cfg.node.dataDir.endsWith(`/swimd-data/${cfg.node.name.replace(/[^A-Za-z0-9._-]/g, '_')}`)) {
    // The default directory follows the name, so two members started from one file never share grants.
    out.node.dataDir = join(dirname(cfg.node.dataDir), o.name.replace(/[^A-Za-z0-9._-]/g, '_'));
  }
  if (c.errors.length > 0) throw new ConfigError('command line', c.errors);
  return out;
}

/** Sorts what changed between two configs into what applies live and what needs a restart. */
export function diffReloadable(a: DaemonConfig, b: DaemonConfig): { live: string[]; needRestart: string[] } {
  const live: string[] = [];
  const needRestart: string[] = [];
  const liveKeys = new Set<string>(LIVE_SWIM_KEYS);
  for (const k of Object.keys(a.swim) as (keyof SwimConfig)[]) {
    if (JSON.stringify(a.swim[k]) !== JSON.stringify(b.swim[k])) (liveKeys.has(k) ? live : needRestart).push(`swim.${k}`);
  }
  if (a.log.level !== b.log.level) live.push('log.level');
  if (a.log.format !== b.log.format) needRestart.push('log.format');
  for (const k of ['node', 'join', 'joinRetry', 'partitions', 'api'] as const) if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) needRestart.push(k);
  return { live, needRestart };
}
