// Per-partition tables that readers share without a copy per change.
//
// A table is cut into chunks of CHUNK entries behind a chunk index. An update
// copies the index and only the chunks it touches; every other chunk is shared
// with the previous table, which stays valid and unchanged for whoever holds it.
// A change to k partitions costs O(k · CHUNK + P / CHUNK), not O(P).

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

/** An immutable array of objects in shared chunks. */
export class ChunkedArray<T> implements ReadonlyTable<T> {
  private constructor(
    private readonly chunks: readonly (readonly T[])[],
    readonly length: number,
  ) {}

  static from<T>(length: number, make: (i: number) => T): ChunkedArray<T> {
    const chunks: T[][] = [];
    for (let c = 0; c * CHUNK < length; c++) {
      const chunk: T[] = [];
      for (let i = c * CHUNK; i < Math.min(length, (c + 1) * CHUNK); i++) chunk.push(make(i));
      chunks.push(chunk);
    }
    return new ChunkedArray(chunks, length);
  }

  get(i: number): T {
    checkIndex(i, this.length);
    return this.chunks[i >>> CHUNK_BITS]![i & CHUNK_MASK]!;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (const chunk of this.chunks) yield* chunk;
  }

  /** JSON.stringify of a snapshot shows the entries, not the chunks. */
  toJSON(): T[] {
    return [...this];
  }

  /** Starts a batch of updates; the result of `done()` shares every untouched chunk with this table. */
  edit(): ChunkedArrayEditor<T> {
    return new ChunkedArrayEditor(this.chunks, this.length, (chunks) => new ChunkedArray(chunks, this.length));
  }
}

export class ChunkedArrayEditor<T> {
  private index: T[][] | null = null;
  /** Chunks already copied in this batch, so a chunk is copied once however many of its entries change. */
  private readonly copied: Uint8Array;

  constructor(
    private readonly base: readonly (readonly T[])[],
    private readonly length: number,
    private readonly build: (chunks: readonly (readonly T[])[]) => ChunkedArray<T>,
  ) {
    this.copied = new Uint8Array(base.length);
  }

  get(i: number): T {
    return (this.index ?? this.base)[i >>> CHUNK_BITS]![i & CHUNK_MASK]!;
  }

  set(i: number, value: T): void {
    checkIndex(i, this.length);
    const c = i >>> CHUNK_BITS;
    if (this.index === null) this.index = this.base.slice() as T[][];
    if (this.copied[c] === 0) {
      this.index[c] = this.base[c]!.slice();
      this.copied[c] = 1;
    }
    this.index[c]![i & CHUNK_MASK] = value;
  }

  changed(): boolean {
    return this.index !== null;
  }

  done(): ChunkedArray<T> {
    return this.build(this.index ?? this.base);
  }
}
