// Wire format of the partition-ownership messages. They travel as memberlist
// user messages (type 8), sent only to members that advertise the ownership
// tag, so Serf agents never see one. Layout: [0xF5][version][kind] then the
// body; integers are unsigned LEB128 (epochs up to 2^53), strings are a length
// and UTF-8 bytes. Every decode is bounded and returns a typed failure.

import { SwimdPayloadMagic } from '../wire/messages.js';
import { leb128Bytes, writeLeb128 } from '../wire/leb128.js';

export const OWNERSHIP_MAGIC: number = SwimdPayloadMagic.Ownership;
export const OWNERSHIP_WIRE_VERSION = 1;

/** Append-only: a kind's number never changes meaning. */
export enum OwnershipKind {
  /** "Grant me these epochs": a member that computes itself primary asks for them. */
  Claim = 1,
  /** A granter's answer to one claim: granted or refused, per partition. */
  Vote = 2,
  /** "I now hold these epochs": sent by a claimant that reached the quorum. */
  Commit = 3,
  /** Anti-entropy: the committed owner and epoch this member knows, per partition. */
  Sync = 4,
  /** "You are the new rightful primary": the evidence (a death, a leave) sent straight to the successor. */
  Hint = 5,
  /** "I am here": sent to every eligible member each heartbeat interval (heartbeats.ts); not an OwnershipMsg. */
  Heartbeat = 6,
}

export interface EpochEntry {
  partition: number;
  epoch: number;
}

export interface ClaimMsg {
  kind: OwnershipKind.Claim;
  requestId: number;
  claimant: string;
  /** memberlist messages (alive/suspect/dead) stating the claimant's view of the previous owners. */
  evidence: Uint8Array[];
  entries: EpochEntry[];
}

export interface VoteEntry extends EpochEntry {
  granted: boolean;
  /** The highest epoch the granter had promised or seen for this partition. */
  promised: number;
  /**
   * A refusal only for the epoch: the claimant is the rightful primary in the granter's view, but
   * the epoch was promised or committed already. The claimant may ask again above `promised` at
   * once. On the wire the granted byte is 2 (0 refused, 1 granted); a decoder that knows only 0
   * and 1 drops such a vote as malformed, so it never counts as a grant.
   */
  claimantRightful?: boolean;
}

export interface VoteMsg {
  kind: OwnershipKind.Vote;
  requestId: number;
  granter: string;
  entries: VoteEntry[];
}

export interface CommitMsg {
  kind: OwnershipKind.Commit;
  owner: string;
  entries: EpochEntry[];
}

export interface SyncGroup {
  owner: string;
  entries: EpochEntry[];
}

export interface SyncMsg {
  kind: OwnershipKind.Sync;
  sender: string;
  groups: SyncGroup[];
}

export interface HintMsg {
  kind: OwnershipKind.Hint;
  sender: string;
  /** memberlist messages stating the change that made the receiver rightful. */
  evidence: Uint8Array[];
}

export type OwnershipMsg = ClaimMsg | VoteMsg | CommitMsg | SyncMsg | HintMsg;

export type OwnershipDecode = { ok: true; msg: OwnershipMsg } | { ok: false; reason: 'not-ownership' | 'bad-version' | 'malformed' | 'unknown-kind' | 'too-many-entries' };

export const OWNERSHIP_LIMITS = {
  maxNameBytes: 512,
  maxEvidence: 64,
  maxEvidenceBytes: 1024,
  maxEntries: 65_536,
} as const;

