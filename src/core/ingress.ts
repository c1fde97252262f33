// Everything that arrives: datagrams are opened and dispatched (pings answered
// at once, acks to the ack table, state messages through two bounded handoff
// queues, alive first because it refutes), streams are opened and answered.
import { encodeMessage } from '../wire/codec.js';
import { MessageType, type Message, type PingMsg } from '../wire/messages.js';
import { openPacket } from '../wire/packet.js';
import { openStream } from '../wire/stream.js';
import type { AckTable } from './ack-table.js';
import type { AntiEntropy } from './anti-entropy.js';
import type { CoreContext } from './context.js';
import type { Address } from '../base/env.js';
import { InvariantError } from './invariants.js';
import type { Outbox } from './outbox.js';
import { replyAddress, type Prober } from './probe.js';
import { RingQueue } from './ring-queue.js';
import { SourceRateLimit } from './source-limit.js';
import type { StateRules } from './state-rules.js';
import { countDrop } from './stats.js';
import { DecryptWarning, isDecryptDrop } from './decrypt-warning.js';

/** A user-message delegate (partition ownership, the Serf intent reader); it answers whether the payload was its own. */
export type UserMessageHandler = (from: Address, payload: Uint8Array) => boolean;

export class Ingress {
  private readonly highPriority: RingQueue<Message>;
  private readonly lowPriority: RingQueue<Message>;
  private drainScheduled = false;
  /** Asked in order until one claims the payload; a handful at most (registered by code, not the network). */
  private userHandlers: UserMessageHandler[] = [];
  private readonly sourceLimit: SourceRateLimit;
  private readonly decryptWarning: DecryptWarning;

  constructor(
    private readonly ctx: CoreContext,
    private readonly rules: StateRules,
    private readonly acks: AckTable,
    private readonly prober: Prober,
    private readonly outbox: Outbox,
    private readonly antiEntropy: AntiEntropy,
  ) {
    this.highPriority = new RingQueue(ctx.cfg.handoffQueueDepth);
    this.lowPriority = new RingQueue(ctx.cfg.handoffQueueDepth);
    this.sourceLimit = new SourceRateLimit(ctx.cfg.maxPacketsPerSource ?? 0, 4096);
    this.decryptWarning = new DecryptWarning(ctx);
  }

  addUserHandler(handler: UserMessageHandler): void {
    if (!this.userHandlers.includes(handler)) this.userHandlers.push(handler);
  }

  removeUserHandler(handler: UserMessageHandler): void {
    this.userHandlers = this.userHandlers.filter((h) => h !== handler);
  }

  /** The fuller of the two handoff queues. */
  handoffDepth(): number {
    return Math.max(this.highPriority.size(), this.lowPriority.size());
  }

  clear(): void {
    this.highPriority.clear();
    this.lowPriority.clear();
  }

  onPacket(from: Address, data: Uint8Array): void {
    const { ctx } = this;
    if (ctx.life.stopped) return;
    ctx.stats.packetsIn++;
    ctx.stats.bytesIn += data.length;
    if (!this.sourceLimit.admit(from, ctx.env.scheduler.nowMs())) return countDrop(ctx.stats, 'source-rate');
    try {
      const opened = openPacket(data, ctx.security, ctx.limits);
      if (!opened.ok) {
        countDrop(ctx.stats, opened.reason);
        if (isDecryptDrop(opened.reason)) this.decryptWarning.dropped(opened.reason, from, 'udp');
        if (ctx.log.isLevelEnabled('debug')) ctx.log.log('debug', 'packet dropped', { reason: opened.reason, detail: opened.detail });
        return;
      }
      for (const d of opened.value.drops) countDrop(ctx.stats, d);
      for (const msg of opened.value.messages) this.dispatch(msg, from);
    } catch (err) {
      // A broken invariant in strict mode must stop the run, not become a drop.
      if (err instanceof InvariantError) throw err;
      countDrop(ctx.stats, 'internal-error');
      ctx.log.log('error', 'packet handler failed', { err: String(err) });
    }
  }

  onStream(from: Address, request: Uint8Array, reply: (data: Uint8Array | null) => void): void {
    const { ctx, outbox } = this;
    if (ctx.life.stopped) return reply(null);
    const opened = openStream(request, ctx.security, ctx.limits);
    if (!opened.ok) {
      countDrop(ctx.stats, `stream-${opened.reason}`);
      if (isDecryptDrop(opened.reason)) this.decryptWarning.dropped(opened.reason, from, 'tcp');
      return reply(null);
    }
    const msg = opened.value;
    switch (msg.type) {
      case MessageType.PushPull:
        return this.antiEntropy.answer(msg.body, reply);
      case MessageType.Ping: {
        if (msg.body.node !== '' && msg.body.node !== ctx.name) {
          countDrop(ctx.stats, 'wrong-node');
          return reply(null);
        }
        return reply(outbox.sealForStream(encodeMessage({ type: MessageType.AckResp, body: { seqNo: msg.body.seqNo, payload: null } })));
      }
      case MessageType.User:
        countDrop(ctx.stats, 'user-message-ignored');
        return reply(null);
      default:
        countDrop(ctx.stats, 'unexpected-stream-message');
        return reply(null);
    }
  }

  private dispatch(msg: Message, from: Address): void {
    switch (msg.type) {
      case MessageType.Ping:
        return this.answerPing(msg.body, from);
      case MessageType.IndirectPing:
        return this.prober.relayIndirectPing(msg.body, from);
      case MessageType.AckResp:
        return this.acks.ack(msg.body.seqNo, from);
      case MessageType.NackResp:
        return this.acks.nack(msg.body.seqNo);
      case MessageType.Alive:
        return this.handoff(msg, true);
      case MessageType.Suspect:
      case MessageType.Dead:
        return this.handoff(msg, false);
      case MessageType.User:
        // Each delegate bounds its own work; a payload nobody claims is counted and dropped.
        if (!this.userHandlers.some((h) => h(from, msg.body.payload))) countDrop(this.ctx.stats, 'user-message-ignored');
        return;
      default:
        countDrop(this.ctx.stats, 'unexpected-packet-message');
    }
  }

  private answerPing(p: PingMsg, from: Address): void {
    if (p.node !== '' && p.node !== this.ctx.name) return countDrop(this.ctx.stats, 'wrong-node');
    const ack = encodeMessage({ type: MessageType.AckResp, body: { seqNo: p.seqNo, payload: null } });
    this.outbox.sendWithPiggyback(replyAddress(from, p.sourceAddr, p.sourcePort), ack);
  }

  /** Bounded queues between receipt and state changes; alive messages go first (they refute). */
  private handoff(msg: Message, high: boolean): void {
    const q = high ? this.highPriority : this.lowPriority;
    if (!q.push(msg)) return countDrop(this.ctx.stats, 'queue-full');
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      this.ctx.env.scheduler.setTimer(0, () => this.drain());
    }
  }

  private drain(): void {
    this.drainScheduled = false;
    const { ctx, rules } = this;
    let budget = ctx.cfg.handoffQueueDepth * 2;
    while (!ctx.life.stopped && budget-- > 0) {
      const msg = this.highPriority.shift() ?? this.lowPriority.shift();
      if (!msg) return;
      switch (msg.type) {
        case MessageType.Alive:
          rules.aliveNode(msg.body, false);
          break;
        case MessageType.Suspect:
          rules.suspectNode(msg.body);
          break;
        case MessageType.Dead:
          rules.deadNode(msg.body);
          break;
        default:
          break;
      }
    }
  }
}
