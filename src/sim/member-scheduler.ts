import type { Scheduler, TimerHandle } from '../base/env.js';
import type { VirtualScheduler } from './virtual-scheduler.js';

/**
 * One simulated process's view of time. While paused (a long GC, a SIGSTOP) its
 * timers that come due are held and run, in order, when it resumes; once it is
 * killed they never run.
 */
export class MemberScheduler implements Scheduler {
  private paused = false;
  private killed = false;
  private held: (() => void)[] = [];

  constructor(private readonly base: VirtualScheduler) {}

  nowMs(): number {
    return this.base.nowMs();
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    return this.base.setTimer(delayMs, () => {
      if (this.killed) return;
      if (this.paused) this.held.push(fn);
      else fn();
    });
  }

  isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
  }

  /**
   * Runs what came due while paused; `packets` runs first (the simulator delivers held packets
   * there), or after the held timers with `timersFirst`, as node's event loop runs expired timers
   * before it reads sockets.
   */
  resume(packets?: () => void, timersFirst = false): void {
    if (!this.paused) return;
    this.paused = false;
    const held = this.held;
    this.held = [];
    this.base.setTimer(0, () => {
      if (this.killed) return;
      if (!timersFirst) packets?.();
      for (const fn of held) if (!this.killed) fn();
      if (timersFirst && !this.killed) packets?.();
    });
  }

  kill(): void {
    this.killed = true;
    this.held = [];
  }
}
