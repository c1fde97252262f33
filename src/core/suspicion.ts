// A suspicion timer: starts at the max timeout and shrinks towards min as
// distinct members independently confirm the suspicion (Lifeguard).
import type { Scheduler, TimerHandle } from '../base/env.js';
import { remainingSuspicionTimeMs } from './timing.js';

export class Suspicion {
  private confirmations = 0;
  private readonly confirmedBy = new Set<string>();
  private timer: TimerHandle;
  private readonly startMs: number;
  private fired = false;

  constructor(
    private readonly scheduler: Scheduler,
    from: string,
    private readonly k: number,
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly onTimeout: (confirmations: number) => void,
  ) {
    // The accuser does not count as a confirmation of its own accusation.
    this.confirmedBy.add(from);
    this.startMs = scheduler.nowMs();
    this.timer = scheduler.setTimer(k < 1 ? minMs : maxMs, () => this.fire());
  }

  /** Records a confirmation; true when it was new (and so worth re-gossiping). */
  confirm(from: string): boolean {
    if (this.fired || this.confirmations >= this.k || this.confirmedBy.has(from)) return false;
    this.confirmedBy.add(from);
    this.confirmations++;
    const remaining = remainingSuspicionTimeMs(this.confirmations, this.k, this.scheduler.nowMs() - this.startMs, this.minMs, this.maxMs);
    this.timer.cancel();
    this.timer = this.scheduler.setTimer(Math.max(0, remaining), () => this.fire());
    return true;
  }

  cancel(): void {
    this.fired = true;
    this.timer.cancel();
  }

  private fire(): void {
    if (this.fired) return;
    this.fired = true;
    this.onTimeout(this.confirmations);
  }
}