class Writer {
  private buf = new Uint8Array(256);
  private pos = 0;
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
  byte(b: number): this {
    this.ensure(1);
    this.buf[this.pos++] = b;
    return this;
  }
  uint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not an unsigned safe integer: ${v}`);
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.uint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  str(s: string): this {
    return this.bytes(Buffer.from(s, 'utf8'));
  }
  length(): number {
    return this.pos;
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

class Malformed extends Error {}

class Reader {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}
  byte(): number {
    if (this.pos >= this.buf.length) throw new Malformed('truncated');
    return this.buf[this.pos++]!;
  }
  uint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      v += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(v)) throw new Malformed('integer too large');
        return v;
      }
      scale *= 0x80;
    }
    throw new Malformed('integer too long');
  }
  bytes(max: number): Uint8Array {
    const n = this.uint();
    if (n > max || this.pos + n > this.buf.length) throw new Malformed('bytes out of bounds');
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  str(max: number): string {
    const b = this.bytes(max);
    const s = Buffer.from(b).toString('utf8');
    if (Buffer.byteLength(s) !== b.length) throw new Malformed('invalid utf-8');
    return s;
  }
  count(max: number): number {
    const n = this.uint();
    // Every counted item takes at least one byte, which bounds allocations by the packet size.
    if (n > max || n > this.buf.length - this.pos) throw new TooMany();
    return n;
  }
  done(): boolean {
    return this.pos === this.buf.length;
  }
}

class TooMany extends Error {}

function header(kind: OwnershipKind): Writer {
  return new Writer().byte(OWNERSHIP_MAGIC).byte(OWNERSHIP_WIRE_VERSION).byte(kind);
}

function writeEntries(w: Writer, entries: readonly EpochEntry[]): void {
  w.uint(entries.length);
  for (const e of entries) w.uint(e.partition).uint(e.epoch);
}

function readEntries(r: Reader): EpochEntry[] {
  const n = r.count(OWNERSHIP_LIMITS.maxEntries);
  const out: EpochEntry[] = [];
  for (let i = 0; i < n; i++) out.push({ partition: r.uint(), epoch: r.uint() });
  return out;
}

export function encodeOwnership(m: OwnershipMsg): Uint8Array {
  const w = header(m.kind);
  switch (m.kind) {
    case OwnershipKind.Claim:
      w.uint(m.requestId).str(m.claimant).uint(m.evidence.length);
      for (const e of m.evidence) w.bytes(e);
      writeEntries(w, m.entries);
      break;
    case OwnershipKind.Vote:
      w.uint(m.requestId).str(m.granter).uint(m.entries.length);
      for (const e of m.entries) w.uint(e.partition).uint(e.epoch).byte(e.granted ? 1 : e.claimantRightful === true ? 2 : 0).uint(e.promised);
      break;
    case OwnershipKind.Commit:
      w.str(m.owner);
      writeEntries(w, m.entries);
      break;
    case OwnershipKind.Hint:
      w.str(m.sender).uint(m.evidence.length);
      for (const e of m.evidence) w.bytes(e);
      break;
    case OwnershipKind.Sync:
      w.str(m.sender).uint(m.groups.length);
      for (const g of m.groups) {
        w.str(g.owner);
        writeEntries(w, g.entries);
      }
      break;
  }
  return w.finish();
}

export function isOwnershipPayload(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === OWNERSHIP_MAGIC;
}

export function decodeOwnership(b: Uint8Array): OwnershipDecode {
  if (!isOwnershipPayload(b)) return { ok: false, reason: 'not-ownership' };
  if (b[1] !== OWNERSHIP_WIRE_VERSION) return { ok: false, reason: 'bad-version' };
  const r = new Reader(b);
  r.pos = 3;
  const L = OWNERSHIP_LIMITS;
  try {
    let msg: OwnershipMsg;
    switch (b[2]) {
      case OwnershipKind.Claim: {
        const requestId = r.uint();
        const claimant = r.str(L.maxNameBytes);
        const ne = r.count(L.maxEvidence);
        const evidence: Uint8Array[] = [];
        for (let i = 0; i < ne; i++) evidence.push(r.bytes(L.maxEvidenceBytes));
        msg = { kind: OwnershipKind.Claim, requestId, claimant, evidence, entries: readEntries(r) };
        break;
      }
      case OwnershipKind.Vote: {
        const requestId = r.uint();
        const granter = r.str(L.maxNameBytes);
        const n = r.count(L.maxEntries);
        const entries: VoteEntry[] = [];
        for (let i = 0; i < n; i++) {
          const partition = r.uint();
          const epoch = r.uint();
          const g = r.byte();
          if (g > 2) throw new Malformed('granted flag');
          const entry: VoteEntry = { partition, epoch, granted: g === 1, promised: r.uint() };
          if (g === 2) entry.claimantRightful = true;
          entries.push(entry);
        }
        msg = { kind: OwnershipKind.Vote, requestId, granter, entries };
        break;
      }
      case OwnershipKind.Commit:
        msg = { kind: OwnershipKind.Commit, owner: r.str(L.maxNameBytes), entries: readEntries(r) };
        break;
      case OwnershipKind.Hint: {
        const sender = r.str(L.maxNameBytes);
        const ne = r.count(L.maxEvidence);
        const evidence: Uint8Array[] = [];
        for (let i = 0; i < ne; i++) evidence.push(r.bytes(L.maxEvidenceBytes));
        msg = { kind: OwnershipKind.Hint, sender, evidence };
        break;
      }
      case OwnershipKind.Sync: {
        const sender = r.str(L.maxNameBytes);
        const ng = r.count(L.maxEntries);
        const groups: SyncGroup[] = [];
        for (let i = 0; i < ng; i++) groups.push({ owner: r.str(L.maxNameBytes), entries: readEntries(r) });
        msg = { kind: OwnershipKind.Sync, sender, groups };
        break;
      }
      default:
        return { ok: false, reason: 'unknown-kind' };
    }
    if (!r.done()) return { ok: false, reason: 'malformed' };
    return { ok: true, msg };
  } catch (err) {
    if (err instanceof TooMany) return { ok: false, reason: 'too-many-entries' };
    if (err instanceof Malformed || err instanceof RangeError) return { ok: false, reason: 'malformed' };
    throw err;
  }
}

/**
 * Splits entries into messages no larger than `budgetBytes`: `build(slice)`
 * encodes one message; the slice is halved until it fits. Returns the encoded
 * messages (one at least, even for no entries).
 */
export function packEntries<E>(entries: readonly E[], budgetBytes: number, build: (slice: readonly E[]) => Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  let step = Math.max(1, entries.length);
  if (entries.length === 0) return [build([])];
  while (i < entries.length) {
    const n = Math.min(step, entries.length - i);
    const msg = build(entries.slice(i, i + n));
    if (msg.length <= budgetBytes || n === 1) {
      out.push(msg);
      i += n;
    } else {
      step = Math.max(1, Math.floor(n / 2));
    }
  }
  return out;
}

/**
 * A heartbeat: the header, the sender's name, its flags (bit 0: it hears fewer than a quorum) and
 * how late its own timers have run lately, in ms.
 */
export interface HeartbeatMsg {
  sender: string;
  hearsQuorum: boolean;
  lateMs: number;
}

export function encodeHeartbeat(m: HeartbeatMsg): Uint8Array {
  return header(OwnershipKind.Heartbeat).str(m.sender).uint(m.hearsQuorum ? 0 : 1).uint(Math.min(Math.max(0, Math.round(m.lateMs)), 0xffff_ffff)).finish();
}

export function isHeartbeatPayload(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === OWNERSHIP_MAGIC && b[2] === OwnershipKind.Heartbeat;
}

/** null when malformed or of another version; flag bits this version does not know are ignored. */
export function decodeHeartbeat(b: Uint8Array): HeartbeatMsg | null {
  if (!isHeartbeatPayload(b) || b[1] !== OWNERSHIP_WIRE_VERSION) return null;
  return readWhole(b, 3, (r) => {
    const sender = r.str(OWNERSHIP_LIMITS.maxNameBytes);
    const flags = r.uint();
    return { sender, hearsQuorum: (flags & 1) === 0, lateMs: r.uint() };
  });
}

/** Reads a small message from `pos` with `read`; null when it is malformed or leaves bytes over. */
function readWhole<T>(b: Uint8Array, pos: number, read: (r: Reader) => T): T | null {
  const r = new Reader(b);
  r.pos = pos;
  try {
    const v = read(r);
    return r.done() ? v : null;
  } catch (err) {
    if (err instanceof Malformed || err instanceof RangeError) return null;
    throw err;
  }
}

/**
 * "This member's process refused my probes at this incarnation": evidence a
 * claim or hint carries beside memberlist messages, so that a granter or a
 * successor bars the member from primary as the claimant does, without waiting
 * for its death. Layout: [0xF7][version][name][incarnation]. A member that
 * does not know the magic reads it as an undecodable evidence message and
 * skips it.
 */
export interface RefusedEvidence {
  name: string;
  incarnation: number;
}

export const REFUSED_MAGIC: number = SwimdPayloadMagic.Refused;

export function encodeRefusedEvidence(e: RefusedEvidence): Uint8Array {
  return new Writer().byte(REFUSED_MAGIC).byte(OWNERSHIP_WIRE_VERSION).str(e.name).uint(e.incarnation).finish();
}

export function isRefusedEvidence(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === REFUSED_MAGIC;
}

/** null when malformed or of another version. */
export function decodeRefusedEvidence(b: Uint8Array): RefusedEvidence | null {
  if (!isRefusedEvidence(b) || b[1] !== OWNERSHIP_WIRE_VERSION) return null;
  return readWhole(b, 2, (r) => ({ name: r.str(OWNERSHIP_LIMITS.maxNameBytes), incarnation: r.uint() }));
}

function putBytes(out: Uint8Array, at: number, b: Uint8Array): number {
  at = writeLeb128(out, at, b.length);
  out.set(b, at);
  return at + b.length;
}

/**
 * The split points packEntries would choose for `count` entries, from their sizes alone: a slice
 * is halved until its message fits `budgetBytes` (or is one entry), and later slices keep that
 * step. `sizeOf(from, n)` is the encoded size of the message of entries from..from+n−1; `write`
 * is called once per message, with that size.
 */
function packBySize(count: number, budgetBytes: number, sizeOf: (from: number, n: number) => number, write: (from: number, n: number, size: number) => Uint8Array): Uint8Array[] {
  if (count === 0) return [write(0, 0, sizeOf(0, 0))];
  const out: Uint8Array[] = [];
  let i = 0;
  let step = count;
  while (i < count) {
    const n = Math.min(step, count - i);
    const size = sizeOf(i, n);
    if (size <= budgetBytes || n === 1) {
      out.push(write(i, n, size));
      i += n;
    } else step = Math.max(1, Math.floor(n / 2));
  }
  return out;
}

/** [magic][version][kind]: the first three bytes of every message. */
function putHeader(out: Uint8Array, kind: OwnershipKind): number {
  out[0] = OWNERSHIP_MAGIC;
  out[1] = OWNERSHIP_WIRE_VERSION;
  out[2] = kind;
  return 3;
}

/**
 * Claims or commits straight from typed columns (partition i has epoch epochs[i]): the same
 * messages, byte for byte, as packEntries over encodeOwnership would give. Each message's size
 * is computed before it is written, so nothing is encoded twice and every buffer is exact.
 */
export function encodeEntriesPacked(
  head: { kind: OwnershipKind.Claim; requestId: number; claimant: string; evidence: readonly Uint8Array[] } | { kind: OwnershipKind.Commit; owner: string },
  partitions: ArrayLike<number>,
  epochs: ArrayLike<number>,
  budgetBytes: number,
): Uint8Array[] {
  const name = Buffer.from(head.kind === OwnershipKind.Claim ? head.claimant : head.owner, 'utf8');
  let fixed = 3 + leb128Bytes(name.length) + name.length;
  if (head.kind === OwnershipKind.Claim) {
    fixed += leb128Bytes(head.requestId) + leb128Bytes(head.evidence.length);
    for (const e of head.evidence) fixed += leb128Bytes(e.length) + e.length;
  }
  const count = partitions.length;
  // prefix[i]: bytes of entries 0..i-1, so any slice's size is known without encoding it.
  const prefix = new Float64Array(count + 1);
  for (let i = 0; i < count; i++) prefix[i + 1] = prefix[i]! + leb128Bytes(partitions[i]!) + leb128Bytes(epochs[i]!);
  return packBySize(
    count,
    budgetBytes,
    (from, n) => fixed + leb128Bytes(n) + prefix[from + n]! - prefix[from]!,
    (from, n, size) => {
      const out = new Uint8Array(size);
      let at = putHeader(out, head.kind);
      if (head.kind === OwnershipKind.Claim) {
        at = writeLeb128(out, at, head.requestId);
        at = putBytes(out, at, name);
        at = writeLeb128(out, at, head.evidence.length);
        for (const e of head.evidence) at = putBytes(out, at, e);
      } else at = putBytes(out, at, name);
      at = writeLeb128(out, at, n);
      for (let i = from; i < from + n; i++) {
        at = writeLeb128(out, at, partitions[i]!);
        at = writeLeb128(out, at, epochs[i]!);
      }
      return out;
    },
  );
}

/** A granter's answer to one claim, split as packEntries over encodeOwnership would split it, each message written once into an exact buffer. */
export function encodeVotesPacked(requestId: number, granter: string, entries: readonly VoteEntry[], budgetBytes: number): Uint8Array[] {
  const name = Buffer.from(granter, 'utf8');
  const fixed = 3 + leb128Bytes(requestId) + leb128Bytes(name.length) + name.length;
  const prefix = new Float64Array(entries.length + 1);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    prefix[i + 1] = prefix[i]! + leb128Bytes(e.partition) + leb128Bytes(e.epoch) + 1 + leb128Bytes(e.promised);
  }
  return packBySize(
    entries.length,
    budgetBytes,
    (from, n) => fixed + leb128Bytes(n) + prefix[from + n]! - prefix[from]!,
    (from, n, size) => {
      const out = new Uint8Array(size);
      let at = putHeader(out, OwnershipKind.Vote);
      at = writeLeb128(out, at, requestId);
      at = putBytes(out, at, name);
      at = writeLeb128(out, at, n);
      for (let i = from; i < from + n; i++) {
        const e = entries[i]!;
        at = writeLeb128(out, at, e.partition);
        at = writeLeb128(out, at, e.epoch);
        out[at++] = e.granted ? 1 : e.claimantRightful === true ? 2 : 0;
        at = writeLeb128(out, at, e.promised);
      }
      return out;
    },
  );
}
