// Work that follows a member event or a claim without deciding it (watch lines, log lines,
// metrics) runs after the turn's protocol work, so the claims and answers of this turn leave
// first: one callback per event-loop turn (setImmediate, after the datagrams already read),
// the grant writes queued with first() before what later() queued, each list in its order.

export class AfterTurn {
  private firstQueue: (() => void)[] = [];
  private laterQueue: (() => void)[] = [];
  private armed = false;
  private draining = false;

  constructor(
    /** Entries waiting at most; beyond, the waiting work runs at once (nothing is dropped). */
    private readonly maxWaiting: number,
    private readonly schedule: (fn: () => void) => void = (fn) => void setImmediate(fn),
  ) {}

  /** Runs before everything later() queued: the grant writes the answers wait on. */
  first(fn: () => void): void {
    this.firstQueue.push(fn);
    this.arm();
  }

  later(fn: () => void): void {
    this.laterQueue.push(fn);
    if (this.firstQueue.length + this.laterQueue.length > this.maxWaiting) this.drain();
    else this.arm();
  }

  waiting(): number {
    return this.firstQueue.length + this.laterQueue.length;
  }

  /** Runs what is waiting now, in order (a watch snapshot must come after every line published before it). */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      // Work queued while draining runs in this drain too, behind what was already there.
      for (;;) {
        const f = this.firstQueue.shift();
        if (f !== undefined) {
          f();
          continue;
        }
        const l = this.laterQueue.shift();
        if (l === undefined) break;
        l();
      }
    } finally {
      this.draining = false;
      // After a throw, what is left still runs on a later turn.
      if (this.waiting() > 0) this.arm();
    }
  }

  private arm(): void {
    if (this.armed) return;
    this.armed = true;
    this.schedule(() => {
      this.armed = false;
      this.drain();
    });
  }
}
