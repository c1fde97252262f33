// A bounded FIFO on a fixed ring: push and shift are O(1) (Array.shift moves
// every element, which a full handoff queue would pay per message).
export class RingQueue<T> {
  private readonly slots: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.slots = new Array<T | undefined>(Math.max(0, capacity));
  }

  size(): number {
    return this.count;
  }

  /** Appends `item`; false (and nothing stored) when full. */
  push(item: T): boolean {
    if (this.count >= this.capacity) return false;
    this.slots[(this.head + this.count) % this.capacity] = item;
    this.count++;
    return true;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return item;
  }

  clear(): void {
    this.slots.fill(undefined);
    this.head = 0;
    this.count = 0;
  }
}
