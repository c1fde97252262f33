// Telling a member what is being said about it. When this node accepts a new
// alive for another member that changes its metadata or address, it also sends
// that alive to the member itself, up to three times two probe intervals apart
// while the record stays as it was. A real update is news the member already
// has (it ignores it); a forged one (plaintext clusters trust every sender)
// makes the member refute with a higher incarnation and its true metadata,
// instead of after a push/pull happens to carry the lie back to it. A move is
// also sent to the address where the member was last reached, where the real
// process of a forged move still lives. Cost: at most three datagrams per
// observer per change (six for a move).
import { encodeMessage } from '../wire/codec.js';
import type { CoreContext } from './context.js';
import type { TimerHandle } from '../base/env.js';
import { addressOf, isDeadOrLeft, type MemberRecord } from './member.js';
import type { Outbox } from './outbox.js';
import type { StateRules } from './state-rules.js';

const NOTICES = 3;

export class SubjectNotifier {
  private readonly lastSentAtMs = new Map<string, number>();
  private readonly pending = new Map<string, TimerHandle>();

  constructor(
    private readonly ctx: CoreContext,
    private readonly outbox: Outbox,
    private readonly rules: StateRules,
    /** Bound on remembered members (the member table's bound). */
    private readonly maxTracked: number,
  ) {}

  notify(m: MemberRecord): void {
    const { ctx } = this;
    if (ctx.life.stopped || isDeadOrLeft(m)) return;
    this.pending.get(m.name)?.cancel();
    const now = ctx.env.scheduler.nowMs();
    const wait = Math.max(0, (this.lastSentAtMs.get(m.name) ?? -Infinity) + ctx.cfg.probeIntervalMs - now);
    this.schedule(m, wait, m.incarnation, NOTICES);
  }

  private schedule(m: MemberRecord, waitMs: number, incarnation: number, left: number): void {
    const { ctx } = this;
    this.pending.set(m.name, ctx.env.scheduler.setTimer(waitMs, () => {
      this.pending.delete(m.name);
      // Stop once the record changed (the member refuted, or moved on) or it is gone.
      if (ctx.life.stopped || isDeadOrLeft(m) || m.incarnation !== incarnation) return;
      this.send(m, ctx.env.scheduler.nowMs());
      if (left > 1) this.schedule(m, ctx.cfg.probeIntervalMs * 2, incarnation, left - 1);
    }));
  }

  cancelAll(): void {
    for (const t of this.pending.values()) t.cancel();
    this.pending.clear();
  }

  private send(m: MemberRecord, now: number): void {
    if (this.lastSentAtMs.size >= this.maxTracked) this.lastSentAtMs.clear();
    this.lastSentAtMs.set(m.name, now);
    const alive = encodeMessage(this.rules.aliveOf(m));
    this.outbox.sendRaw(addressOf(m), alive, m);
    // Moved away from where it was last reached: the process there is the one a forged move wrongs, so it hears too.
    const v = m.verified;
    if (v !== null && (v.host !== m.host || v.port !== m.port)) this.outbox.sendRaw({ host: v.host, port: v.port }, alive, m);
  }
}
