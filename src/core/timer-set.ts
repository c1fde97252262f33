// The periodic timers a member owns, by name, so shutdown can cancel them all
// and no timer runs twice under one name (two probe loops would double the
// probe rate and never stop).
import type { Scheduler, TimerHandle } from '../base/env.js';
import type { Invariants } from './invariants.js';

export type TimerName = 'probe' | 'gossip' | 'push-pull' | 'reconnect' | 'crash-watch';

export class TimerSet {
  private readonly armed = new Map<TimerName, TimerHandle>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly invariants: Invariants,
  ) {}

  /** Arms `name`, which must not be armed already. */
  arm(name: TimerName, delayMs: number, fn: () => void): void {
    this.invariants.check(!this.armed.has(name), 'timer-armed-twice', () => ({ timer: name }));
    this.armed.get(name)?.cancel();
    const handle = this.scheduler.setTimer(delayMs, () => {
      // Forget it before running, so the callback may arm the next one.
      if (this.armed.get(name) === handle) this.armed.delete(name);
      fn();
    });
    this.armed.set(name, handle);
  }

  /** Replaces whatever `name` had pending with a new delay. */
  rearm(name: TimerName, delayMs: number, fn: () => void): void {
    this.cancel(name);
    this.arm(name, delayMs, fn);
  }

  cancel(name: TimerName): void {
    this.armed.get(name)?.cancel();
    this.armed.delete(name);
  }

  isArmed(name: TimerName): boolean {
    return this.armed.has(name);
  }

  cancelAll(): void {
    for (const handle of this.armed.values()) handle.cancel();
    this.armed.clear();
  }
}
