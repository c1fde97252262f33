// The transmit-limited broadcast queue: updates waiting to be piggybacked.
// Order: fewest transmits first, then larger messages, then newer ones; a new
// update about a member replaces the queued one about the same member; an entry
// retires after the retransmit limit. Bounded: when full, the entry that has
// been sent most (oldest among equals) is dropped and counted.

export interface QueuedBroadcast {
  /** Member the update is about (invalidates older updates about it); null for anonymous. */
  readonly key: string | null;
  readonly message: Uint8Array;
  /** Called once when the broadcast retires or is replaced/dropped. */
  readonly onDone?: () => void;
}

interface Entry {
  b: QueuedBroadcast;
  transmits: number;
  id: number;
}

export class BroadcastQueue {
  private entries: Entry[] = [];
  private byKey = new Map<string, Entry>();
  private nextId = 0;
  dropped = 0;

  constructor(private maxEntries: number) {}

  size(): number {
    return this.entries.length;
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
    this.entries.push(e);
    if (b.key !== null) this.byKey.set(b.key, e);
    while (this.entries.length > this.maxEntries) {
      let worst = this.entries[0]!;
      for (const x of this.entries) if (x.transmits > worst.transmits || (x.transmits === worst.transmits && x.id < worst.id)) worst = x;
      this.remove(worst);
      worst.b.onDone?.();
      this.dropped++;
    }
  }

  /**
   * Takes the broadcasts that fit in `limitBytes` (each costs its size plus
   * `overheadBytes`), counts a transmit on each, and retires those that reach
   * `transmitLimit`.
   */
  take(overheadBytes: number, limitBytes: number, transmitLimit: number): Uint8Array[] {
    if (this.entries.length === 0) return [];
    this.entries.sort((a, b) => a.transmits - b.transmits || b.b.message.length - a.b.message.length || b.id - a.id);
    const out: Uint8Array[] = [];
    let used = 0;
    const retired: Entry[] = [];
    for (const e of this.entries) {
      const cost = overheadBytes + e.b.message.length;
      if (used + cost > limitBytes) continue;
      used += cost;
      out.push(e.b.message);
      e.transmits++;
      if (e.transmits >= transmitLimit) retired.push(e);
      if (limitBytes - used <= overheadBytes) break;
    }
    for (const e of retired) {
      this.remove(e);
      e.b.onDone?.();
    }
    return out;
  }

  setMax(maxEntries: number): void {
    this.maxEntries = maxEntries;
  }

  private remove(e: Entry): void {
    const i = this.entries.indexOf(e);
    if (i >= 0) this.entries.splice(i, 1);
    if (e.b.key !== null && this.byKey.get(e.b.key) === e) this.byKey.delete(e.b.key);
  }
}
