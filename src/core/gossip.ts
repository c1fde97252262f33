// Gossip: every gossip interval, a datagram of queued broadcasts to a few
// random members, including the recently dead (so a wrongly declared member
// hears of it and refutes).
import type { CoreContext } from './context.js';
import type { MemberTable } from './member-table.js';
import type { Outbox } from './outbox.js';
import type { TimerSet } from './timer-set.js';

export class Gossip {
  constructor(
    private readonly ctx: CoreContext,
    private readonly table: MemberTable,
    private readonly outbox: Outbox,
    private readonly timers: TimerSet,
  ) {}

  start(firstGossipMs: number): void {
    this.timers.arm('gossip', firstGossipMs, () => this.tick());
  }

  /** One gossip round; `reschedule` false sends now without moving the periodic timer (leave, refute). */
  tick(reschedule = true): void {
    const { ctx, table } = this;
    if (ctx.life.stopped) return;
    if (reschedule) this.timers.arm('gossip', ctx.cfg.gossipIntervalMs, () => this.tick());
    if (this.outbox.broadcastQueueDepth() === 0) return;
    const now = ctx.env.scheduler.nowMs();
    const targets = table.randomMembers(ctx.cfg.gossipNodes, (m) => {
      if (m === table.self) return false;
      if (m.state === 'alive' || m.state === 'suspect') return true;
      return m.state === 'dead' && now - m.stateChangedAtMs <= ctx.cfg.gossipToTheDeadTimeMs;
    });
    for (const peer of targets) if (!this.outbox.gossipTo(peer)) return;
  }
}
