// The known members' names and addresses, kept in node.dataDir so that a
// restarted daemon whose seeds are unreachable (or absent) rejoins them, as
// Serf's -snapshot does. The file is small and rewritten whole, atomically
// (temporary file, fsync, rename), at most once per write interval and only
// when the membership changed. A leave through the API (`swimd leave`) is
// recorded in it, so the next start does not rejoin the old members unless
// seeds are given. An unreadable or corrupt file is logged and ignored.
import { readFileSync, statSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Address } from '../base/env.js';
import type { MemberState } from '../core/member-types.js';
import { SwimdError } from '../base/errors.js';

export const SNAPSHOT_FILE = 'members.json';
/** Entries kept; alive members first, so a cluster larger than this still leaves plenty to rejoin. */
export const MAX_SNAPSHOT_MEMBERS = 1024;
/** A file larger than this is not read (it was not written by swimd). */
export const MAX_SNAPSHOT_BYTES = 1 << 20;
/** Addresses tried per rejoin attempt: alive ones first, then suspect, then dead. */
export const MAX_REJOIN_ADDRESSES = 32;

export interface SnapshotMember {
  name: string;
  host: string;
  port: number;
  state: MemberState;
}

export interface SnapshotContent {
  version: 1;
  /** The member left through `swimd leave`: a start without seeds does not rejoin. */
  left: boolean;
  /** Highest Serf Lamport time this member used or saw (its leave intents must exceed it). */
  serfLamportTime: number;
  members: SnapshotMember[];
}

export class SnapshotError extends SwimdError {
  constructor(message: string) {
    super('SNAPSHOT_CORRUPT', message);
  }
}

const STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];
const RANK: Record<MemberState, number> = { alive: 0, suspect: 1, dead: 2, left: 3 };

/** Parses a snapshot file's text; throws SnapshotError saying what is wrong. */
export function parseSnapshot(text: string): SnapshotContent {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SnapshotError(`not JSON: ${(err as Error).message}`);
  }
  const o = raw as Partial<SnapshotContent> | null;
  if (o === null || typeof o !== 'object' || o.version !== 1) throw new SnapshotError('expected an object with version 1');
  if (typeof o.left !== 'boolean') throw new SnapshotError('left: expected true or false');
  const lt = o.serfLamportTime ?? 0;
  if (typeof lt !== 'number' || !Number.isSafeInteger(lt) || lt < 0) throw new SnapshotError('serfLamportTime: expected a non-negative integer');
  if (!Array.isArray(o.members) || o.members.length > MAX_SNAPSHOT_MEMBERS) throw new SnapshotError(`members: expected a list of at most ${MAX_SNAPSHOT_MEMBERS}`);
  const members = o.members.map((m: unknown, i): SnapshotMember => {
    const e = m as Partial<SnapshotMember> | null;
    if (e === null || typeof e !== 'object' || typeof e.name !== 'string' || typeof e.host !== 'string' || e.host === '' || !Number.isInteger(e.port) || e.port! < 1 || e.port! > 65535 || !STATES.includes(e.state as MemberState)) {
      throw new SnapshotError(`members[${i}]: expected { name, host, port 1-65535, state }`);
    }
    return { name: e.name, host: e.host, port: e.port!, state: e.state! };
  });
  return { version: 1, left: o.left, serfLamportTime: lt, members };
}

/** Reads the snapshot in dir; null when there is none or it is unusable (then `problem` says why). */
export function readSnapshot(dir: string): { content: SnapshotContent | null; problem: string | null } {
  const path = join(dir, SNAPSHOT_FILE);
  let text: string;
  try {
    if (statSync(path).size > MAX_SNAPSHOT_BYTES) return { content: null, problem: `${path} is larger than ${MAX_SNAPSHOT_BYTES} bytes` };
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return { content: null, problem: null };
    return { content: null, problem: `${path}: ${(err as Error).message}` };
  }
  try {
    return { content: parseSnapshot(text), problem: null };
  } catch (err) {
    return { content: null, problem: `${path}: ${(err as Error).message}` };
  }
}

/** Addresses to rejoin from a snapshot: none after a leave; otherwise alive first, never members that left. */
export function rejoinAddresses(content: SnapshotContent | null, limit = MAX_REJOIN_ADDRESSES): Address[] {
  if (content === null || content.left) return [];
  return content.members
    .filter((m) => m.state !== 'left')
    .sort((a, b) => RANK[a.state] - RANK[b.state])
    .slice(0, limit)
    .map((m) => ({ host: m.host, port: m.port }));
}

export interface SnapshotDeps {
  dir: string;
  selfName: string;
  members(): readonly SnapshotMember[];
  serfLamportTime(): number;
  log(level: 'info' | 'warn', msg: string, fields: Record<string, unknown>): void;
}

/** Keeps the snapshot file up to date while the daemon runs. */
export class MemberSnapshotWriter {
  private dirty = true;
  private left: boolean;
  /** Set by recordLeave: members joining during the leave's last second do not undo it. */
  private leaving = false;
  private timer: NodeJS.Timeout | null = null;
  /** The write in progress: writes never overlap, and the disk never holds up the protocol's event loop. */
  private writing: Promise<void> = Promise.resolve();
  private pending = false;
  writes = 0;

  constructor(
    private readonly d: SnapshotDeps,
    /** What the file held at start (its leave mark carries over until this member joins again). */
    loaded: SnapshotContent | null,
    private readonly intervalMs = 2_000,
  ) {
    this.left = loaded?.left ?? false;
  }

  /** Membership changed: the file is rewritten at the next interval. */
  changed(): void {
    this.dirty = true;
  }

  /** This member is part of a cluster again: a later restart rejoins it. */
  joined(): void {
    if (this.left && !this.leaving) {
      this.left = false;
      this.dirty = true;
    }
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.dirty && !this.pending) void this.flush();
    }, this.intervalMs);
    this.timer.unref();
  }

  /** `swimd leave`: record it now, so a restart does not rejoin. */
  recordLeave(): Promise<void> {
    this.left = true;
    this.leaving = true;
    return this.flush();
  }

  /** Stops the timer and writes what changed since the last write. */
  stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return this.dirty ? this.flush() : this.writing;
  }

  content(): SnapshotContent {
    const members = this.d
      .members()
      .filter((m) => m.name !== this.d.selfName)
      .slice()
      .sort((a, b) => RANK[a.state] - RANK[b.state] || a.name.localeCompare(b.name))
      .slice(0, MAX_SNAPSHOT_MEMBERS)
      .map((m) => ({ name: m.name, host: m.host, port: m.port, state: m.state }));
    return { version: 1, left: this.left, serfLamportTime: this.d.serfLamportTime(), members };
  }

  /**
   * Writes the file atomically (after any write in progress, with the content
   * of that moment); resolves when it is on disk. A failure is logged and
   * retried at the next interval.
   */
  flush(): Promise<void> {
    this.pending = true;
    this.writing = this.writing.then(async () => {
      this.pending = false;
      this.dirty = false;
      const path = join(this.d.dir, SNAPSHOT_FILE);
      const tmp = `${path}.tmp`;
      try {
        const fh = await open(tmp, 'w', 0o600);
        try {
          await fh.writeFile(JSON.stringify(this.content()) + '\n');
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, path);
        this.writes++;
      } catch (err) {
        this.dirty = true;
        this.d.log('warn', 'cannot write the member snapshot', { path, err: (err as Error).message });
      }
    });
    return this.writing;
  }
}
