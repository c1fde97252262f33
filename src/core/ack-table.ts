// Pending acks by sequence number: who waits for an ack or nack, until when.
// Bounded by maxAckHandlers; a probe that cannot register is not sent.
import type { CoreContext } from './context.js';
import type { Address, TimerHandle } from '../base/env.js';
import { countDrop } from './stats.js';

interface AckHandler {
  onAck: (from: Address | null) => void;
  onNack: () => void;
  onExpire: (() => void) | null;
  timer: TimerHandle;
}

export class AckTable {
  private readonly handlers = new Map<number, AckHandler>();
  /**
   * Starts at a random value: an ack proves contact (and ends a probe), so its
   * sequence number must not be guessable by a sender that does not see our
   * pings (a bit flip turns a ping with seqNo 1 into an ack with seqNo 1).
   */
  private seqNo: number;

  constructor(private readonly ctx: CoreContext) {
    this.seqNo = ctx.env.random.int(0x7fffffff) * 2 + ctx.env.random.int(2);
  }

  size(): number {
    return this.handlers.size;
  }

  nextSeq(): number {
    this.seqNo = (this.seqNo + 1) >>> 0;
    return this.seqNo;
  }

  /** Waits up to `timeoutMs` for the ack of `seq`; false (and counted) when the table is full. */
  expect(seq: number, onAck: (from: Address | null) => void, onNack: () => void, timeoutMs: number, onExpire: (() => void) | null = null): boolean {
    if (this.handlers.size >= this.ctx.cfg.maxAckHandlers) {
      countDrop(this.ctx.stats, 'ack-handlers-full');
      return false;
    }
    const timer = this.ctx.env.scheduler.setTimer(timeoutMs, () => {
      if (this.handlers.get(seq)?.timer !== timer) return;
      this.handlers.delete(seq);
      onExpire?.();
    });
    this.handlers.set(seq, { onAck, onNack, onExpire, timer });
    this.ctx.invariants.check(this.handlers.size <= this.ctx.cfg.maxAckHandlers, 'ack-handlers-over-bound');
    return true;
  }

  /** An ack ends the wait; one nobody waits for is counted. */
  /** `from` is where the ack came from (null when it is not known, as for a relayed one). */
  ack(seq: number, from: Address | null = null): void {
    const h = this.handlers.get(seq);
    if (!h) return countDrop(this.ctx.stats, 'unknown-ack');
    this.handlers.delete(seq);
    h.timer.cancel();
    h.onAck(from);
  }

  /** A nack is news for the waiter, which keeps waiting for an ack. */
  nack(seq: number): void {
    const h = this.handlers.get(seq);
    if (!h) return countDrop(this.ctx.stats, 'unknown-nack');
    h.onNack();
  }

  clear(): void {
    for (const h of this.handlers.values()) h.timer.cancel();
    this.handlers.clear();
  }
}
