// Contact verification: a member heard of only through gossip (or a push/pull
// from someone else) gets one ping, naming it, at the address it was announced
// with. An ack proves a process answering to that name lives there: a real
// member drops pings for another name, so a forged alive that borrows a real
// member's address never verifies. Until verified (here, or by a probe round's
// ack or a push/pull this node started), the member holds no roles.
import { encodeMessage } from '../wire/codec.js';
import { MessageType } from '../wire/messages.js';
import type { AckTable } from './ack-table.js';
import type { CoreContext } from './context.js';
import { addressOf, type MemberRecord } from './member.js';
import type { Outbox } from './outbox.js';
import { pingOf } from './probe.js';
import type { StateRules } from './state-rules.js';
import { countDrop } from './stats.js';

/** Verifications in flight at once; beyond it a member waits for its turn in the probe order. */
const MAX_PENDING = 64;
/** Pings per member before its silence counts as a failed probe (after a revert, as many again). */
const ATTEMPTS = 3;

export class ContactVerifier {
  private pending = 0;
  /**
   * Members waiting for a free slot: first those reached before at another
   * address (a takeover to undo), then the others, each in arrival order. One
   * entry per member, so bounded by the member table.
   */
  private readonly waitingMoved = new Set<MemberRecord>();
  private readonly waitingNew = new Set<MemberRecord>();

  constructor(
    private readonly ctx: CoreContext,
    private readonly acks: AckTable,
    private readonly outbox: Outbox,
    private readonly rules: StateRules,
  ) {}

  verify(m: MemberRecord, attempt = 1): void {
    const { ctx } = this;
    if (ctx.life.stopped || m.contacted || m.state === 'dead' || m.state === 'left') return;
    if (this.pending >= MAX_PENDING) {
      countDrop(ctx.stats, 'verify-queued');
      (m.verified !== null ? this.waitingMoved : this.waitingNew).add(m);
      return;
    }
    const seq = this.acks.nextSeq();
    // The ack proves this address only: if gossip moves the member before it comes, the move is verified anew.
    const at = addressOf(m);
    const timeoutMs = ctx.cfg.probeTimeoutMs * 2;
    this.pending++;
    const settle = (): void => {
      this.pending--;
      this.next();
    };
    const ok = this.acks.expect(
      seq,
      () => {
        settle();
        this.rules.markContacted(m, at);
      },
      () => {},
      timeoutMs,
      () => {
        settle();
        // Lost, or nobody of that name there: try again a little later, a bounded number of times,
        // then send it back to where it was last reached (and verify that once).
        if (attempt < ATTEMPTS) ctx.env.scheduler.setTimer(ctx.cfg.probeIntervalMs, () => this.verify(m, attempt + 1));
        else if (this.rules.revertUnverifiedMove(m)) this.verify(m, 1);
        // Nobody answers to that name there: that is a failed probe, and starts a suspicion the member can refute.
        else if (!m.contacted && m.state === 'alive') this.rules.suspectNode({ incarnation: m.incarnation, node: m.name, from: ctx.name });
      },
    );
    if (!ok) {
      settle();
      return;
    }
    this.waitingMoved.delete(m);
    this.waitingNew.delete(m);
    ctx.stats.verifications++;
    this.outbox.sendRaw(at, encodeMessage({ type: MessageType.Ping, body: pingOf(ctx, seq, m.name) }));
  }

  private next(): void {
    for (const q of [this.waitingMoved, this.waitingNew]) {
      for (const m of q) {
        q.delete(m);
        if (m.contacted || m.state === 'dead' || m.state === 'left') continue;
        this.verify(m);
        return;
      }
    }
  }
}
