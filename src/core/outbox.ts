// Everything that leaves this node: sealing (label, encryption, CRC), the
// broadcast queue and its piggyback budget, compound packing, and stream
// sealing with compression. Whatever the queue hands out here is counted as
// transmitted, so every such message must go into a datagram that is sent.
import { encodeMessage } from '../wire/codec.js';
import { COMPOUND_HEADER_BYTES, COMPOUND_PART_OVERHEAD, makeCompound } from '../wire/compound.js';
import { COMPOUND_MAX_PARTS, type Message } from '../wire/messages.js';
import { packetOverheadBytes, sealPacket } from '../wire/packet.js';
import { sealStream } from '../wire/stream.js';
import { BroadcastQueue } from './broadcast-queue.js';
import type { CoreContext } from './context.js';
import type { Address } from '../base/env.js';
import { addressOf, type MemberRecord } from './member.js';
import type { MemberTable } from './member-table.js';
import { retransmitLimit } from './timing.js';

/**
 * Compress only stream messages big enough for LZW to win (push/pull state).
 * Datagrams stay uncompressed: they are at most one UDP buffer, LZW rarely
 * shrinks them and it costs CPU on every packet; peers accept both forms.
 */
const COMPRESS_MIN_BYTES = 256;

/** Watch a datagram for the destination host's refusal (see PacketTransport.sendProbe). */
export interface RefusalWatch {
  readonly windowMs: number;
  readonly onRefused: () => void;
}

export class Outbox {
  private readonly broadcasts: BroadcastQueue;

  constructor(
    private readonly ctx: CoreContext,
    private readonly table: MemberTable,
  ) {
    this.broadcasts = new BroadcastQueue(ctx.cfg.maxBroadcasts);
  }

  /** Updates dropped because the broadcast queue was full. */
  broadcastsDropped(): number {
    return this.broadcasts.dropped;
  }

  broadcastQueueDepth(): number {
    return this.broadcasts.size();
  }

  /** Called after every queued broadcast (gossip re-arms an idle timer). */
  onBroadcastQueued: (() => void) | null = null;

  queueBroadcast(node: string, msg: Message, onDone?: () => void): void {
    this.broadcasts.queue({ key: node, message: encodeMessage(msg), ...(onDone ? { onDone } : {}) });
    this.ctx.invariants.check(this.broadcasts.size() <= this.ctx.cfg.maxBroadcasts, 'broadcasts-over-bound');
    this.onBroadcastQueued?.();
  }

  /** Largest single message that fits one datagram after framing and security overhead. */
  datagramBudgetBytes(): number {
    return this.ctx.cfg.udpBufferSize - 1 - packetOverheadBytes(this.ctx.security);
  }

  /**
   * Seals and sends one payload. CRC framing goes only on gossip and buddy
   * packets to peers that speak protocol ≥ 5: that is what memberlist does in
   * practice (its pings, acks and nacks are sent without a known peer and so
   * without CRC), and it keeps those small, frequent packets 5 bytes shorter.
   */
  sendRaw(to: Address, payload: Uint8Array, crcPeer?: MemberRecord, refusal?: RefusalWatch): void {
    if (this.ctx.life.stopped) return;
    const crc = crcPeer !== undefined && (crcPeer.vsn[1] ?? 0) >= 5;
    const data = sealPacket(payload, {
      crc,
      compress: false,
      security: this.ctx.security,
      random: this.ctx.env.random,
    });
    this.ctx.stats.packetsOut++;
    this.ctx.stats.bytesOut += data.length;
    const packets = this.ctx.env.packets;
    if (refusal !== undefined && packets.sendProbe !== undefined) packets.sendProbe(to, data, refusal.windowMs, refusal.onRefused);
    else packets.sendPacket(to, data);
  }

  /** Sends a message with as many queued broadcasts piggybacked as fit the packet budget. */
  sendWithPiggyback(to: Address, msg: Uint8Array, refusal?: RefusalWatch): void {
    const budget = this.ctx.cfg.udpBufferSize - msg.length - COMPOUND_HEADER_BYTES - packetOverheadBytes(this.ctx.security);
    // Take no more than the compound can carry beside `msg`: whatever is taken is counted as sent.
    const extra = budget > 0 ? this.broadcasts.take(COMPOUND_PART_OVERHEAD, budget, this.retransmitLimit(), COMPOUND_MAX_PARTS - 1) : [];
    this.sendRaw(to, extra.length === 0 ? msg : makeCompound([msg, ...extra]), undefined, refusal);
  }

  /** One gossip datagram to `peer` with a packet's worth of broadcasts; false when there was nothing to send. */
  gossipTo(peer: MemberRecord): boolean {
    const budget = this.ctx.cfg.udpBufferSize - COMPOUND_HEADER_BYTES - packetOverheadBytes(this.ctx.security);
    const msgs = this.broadcasts.take(COMPOUND_PART_OVERHEAD, budget, this.retransmitLimit(), COMPOUND_MAX_PARTS);
    if (msgs.length === 0) return false;
    this.sendRaw(addressOf(peer), msgs.length === 1 ? msgs[0]! : makeCompound(msgs), peer);
    return true;
  }

  sealForStream(msg: Uint8Array): Uint8Array {
    return sealStream(msg, {
      crc: false,
      compress: this.ctx.cfg.enableCompression && msg.length >= COMPRESS_MIN_BYTES,
      security: this.ctx.security,
      random: this.ctx.env.random,
    });
  }

  private retransmitLimit(): number {
    return retransmitLimit(this.ctx.cfg.retransmitMult, this.table.estimatedMembers());
  }
}
