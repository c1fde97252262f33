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

export const CHUNK_BITS = 5;
export const CHUNK = 1 << CHUNK_BITS;
export const CHUNK_MASK = CHUNK - 1;

export function checkIndex(i: number, length: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= length) throw new RangeError(`partition ${i} is outside 0..${length - 1}`);
}

/** Chunk copies an update makes one by one before it takes them from a slab. */
const SLAB_AFTER = 4;
/** Chunks per slab at most: bounds what one still-shared chunk can keep alive. */
const SLAB_CHUNKS = 32;

/**
 * Makes the private chunk copies of one update. A typed-array copy costs a
 * backing-store allocation (about a microsecond); an update that touches many
 * chunks (a death at small N touches all of them) takes them, after the first
 * few, as views into one slab per SLAB_CHUNKS chunks. A slab lives while any of
 * its chunks is still in some table: at worst SLAB_CHUNKS times a chunk's size
 * per live chunk; in practice a few slabs, as later updates replace chunks.
 */
export class ChunkCopier<T extends Int32Array | Float64Array> {
  private copies = 0;
  private slab: T | null = null;
  private slabUsed = 0;

  constructor(
    private readonly make: (length: number) => T,
    private readonly chunkLength: number,
    private readonly totalChunks: number,
  ) {}

  /** Starts an update: the slab of the last one is left to the chunks cut from it. */
  begin(): void {
    this.copies = 0;
    this.slab = null;
    this.slabUsed = 0;
  }

  copy(source: T): T {
    this.copies++;
    if (this.copies <= SLAB_AFTER) return source.slice() as T;
    const L = this.chunkLength;
    if (this.slab === null || this.slabUsed === this.slab.length) {
      const chunks = Math.max(1, Math.min(SLAB_CHUNKS, this.totalChunks - this.copies + 1));
      this.slab = this.make(chunks * L);
      this.slabUsed = 0;
    }
    const out = this.slab.subarray(this.slabUsed, this.slabUsed + L) as T;
    this.slabUsed += L;
    out.set(source);
    return out;
  }
}

/** An empty id list, shared by every diff that changed nothing. */
export const NO_IDS = new Int32Array(0);

/** One changed partition as an object: what typed diffs hand a reader that asks for `changed`. */
export interface ChangedEntry {
  id: number;
  oldPrimary: string | null;
  newPrimary: string | null;
  replicas: readonly string[];
  token: number;
}

/**
 * The objects a typed diff stands for: partition `ids[j]` read from the table the diff produced,
 * its old primary the member slot `oldPrimarySlots[j]` (−1: none) among `names`.
 */
export function changedEntries<E extends { id: number; primary: string | null; replicas: readonly string[] }>(
  ids: Int32Array,
  oldPrimarySlots: Int32Array,
  names: readonly string[],
  entry: (id: number) => E,
  token: (e: E) => number,
): ChangedEntry[] {
  const out: ChangedEntry[] = [];
  for (let j = 0; j < ids.length; j++) {
    const e = entry(ids[j]!);
    const old = oldPrimarySlots[j]!;
    out.push({ id: e.id, oldPrimary: old < 0 ? null : names[old]!, newPrimary: e.primary, replicas: e.replicas, token: token(e) });
  }
  return out;
}
