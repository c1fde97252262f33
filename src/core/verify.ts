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
/** Pings per member before leaving it to the regular probe rounds. */
const ATTEMPTS = 3;

export class ContactVerifier {
  private pending = 0;

  constructor(
    private readonly ctx: CoreContext,
    private readonly acks: AckTable,
    private readonly outbox: Outbox,
    private readonly rules: StateRules,
  ) {}

  verify(m: MemberRecord, attempt = 1): void {
    const { ctx } = this;
    if (ctx.life.stopped || m.contacted || m.state !== 'alive') return;
    if (this.pending >= MAX_PENDING) return countDrop(ctx.stats, 'verify-busy');
    const seq = this.acks.nextSeq();
    const timeoutMs = ctx.cfg.probeTimeoutMs * 2;
    this.pending++;
    const settle = (): void => {
      this.pending--;
    };
    const ok = this.acks.expect(
      seq,
      () => {
        settle();
        this.rules.markContacted(m);
      },
      () => {},
      timeoutMs,
      () => {
        settle();
        // Lost, or nobody of that name there: try again a little later, a bounded number of times.
        if (attempt < ATTEMPTS) ctx.env.scheduler.setTimer(ctx.cfg.probeIntervalMs, () => this.verify(m, attempt + 1));
      },
    );
    if (!ok) {
      settle();
      return;
    }
    ctx.stats.verifications++;
    this.outbox.sendRaw(addressOf(m), encodeMessage({ type: MessageType.Ping, body: pingOf(ctx, seq, m.name) }));
  }
}
