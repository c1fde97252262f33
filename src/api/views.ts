// JSON shapes of the API, shared by the server, the client and the CLI.
import type { MemberEvent, MemberSnapshot, ReachPath } from '../core/member-types.js';
import type { DampingState } from '../partition/flap-damping.js';
import type { LeadershipDiff, LeadershipSnapshot, OwnedPartition } from '../partition/leadership.js';
import type { AgreementReport, ConfigMismatch } from '../partition/agreement.js';
import { decodeTags } from '../wire/serf-tags.js';
import { CHUNK_BITS, CHUNK_MASK } from '../partition/table.js';

export interface MemberView {
  name: string;
  address: string;
  port: number;
  state: string;
  incarnation: number;
  /** Tags when the metadata is in Serf's tag format, else { raw: base64 }. */
  meta: Record<string, string>;
  /** This daemon has reached the member at its address itself; until then it holds no partition role. */
  contacted: boolean;
  /** The path this daemon's last answered probe of the member took (direct, indirect or tcp), on the daemon's monotonic clock, and how long ago. */
  reach: { path: ReachPath; atMs: number; ageMs?: number } | null;
  /** Flap damping (absent when it is off): suppressed members are never primary. Each member scores itself, so only this daemon's own entry has a score and flaps; others' decision is their tag. */
  damping?: { suppressed: boolean; score?: number; flaps?: number };
}

export interface PartitionView {
  id: number;
  primary: string | null;
  replicas: string[];
  token: number;
}

export interface PartitionsView {
  viewVersion: number;
  quorum: 'ok' | 'no-quorum';
  liveMembers: number;
  /** Checksum of this table (16 hex digits): members publishing the same table have the same one. */
  checksum: string;
  /** How this table compares with the other swimd members' (GET /v1/partitions; not in watch snapshots). */
  agreement?: AgreementReport;
  /** Members seen with other partitions.count, replicas or strategy (GET /v1/partitions). */
  configMismatches?: ConfigMismatch[];
  partitions: PartitionView[];
}

export function memberView(m: MemberSnapshot): MemberView {
  return memberViewWith(m, null);
}

/** Member views that also say how long ago each reach was (ageMs), by the clock the core runs on. */
export function memberViewAt(clock: { nowMs(): number }): (m: MemberSnapshot) => MemberView {
  return (m) => memberViewWith(m, clock.nowMs());
}

function memberViewWith(m: MemberSnapshot, nowMs: number | null): MemberView {
  const tags = m.meta.length === 0 ? {} : decodeTags(m.meta);
  const r = m.reach ?? null;
  const reach = r === null ? null : nowMs !== null ? { path: r.path, atMs: Math.round(r.atMs), ageMs: Math.max(0, Math.round(nowMs - r.atMs)) } : { path: r.path, atMs: Math.round(r.atMs) };
  return { name: m.name, address: m.host, port: m.port, state: m.state, incarnation: m.incarnation, meta: tags ?? { raw: Buffer.from(m.meta).toString('base64') }, contacted: m.contacted, reach };
}

/** The member view with its flap-damping state (score rounded to 3 decimals). */
export function withDamping(v: MemberView, d: DampingState | { suppressed: boolean } | null): MemberView {
  if (d === null) return v;
  if (!('score' in d)) return { ...v, damping: { suppressed: d.suppressed } };
  return { ...v, damping: { score: Math.round(d.score * 1000) / 1000, suppressed: d.suppressed, flaps: d.flaps } };
}

export function partitionView(p: OwnedPartition): PartitionView {
  return { id: p.id, primary: p.primary, replicas: [...p.replicas], token: p.token };
}

export function partitionsView(s: LeadershipSnapshot): PartitionsView {
  return { viewVersion: s.viewVersion, quorum: s.quorum, liveMembers: s.liveMembers, checksum: s.checksum, partitions: Array.from(s.partitions, partitionView) };
}

/** How a member changed, in a member line's `event`. */
export type MemberEventKind = MemberEvent['kind'];

/** The first line of every watch stream (and the line after a resync): the whole view. */
export interface WatchSnapshot {
  type: 'snapshot';
  members: MemberView[];
  partitions: PartitionsView;
}

/** A member joined, changed its metadata, became suspect, came back, died or left. */
export interface WatchMemberEvent {
  type: 'member';
  event: MemberEventKind;
  member: MemberView;
}

/** One partition whose primary, replicas or token changed; `newPrimary` is null while nobody holds it. */
export interface PartitionChange {
  readonly id: number;
  readonly oldPrimary: string | null;
  readonly newPrimary: string | null;
  readonly replicas: readonly string[];
  /** The fencing token: the quorum-granted epoch newPrimary holds; send it with every write. */
  readonly token: number;
}

/** The partitions that changed in one view change, all in one line. */
export interface WatchPartitionsEvent {
  type: 'partitions';
  viewVersion: number;
  quorum: 'ok' | 'no-quorum';
  changed: readonly PartitionChange[];
}

/** The reader fell behind and lost lines; a fresh snapshot follows. */
export interface WatchResync {
  type: 'resync';
  reason: string;
}

/** Lines of the watch stream (NDJSON), told apart by `type`. */
export type WatchLine = WatchSnapshot | WatchMemberEvent | WatchPartitionsEvent | WatchResync;

