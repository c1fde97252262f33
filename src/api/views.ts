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
  /** The same changes as typed arrays, when the line came in the compact format (`changed` is then made on first read). */
  readonly columns?: PartitionColumns;
}

/**
 * The changes of a compact partitions line as columns: entry j is partition
 * ids[j]; its primaries and replicas are indices into `members` (−1 for none).
 */
export interface PartitionColumns {
  readonly count: number;
  /** Member names of this line, indexed by the columns below. */
  readonly members: readonly string[];
  readonly ids: Int32Array;
  readonly oldPrimary: Int32Array;
  readonly newPrimary: Int32Array;
  /** Replica slots per entry: entry j's replicas are replicas[j·replicaSlots …], in order, up to the first −1. */
  readonly replicaSlots: number;
  readonly replicas: Int32Array;
  readonly tokens: Float64Array;
}

/** Formats of the watch stream: `full` lists every changed partition as an object; `compact` packs them (README.md). */
export const WATCH_FORMATS = ['full', 'compact'] as const;
export type WatchFormat = (typeof WATCH_FORMATS)[number];

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


const encodeAscii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
/** Plain Uint8Arrays (not Buffers) for every piece, so the copy loop sees one kind of array. */
const utf8 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'utf8'));
const ENTRY_FIRST = encodeAscii('{"id":');
const ENTRY_NEXT = encodeAscii(',{"id":');
const OLD_NULL = encodeAscii(',"oldPrimary":null');
const NEW_NULL = encodeAscii(',"newPrimary":null,"replicas":[');
const TOKEN = encodeAscii('],"token":');
/** Bytes of an entry besides its names: the fixed text and two numbers of at most 24 characters each. */
const ENTRY_FIXED_MAX = 7 + 14 + 14 + 13 + 10 + 1 + 2 * 24 + 8;

/** A slot's name as the pieces of an entry it can fill, each UTF-8 JSON text. */
interface NameFragments {
  oldPrimary: Uint8Array;
  newPrimary: Uint8Array;
  firstReplica: Uint8Array;
  nextReplica: Uint8Array;
}

/**
 * Writes the partitions line of a leadership diff as NDJSON bytes straight from
 * its typed arrays and the published table: no object or string per partition.
 * The bytes are those of JSON.stringify of the line (as partitionsLineText makes
 * it from objects) plus a newline. Each slot's name is quoted and encoded once,
 * with the key text around it, so an entry is a few byte copies and two numbers;
 * the scratch buffer grows to the largest line and is reused.
 */
export class PartitionsLineWriter {
  private buf = new Uint8Array(1 << 16);
  private names: readonly string[] | null = null;
  /** By slot (a slot keeps its name for good). */
  private fragments: NameFragments[] = [];
  private longestQuoted = 4;

  /** The line for `diff` (its own Buffer: it may sit in a watcher's queue while the next one is written). */
  write(diff: LeadershipDiff): Buffer {
    const t = diff.table;
    if (this.names !== t.names) {
      this.names = t.names;
      this.fragments = [];
      this.longestQuoted = 4;
    }
    // Every slot's fragments made before the loop, so the loop only copies.
    const frags = this.fragments;
    for (let slot = frags.length; slot < t.names.length; slot++) {
      const q = JSON.stringify(t.names[slot]!);
      frags.push({ oldPrimary: utf8(`,"oldPrimary":${q}`), newPrimary: utf8(`,"newPrimary":${q},"replicas":[`), firstReplica: utf8(q), nextReplica: utf8(`,${q}`) });
      this.longestQuoted = Math.max(this.longestQuoted, Buffer.byteLength(q));
    }
    const S = t.stride;
    const entryMax = ENTRY_FIXED_MAX + (S + 1) * (this.longestQuoted + 1);
    let b = this.grown(0, 256);
    let at = writeAscii(b, 0, `{"type":"partitions","viewVersion":${JSON.stringify(diff.viewVersion)},"quorum":${JSON.stringify(diff.quorum)},"changed":[`);
    const ids = diff.ids;
    const olds = diff.oldPrimarySlots;
    for (let j = 0; j < diff.count; j++) {
      if (at + entryMax > b.length) b = this.grown(at, entryMax);
      const p = ids[j]!;
      const row = t.rows[p >>> CHUNK_BITS]!;
      const base = (p & CHUNK_MASK) * S;
      at = copy(b, at, j === 0 ? ENTRY_FIRST : ENTRY_NEXT);
      at = writeNumber(b, at, p);
      const old = olds[j]!;
      at = copy(b, at, old < 0 ? OLD_NULL : frags[old]!.oldPrimary);
      const primary = row[base]!;
      at = copy(b, at, primary < 0 ? NEW_NULL : frags[primary]!.newPrimary);
      for (let k = 1; k < S; k++) {
        const r = row[base + k]!;
        if (r < 0) break;
        at = copy(b, at, k === 1 ? frags[r]!.firstReplica : frags[r]!.nextReplica);
      }
      at = copy(b, at, TOKEN);
      at = writeNumber(b, at, t.tokens[p >>> CHUNK_BITS]![p & CHUNK_MASK]!);
      b[at++] = 0x7d;
    }
    if (at + 3 > b.length) b = this.grown(at, 3);
    b[at++] = 0x5d;
    b[at++] = 0x7d;
    b[at++] = 0x0a;
    const out = Buffer.allocUnsafeSlow(at);
    out.set(b.subarray(0, at));
    return out;
  }

  /** The scratch buffer with room for `more` bytes after the first `used`. */
  private grown(used: number, more: number): Uint8Array {
    if (used + more <= this.buf.length) return this.buf;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, used + more));
    bigger.set(this.buf.subarray(0, used));
    return (this.buf = bigger);
  }
}

function copy(b: Uint8Array, at: number, bytes: Uint8Array): number {
  if (bytes.length > 48) {
    b.set(bytes, at);
    return at + bytes.length;
  }
  for (let i = 0; i < bytes.length; i++) b[at++] = bytes[i]!;
  return at;
}

function writeAscii(b: Uint8Array, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) b[at++] = text.charCodeAt(i);
  return at;
}

/** A number as JSON writes it: digits for a non-negative safe integer, else JSON.stringify's text (at most 24 characters). */
function writeNumber(b: Uint8Array, at: number, n: number): number {
  if (!(n >= 0 && Number.isSafeInteger(n))) return writeAscii(b, at, JSON.stringify(n));
  if (n < 10) {
    b[at] = 0x30 + n;
    return at + 1;
  }
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  const end = at + digits;
  let x = n;
  for (let i = end - 1; i >= at; i--) {
    const d = x % 10;
    b[i] = 0x30 + d;
    x = (x - d) / 10;
  }
  return end;
}
