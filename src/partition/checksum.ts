// A checksum of the partition table a daemon publishes, so members can tell
// whether they compute the same owners: per partition a 64-bit hash of its id,
// its shown primary, its replicas in order and its token, and the table's
// checksum the XOR of those. A change to k partitions costs k entry hashes
// (out with the old, in with the new), never a pass over P.
//
// Member names are hashed once (SHA-256, first 8 bytes) and then only mixed,
// so an entry hash is a handful of integer multiplications.
import { createHash } from 'node:crypto';
import type { OwnedPartition } from './leadership.js';
import type { ReadonlyTable } from './table.js';

/** Stands in for "no primary" so an empty slot hashes unlike any name. */
const NONE_HI = 0x6a09e667;
const NONE_LO = 0xbb67ae85;
const TWO_32 = 4294967296;

function mixA(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x85ebca6b);
  h ^= h >>> 16;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 13)) >>> 0;
}

function mixB(h: number, v: number): number {
  h = Math.imul(h ^ v, 0xcc9e2d51);
  h ^= h >>> 15;
  h = Math.imul(h, 0x1b873593);
  return (h ^ (h >>> 16)) >>> 0;
}

function nameHash(name: string): [number, number] {
  const d = createHash('sha256').update(name, 'utf8').digest();
  return [d.readUInt32BE(0), d.readUInt32BE(4)];
}

/**
 * Hashes one entry through the two lanes. `holder(k)` gives the name hash of
 * the k-th holder (0 the primary, then replicas), or null past the last one.
 */
function entryHash(p: number, token: number, holder: (k: number) => [number, number] | null, out: Uint32Array): void {
  let a = mixA(0x243f6a88, p);
  let b = mixB(0x13198a2e, p);
  let k = 0;
  for (let h = holder(0); h !== null; h = holder(++k)) {
    a = mixA(mixA(a, h[0]), h[1]);
    b = mixB(mixB(b, h[1]), h[0]);
  }
  // The holder count ends the list, so [x] and [x, none…] differ.
  a = mixA(a, k);
  b = mixB(b, k);
  const tokenLo = token % TWO_32 >>> 0;
  const tokenHi = Math.floor(token / TWO_32) >>> 0;
  a = mixA(mixA(a, tokenLo), tokenHi);
  b = mixB(mixB(b, tokenHi), tokenLo);
  out[0] = a;
  out[1] = b;
}

const hex8 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');

/** The checksum of a whole table, entry by entry: the oracle the incremental value is tested against. */
export function checksumOf(table: ReadonlyTable<OwnedPartition>): string {
  let hi = 0;
  let lo = 0;
  const out = new Uint32Array(2);
  const none: [number, number] = [NONE_HI, NONE_LO];
  for (const e of table) {
    entryHash(e.id, e.token, (k) => (k === 0 ? (e.primary === null ? none : nameHash(e.primary)) : k <= e.replicas.length ? nameHash(e.replicas[k - 1]!) : null), out);
    hi ^= out[0]!;
    lo ^= out[1]!;
  }
  return hex8(hi) + hex8(lo);
}

/**
 * The checksum kept as the table changes. Rows are engine member slots
 * ([primary, replica…], −1 for none, replicas ending at the first −1); slot
 * names only ever get appended, so a slot's name hash is computed once.
 */
export class TableChecksum {
  private readonly entryHi: Uint32Array;
  private readonly entryLo: Uint32Array;
  private hi = 0;
  private lo = 0;
  private slotHi: number[] = [];
  private slotLo: number[] = [];
  private readonly scratch = new Uint32Array(2);
  private readonly pair: [number, number] = [0, 0];

  /** Starts from P empty entries (no primary, no replicas, token 0), as leadership's table does. */
  constructor(partitions: number) {
    this.entryHi = new Uint32Array(partitions);
    this.entryLo = new Uint32Array(partitions);
    const none: [number, number] = [NONE_HI, NONE_LO];
    for (let p = 0; p < partitions; p++) {
      entryHash(p, 0, (k) => (k === 0 ? none : null), this.scratch);
      this.entryHi[p] = this.scratch[0]!;
      this.entryLo[p] = this.scratch[1]!;
      this.hi ^= this.scratch[0]!;
      this.lo ^= this.scratch[1]!;
    }
  }

  /** Entry p is now `row[at .. at+stride)` with `token`. */
  set(p: number, row: ArrayLike<number>, at: number, stride: number, token: number, names: readonly string[]): void {
    const pair = this.pair;
    const holder = (k: number): [number, number] | null => {
      if (k >= stride) return null;
      const slot = row[at + k]!;
      if (slot < 0) {
        if (k > 0) return null;
        pair[0] = NONE_HI;
        pair[1] = NONE_LO;
        return pair;
      }
      if (slot >= this.slotHi.length || this.slotHi[slot] === undefined) this.hashSlot(slot, names);
      pair[0] = this.slotHi[slot]!;
      pair[1] = this.slotLo[slot]!;
      return pair;
    };
    entryHash(p, token, holder, this.scratch);
    this.hi = (this.hi ^ this.entryHi[p]! ^ this.scratch[0]!) >>> 0;
    this.lo = (this.lo ^ this.entryLo[p]! ^ this.scratch[1]!) >>> 0;
    this.entryHi[p] = this.scratch[0]!;
    this.entryLo[p] = this.scratch[1]!;
  }

  /** 16 hex digits. */
  value(): string {
    return hex8(this.hi) + hex8(this.lo);
  }

  private hashSlot(slot: number, names: readonly string[]): void {
    const [h, l] = nameHash(names[slot]!);
    this.slotHi[slot] = h;
    this.slotLo[slot] = l;
  }
}
