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
  private deadlineMs: number;

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
    this.deadlineMs = this.startMs + (k < 1 ? minMs : maxMs);
    this.timer = scheduler.setTimer(k < 1 ? minMs : maxMs, () => this.fire());
  }

  /** Records a confirmation; true when it was new (and so worth re-gossiping). */
  confirm(from: string): boolean {
    if (this.fired || this.confirmations >= this.k || this.confirmedBy.has(from)) return false;
    this.confirmedBy.add(from);
    this.confirmations++;
    const remaining = remainingSuspicionTimeMs(this.confirmations, this.k, this.scheduler.nowMs() - this.startMs, this.minMs, this.maxMs);
    const now = this.scheduler.nowMs();
    if (now + Math.max(0, remaining) >= this.deadlineMs) return true; // never later than a refusal already set
    this.timer.cancel();
    this.deadlineMs = now + Math.max(0, remaining);
    this.timer = this.scheduler.setTimer(Math.max(0, remaining), () => this.fire());
    return true;
  }

  /** Strong evidence (the member's host refused a probe): fire within `ms` from now if not sooner. */
  shortenTo(ms: number): void {
    if (this.fired || this.scheduler.nowMs() + ms >= this.deadlineMs) return;
    this.timer.cancel();
    this.deadlineMs = this.scheduler.nowMs() + ms;
    this.timer = this.scheduler.setTimer(Math.max(0, ms), () => this.fire());
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
