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

// The mixes return int32 (the bits a uint32 would have; every use is a bit operation or a
// Uint32Array store): a uint32 above 2^31 is not a small integer, and is boxed when it is returned.
function mixA(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x85ebca6b);
  h ^= h >>> 16;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 13);
}

function mixB(h: number, v: number): number {
  h = Math.imul(h ^ v, 0xcc9e2d51);
  h ^= h >>> 15;
  h = Math.imul(h, 0x1b873593);
  return h ^ (h >>> 16);
}

function nameHash(name: string): [number, number] {
  const d = createHash('sha256').update(name, 'utf8').digest();
  return [d.readUInt32BE(0), d.readUInt32BE(4)];
}

const SEED_A = 0x243f6a88;
const SEED_B = 0x13198a2e;

/**
 * The end of an entry's hash: the holder count (so [x] and [x, none…]
 * differ) and the token's two 32-bit words. Entries are absorbed holder by
 * holder in the two lanes: a = mixA(mixA(a, hi), lo), b = mixB(mixB(b, lo), hi).
 */
function finish(a: number, b: number, holders: number, token: number, out: Uint32Array): void {
  a = mixA(a, holders);
  b = mixB(b, holders);
  // Tokens are epochs, far below 2^32 in practice: skip the floating-point split then (the same words).
  const small = token >= 0 && token < TWO_32;
  const tokenLo = small ? token >>> 0 : token % TWO_32 >>> 0;
  const tokenHi = small ? 0 : Math.floor(token / TWO_32) >>> 0;
  out[0] = mixA(mixA(a, tokenLo), tokenHi);
  out[1] = mixB(mixB(b, tokenHi), tokenLo);
}

const hex8 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');

/** The checksum of a whole table, entry by entry from names: the oracle the incremental value is tested against. */
export function checksumOf(table: ReadonlyTable<OwnedPartition>): string {
  let hi = 0;
  let lo = 0;
  const out = new Uint32Array(2);
  const cache = new Map<string, [number, number]>();
  const hashOf = (name: string): [number, number] => {
    let h = cache.get(name);
    if (h === undefined) cache.set(name, (h = nameHash(name)));
    return h;
  };
  for (const e of table) {
    const [ph, pl] = e.primary === null ? [NONE_HI, NONE_LO] : hashOf(e.primary);
    let a = mixA(mixA(mixA(SEED_A, e.id), ph), pl);
    let b = mixB(mixB(mixB(SEED_B, e.id), pl), ph);
    for (const r of e.replicas) {
      const [rh, rl] = hashOf(r);
      a = mixA(mixA(a, rh), rl);
      b = mixB(mixB(b, rl), rh);
    }
    finish(a, b, 1 + e.replicas.length, e.token, out);
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
  /** The table's checksum words, [hi, lo]: in a typed array, as a field holding a uint32 above 2^31 boxes it on every store. */
  private readonly sum = new Uint32Array(2);
  /** Name hash by engine slot; slotKnown[s] === 1 once computed. */
  private slotHi = new Uint32Array(64);
  private slotLo = new Uint32Array(64);
  private slotKnown = new Uint8Array(64);
  private readonly scratch = new Uint32Array(2);

  /** Starts from P empty entries (no primary, no replicas, token 0), as leadership's table does. */
  constructor(partitions: number) {
    this.entryHi = new Uint32Array(partitions);
    this.entryLo = new Uint32Array(partitions);
    for (let p = 0; p < partitions; p++) {
      finish(mixA(mixA(mixA(SEED_A, p), NONE_HI), NONE_LO), mixB(mixB(mixB(SEED_B, p), NONE_LO), NONE_HI), 1, 0, this.scratch);
      this.entryHi[p] = this.scratch[0]!;
      this.entryLo[p] = this.scratch[1]!;
      this.sum[0] ^= this.scratch[0]!;
      this.sum[1] ^= this.scratch[1]!;
    }
  }

  /** Entry p is now `row[at .. at+stride)` with `token`. */
  set(p: number, row: ArrayLike<number>, at: number, stride: number, token: number, names: readonly string[]): void {
    let a = mixA(SEED_A, p);
    let b = mixB(SEED_B, p);
    let k = 0;
    for (; k < stride; k++) {
      const slot = row[at + k]!;
      let h: number;
      let l: number;
      if (slot < 0) {
        // Replicas end at the first empty slot; an empty primary is hashed as "none".
        if (k > 0) break;
        h = NONE_HI;
        l = NONE_LO;
      } else {
        if (slot >= this.slotKnown.length || this.slotKnown[slot] === 0) this.hashSlot(slot, names);
        h = this.slotHi[slot]!;
        l = this.slotLo[slot]!;
      }
      a = mixA(mixA(a, h), l);
      b = mixB(mixB(b, l), h);
    }
    finish(a, b, k, token, this.scratch);
    const nh = this.scratch[0]!;
    const nl = this.scratch[1]!;
    this.sum[0] = this.sum[0]! ^ this.entryHi[p]! ^ nh;
    this.sum[1] = this.sum[1]! ^ this.entryLo[p]! ^ nl;
    this.entryHi[p] = nh;
    this.entryLo[p] = nl;
  }

  /** 16 hex digits. */
  value(): string {
    return hex8(this.sum[0]!) + hex8(this.sum[1]!);
  }

  private hashSlot(slot: number, names: readonly string[]): void {
    if (slot >= this.slotKnown.length) {
      let n = this.slotKnown.length;
      while (n <= slot) n *= 2;
      const grow = <T extends Uint32Array | Uint8Array>(old: T, make: (n: number) => T): T => {
        const next = make(n);
        next.set(old);
        return next;
      };
      this.slotHi = grow(this.slotHi, (m) => new Uint32Array(m));
      this.slotLo = grow(this.slotLo, (m) => new Uint32Array(m));
      this.slotKnown = grow(this.slotKnown, (m) => new Uint8Array(m));
    }
    const [h, l] = nameHash(names[slot]!);
    this.slotHi[slot] = h;
    this.slotLo[slot] = l;
    this.slotKnown[slot] = 1;
  }
}
