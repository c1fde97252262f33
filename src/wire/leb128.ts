// Unsigned LEB128 varints of integers from 0 to 2^53, written into a buffer the caller sized.
// Shared by the ownership messages and the compact watch line; their readers keep their own
// bounded decoders.

/** Bytes `v` takes as an unsigned LEB128 varint. */
export function leb128Bytes(v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not an unsigned safe integer: ${v}`);
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

/** Writes `v` at `at` and returns the position after it; `out` must have room (leb128Bytes). */
export function writeLeb128(out: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    out[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[at++] = v;
  return at;
}
