// Gossip: every gossip interval, a datagram of queued broadcasts to a few
// random members, including the recently dead (so a wrongly declared member
// hears of it and refutes).
//
// A tick that finds the broadcast queue empty sends nothing and draws no
// randomness, so while the queue stays empty the periodic timer is not kept
// armed: an idle member would otherwise wake five times a second (LAN) for
// nothing, and each wake-up of an idle Node process costs about as much CPU
// as the work of a probe round (bench/RESULTS.md). The first broadcast queued
// re-arms the timer at the next instant of the same grid of ticks, so what is
// sent, and when, is what the always-armed timer would have sent.
import type { CoreContext } from './context.js';
import type { MemberTable } from './member-table.js';
import type { Outbox } from './outbox.js';
import type { TimerSet } from './timer-set.js';

export class Gossip {
  /** Scheduler time of the last periodic tick that found nothing to send; null while the timer is armed. */
  private idleSinceMs: number | null = null;

  constructor(
    private readonly ctx: CoreContext,
    private readonly table: MemberTable,
    private readonly outbox: Outbox,
    private readonly timers: TimerSet,
  ) {}

  start(firstGossipMs: number): void {
    this.outbox.onBroadcastQueued = () => this.wake();
    this.idleSinceMs = null;
    this.timers.arm('gossip', firstGossipMs, () => this.tick());
  }

  /** One gossip round; `reschedule` false sends now without moving the periodic timer (leave, refute). */
  tick(reschedule = true): void {
    const { ctx, table } = this;
    if (ctx.life.stopped) return;
    if (reschedule) {
      if (this.outbox.broadcastQueueDepth() === 0) {
        this.idleSinceMs = ctx.env.scheduler.nowMs();
        return;
      }
      this.timers.arm('gossip', ctx.cfg.gossipIntervalMs, () => this.tick());
    }
    if (this.outbox.broadcastQueueDepth() === 0) return;
    const now = ctx.env.scheduler.nowMs();
    const targets = table.randomMembers(ctx.cfg.gossipNodes, (m) => {
      if (m === table.self) return false;
      if (m.state === 'alive' || m.state === 'suspect') return true;
      return m.state === 'dead' && now - m.stateChangedAtMs <= ctx.cfg.gossipToTheDeadTimeMs;
    });
    for (const peer of targets) if (!this.outbox.gossipTo(peer)) return;
  }

  /** Something was queued: an idle timer resumes at the next tick the periodic timer would have run. */
  private wake(): void {
    const { ctx } = this;
    if (this.idleSinceMs === null || !ctx.life.running || ctx.life.stopped) return;
    const intervalMs = ctx.cfg.gossipIntervalMs;
    // A tick due at this very instant ran already in the always-armed schedule (it was armed first) and found the queue empty.
    const delayMs = intervalMs - ((ctx.env.scheduler.nowMs() - this.idleSinceMs) % intervalMs);
    this.idleSinceMs = null;
    this.timers.arm('gossip', delayMs, () => this.tick());
  }
}
