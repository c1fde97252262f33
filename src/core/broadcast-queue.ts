// The transmit-limited broadcast queue: updates waiting to be piggybacked.
// Order: fewest transmits first, then larger messages, then newer ones; a new
// update about a member replaces the queued one about the same member; an entry
// retires after the retransmit limit. Bounded: when full, the entry that has
// been sent most (oldest among equals) is dropped and counted.
//
// Entries live in one bucket per transmit count, each kept in (larger, newer)
// order, so taking a packet's worth walks the front of the lowest buckets
// instead of sorting the whole queue: with a thousand members joining, every
// queue holds about a thousand updates and is read for every packet sent.

export interface QueuedBroadcast {
  /** Member the update is about (invalidates older updates about it); null for anonymous. */
  readonly key: string | null;
  readonly message: Uint8Array;
  /** Called once when the broadcast retires or is replaced/dropped. */
  readonly onDone?: () => void;
}

interface Entry {
  readonly b: QueuedBroadcast;
  transmits: number;
  readonly id: number;
}

/** Within a bucket: larger messages first, then newer (higher id) first. Ids are unique, so the order is total. */
function before(a: Entry, b: Entry): boolean {
  const la = a.b.message.length;
  const lb = b.b.message.length;
  return la > lb || (la === lb && a.id > b.id);
}

export class BroadcastQueue {
  /** buckets[t]: entries sent t times, in `before` order. */
  private readonly buckets: Entry[][] = [];
  private count = 0;
  private readonly byKey = new Map<string, Entry>();
  private nextId = 0;
  dropped = 0;

  constructor(private maxEntries: number) {}

  size(): number {
    return this.count;
  }

  queue(b: QueuedBroadcast): void {
    if (b.key !== null) {
      const old = this.byKey.get(b.key);
      if (old) {
        this.remove(old);
        old.b.onDone?.();
      }
    }
    const e: Entry = { b, transmits: 0, id: this.nextId++ };
    this.insert(e);
    if (b.key !== null) this.byKey.set(b.key, e);
    while (this.count > this.maxEntries) {
      const worst = this.mostSentOldest();
      this.remove(worst);
      worst.b.onDone?.();
      this.dropped++;
    }
  }

  /**
   * Takes the broadcasts that fit in `limitBytes` (each costs its size plus
   * `overheadBytes`), at most `maxCount` of them, counts a transmit on each,
   * and retires those that reach `transmitLimit`. Everything returned must be
   * sent: it is already counted.
   */
  take(overheadBytes: number, limitBytes: number, transmitLimit: number, maxCount = Infinity): Uint8Array[] {
    if (this.count === 0 || maxCount <= 0) return [];
    const out: Uint8Array[] = [];
    const taken: Entry[] = [];
    let used = 0;
    // Within a bucket lengths only fall, so the next entry that fits is the
    // first one at or after `i` no longer than what is left: a binary search,
    // not a walk past every entry that is too long (with a packet nearly full
    // and a thousand updates queued, that walk ran for every packet sent).
    scan: for (const bucket of this.buckets) {
      if (bucket === undefined) continue;
      let i = 0;
      for (;;) {
        i = this.firstNoLongerThan(bucket, i, limitBytes - used - overheadBytes);
        if (i >= bucket.length) break;
        const e = bucket[i++]!;
        used += overheadBytes + e.b.message.length;
        out.push(e.b.message);
        taken.push(e);
        if (limitBytes - used <= overheadBytes || out.length >= maxCount) break scan;
      }
    }
    const retired: Entry[] = [];
    for (const e of taken) {
      this.unlink(e);
      e.transmits++;
      if (e.transmits >= transmitLimit) {
        this.forgetKey(e);
        retired.push(e);
      } else this.insert(e);
    }
    for (const e of retired) e.b.onDone?.();
    return out;
  }

  private insert(e: Entry): void {
    const bucket = (this.buckets[e.transmits] ??= []);
    bucket.splice(this.positionIn(bucket, e), 0, e);
    this.count++;
  }

  private remove(e: Entry): void {
    this.unlink(e);
    this.forgetKey(e);
  }

  /** Takes `e` out of its bucket; its key still points at it (it may be re-inserted). */
  private unlink(e: Entry): void {
    const bucket = this.buckets[e.transmits];
    if (bucket === undefined) return;
    const i = this.positionIn(bucket, e);
    if (bucket[i] === e) {
      bucket.splice(i, 1);
      this.count--;
    }
  }

  private forgetKey(e: Entry): void {
    if (e.b.key !== null && this.byKey.get(e.b.key) === e) this.byKey.delete(e.b.key);
  }

  /** First index ≥ `from` whose message is at most `maxBytes` long (bucket.length when none is). */
  private firstNoLongerThan(bucket: Entry[], from: number, maxBytes: number): number {
    let lo = from;
    let hi = bucket.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (bucket[mid]!.b.message.length > maxBytes) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index in `bucket` whose entry does not sort before `e` (where `e` is, or belongs). */
  private positionIn(bucket: Entry[], e: Entry): number {
    let lo = 0;
    let hi = bucket.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(bucket[mid]!, e)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private mostSentOldest(): Entry {
    for (let t = this.buckets.length - 1; t >= 0; t--) {
      const bucket = this.buckets[t];
      if (bucket === undefined || bucket.length === 0) continue;
      let oldest = bucket[0]!;
      for (const x of bucket) if (x.id < oldest.id) oldest = x;
      return oldest;
    }
    throw new Error('mostSentOldest on an empty queue');
  }
}
