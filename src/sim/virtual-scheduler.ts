import type { Scheduler, TimerHandle } from '../base/env.js';

interface Entry {
  atMs: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * Virtual time: timers sit in a binary heap ordered by (due time, insertion
 * order) and run only when the simulator advances the clock, so a run is as
 * fast as the CPU allows and exactly reproducible.
 */
export class VirtualScheduler implements Scheduler {
  private heap: Entry[] = [];
  private seq = 0;
  private now = 0;
  private live = 0;

  nowMs(): number {
    return this.now;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const entry: Entry = { atMs: this.now + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.push(entry);
    this.live++;
    return {
      cancel: () => {
        if (!entry.cancelled) {
          entry.cancelled = true;
          this.live--;
        }
      },
    };
  }

  /** Number of timers still pending. */
  pending(): number {
    return this.live;
  }

  /** Time of the next pending timer, or undefined when none is left. */
  nextDueMs(): number | undefined {
    this.dropCancelledTop();
    return this.heap[0]?.atMs;
  }

  /**
   * Runs every timer due up to and including `untilMs`, in order, then sets the
   * clock to `untilMs`. `maxEvents` bounds the work so a timer storm cannot spin
   * forever; it throws when the bound is hit.
   */
  runUntil(untilMs: number, maxEvents = 50_000_000): number {
    let ran = 0;
    for (;;) {
      this.dropCancelledTop();
      const top = this.heap[0];
      if (top === undefined || top.atMs > untilMs) break;
      this.pop();
      top.cancelled = true;
      this.live--;
      this.now = top.atMs;
      top.fn();
      if (++ran >= maxEvents) throw new Error(`virtual scheduler: more than ${maxEvents} events before ${untilMs} ms`);
    }
    if (untilMs > this.now) this.now = untilMs;
    return ran;
  }

  /** Advances by `deltaMs`. */
  advance(deltaMs: number, maxEvents?: number): number {
    return this.runUntil(this.now + deltaMs, maxEvents);
  }

  private dropCancelledTop(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
  }

  private less(a: Entry, b: Entry): boolean {
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