type PartitionsLine = Extract<WatchLine, { type: 'partitions' }>;

/**
 * The partitions line as NDJSON text, the same bytes as JSON.stringify of the
 * line plus a newline, written out directly: the line for one death can carry
 * thousands of entries, and each member name is quoted once, not once per entry.
 */
export function partitionsLineText(line: PartitionsLine): string {
  const quoted = new Map<string, string>();
  const q = (name: string | null): string => {
    if (name === null) return 'null';
    let text = quoted.get(name);
    if (text === undefined) quoted.set(name, (text = JSON.stringify(name)));
    return text;
  };
  // String(n) is JSON's form of every finite number; JSON writes the others as null.
  const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');
  const entries = new Array<string>(line.changed.length);
  for (let i = 0; i < line.changed.length; i++) {
    const c = line.changed[i]!;
    let replicas = '';
    for (let j = 0; j < c.replicas.length; j++) replicas += (j > 0 ? ',' : '') + q(c.replicas[j]!);
    entries[i] = `{"id":${num(c.id)},"oldPrimary":${q(c.oldPrimary)},"newPrimary":${q(c.newPrimary)},"replicas":[${replicas}],"token":${num(c.token)}}`;
  }
  return `{"type":"partitions","viewVersion":${num(line.viewVersion)},"quorum":${JSON.stringify(line.quorum)},"changed":[${entries.join(',')}]}\n`;
}


/**
 * Writes the partitions line of a leadership diff as NDJSON bytes straight from
 * its typed arrays and the published table: no object or string per partition.
 * The bytes are those of JSON.stringify of the line (as partitionsLineText makes
 * it from objects) plus a newline. Member names are quoted and UTF-8 encoded once
 * per slot, then copied; the scratch buffer grows to the largest line and is reused.
 */
export class PartitionsLineWriter {
  private buf = Buffer.allocUnsafe(1 << 16);
  private at = 0;
  private names: readonly string[] | null = null;
  /** JSON text of the name in each slot, as UTF-8 (a slot keeps its name for good). */
  private quoted: (Buffer | undefined)[] = [];

  /** The line for `diff` (its own Buffer: it may sit in a watcher's queue while the next one is written). */
  write(diff: LeadershipDiff): Buffer {
    const t = diff.table;
    if (this.names !== t.names) {
      this.names = t.names;
      this.quoted = [];
    }
    const S = t.stride;
    this.at = 0;
    this.ascii('{"type":"partitions","viewVersion":');
    this.num(diff.viewVersion);
    this.ascii(diff.quorum === 'ok' ? ',"quorum":"ok","changed":[' : ',"quorum":"no-quorum","changed":[');
    for (let j = 0; j < diff.count; j++) {
      const p = diff.ids[j]!;
      const row = t.rows[p >>> CHUNK_BITS]!;
      const base = (p & CHUNK_MASK) * S;
      // The longest fixed text of an entry, plus its numbers; names are reserved as they are copied.
      this.reserve(128);
      this.ascii(j === 0 ? '{"id":' : ',{"id":');
      this.num(p);
      this.ascii(',"oldPrimary":');
      this.name(diff.oldPrimarySlots[j]!);
      this.ascii(',"newPrimary":');
      this.name(row[base]!);
      this.ascii(',"replicas":[');
      for (let k = 1; k < S; k++) {
        const r = row[base + k]!;
        if (r < 0) break;
        if (k > 1) this.buf[this.at++] = 0x2c;
        this.name(r);
      }
      this.ascii('],"token":');
      this.num(t.tokens[p >>> CHUNK_BITS]![p & CHUNK_MASK]!);
      this.buf[this.at++] = 0x7d;
    }
    this.reserve(4);
    this.ascii(']}\n');
    return Buffer.from(this.buf.subarray(0, this.at));
  }

  private reserve(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + bytes));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }

  /** Text known to be ASCII and short (the fixed parts). */
  private ascii(text: string): void {
    this.reserve(text.length);
    const b = this.buf;
    let at = this.at;
    for (let i = 0; i < text.length; i++) b[at++] = text.charCodeAt(i);
    this.at = at;
  }

  private name(slot: number): void {
    if (slot < 0) {
      this.ascii('null');
      return;
    }
    let q = this.quoted[slot];
    if (q === undefined) this.quoted[slot] = q = Buffer.from(JSON.stringify(this.names![slot]!), 'utf8');
    this.reserve(q.length);
    const b = this.buf;
    let at = this.at;
    if (q.length <= 32) for (let i = 0; i < q.length; i++) b[at++] = q[i]!;
    else {
      q.copy(b, at);
      at += q.length;
    }
    this.at = at;
  }

  /** A number as JSON writes it: digits for a non-negative safe integer, else JSON.stringify's text. */
  private num(n: number): void {
    if (!(Number.isSafeInteger(n) && n >= 0)) {
      this.ascii(JSON.stringify(n));
      return;
    }
    this.reserve(16);
    const b = this.buf;
    if (n < 10) {
      b[this.at++] = 0x30 + n;
      return;
    }
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    let at = this.at + digits;
    this.at = at;
    for (let x = n; digits > 0; digits--) {
      const d = x % 10;
      b[--at] = 0x30 + d;
      x = (x - d) / 10;
    }
  }
}
