// Per-partition tables that readers share without a copy per change.
//
// The engine's placement and leadership's published table are cut into chunks
// of CHUNK partitions (typed arrays of member slots and tokens) behind a chunk
// index. An update copies the index and only the chunks it touches; every other
// chunk is shared with the previous table, which stays valid and unchanged for
// whoever holds it. A change to k partitions costs O(k · CHUNK + P / CHUNK), not O(P).

/** What readers of a snapshot's partitions see: indexed, sized and iterable, never mutable. */
export interface ReadonlyTable<T> extends Iterable<T> {
  readonly length: number;
  /** Entry `i`; a RangeError outside 0..length−1. */
  get(i: number): T;
}

export const CHUNK_BITS = 6;
export const CHUNK = 1 << CHUNK_BITS;
export const CHUNK_MASK = CHUNK - 1;

export function checkIndex(i: number, length: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= length) throw new RangeError(`partition ${i} is outside 0..${length - 1}`);
}
