// Failure detection: one protocol period per probe interval (scaled by
// Lifeguard's health score), each probing one member: a direct ping, then
// indirect pings through other members and a TCP fallback ping, and at the
// period's end a verdict. Also the helper's side of an indirect ping.
import { encodeMessage } from '../wire/codec.js';
import { makeCompound } from '../wire/compound.js';
import { MessageType, type IndirectPingMsg, type PingMsg } from '../wire/messages.js';
import { openStream } from '../wire/stream.js';
import type { AckTable } from './ack-table.js';
import { bytesToIp } from './addresses.js';
import type { Awareness } from './awareness.js';
import type { CoreContext } from './context.js';
import { isRefusal, type Address } from '../base/env.js';
import { addressOf, type MemberRecord } from './member.js';
import type { MemberTable } from './member-table.js';
import type { Outbox } from './outbox.js';
import type { Reachability } from './reachability.js';
import type { StateRules } from './state-rules.js';
import { countDrop } from './stats.js';
import type { TimerSet } from './timer-set.js';

/** The parts a probe round uses. */
export interface ProbeDeps {
  readonly ctx: CoreContext;
  readonly table: MemberTable;
  readonly outbox: Outbox;
  readonly rules: StateRules;
  readonly awareness: Awareness;
  readonly acks: AckTable;
  readonly reach: Reachability;
}

export function pingOf(ctx: CoreContext, seqNo: number, node: string): PingMsg {
  return { seqNo, node, sourceAddr: ctx.advertiseAddr, sourcePort: ctx.advertise.port, sourceNode: ctx.name };
}

/** Where to answer: the source address the sender put in the message, else where the packet came from. */
export function replyAddress(from: Address, sourceAddr: Uint8Array | undefined, sourcePort: number | undefined): Address {
  if (sourceAddr && sourcePort) {
    const host = bytesToIp(sourceAddr);
    if (host) return { host, port: sourcePort };
  }
  return from;
}

/**
 * One probe of one member, from the direct ping to the verdict. The verdict is
 * given once: an ack ends the round healthy; at the deadline, contact over TCP
 * only is a warning, silence starts (or confirms) a suspicion.
 */
class ProbeRound {
  private acked = false;
  private nacks = 0;
  private expectedNacks = 0;
  private tcpPending = false;
  private tcpStarted = false;
  private tcpContact = false;
  /** Indirect pings went out: from then on an ack may be a helper's relay. */
  private indirectSent = false;
  private concluded = false;
  private deadlinePassed = false;
  private readonly seq: number;
  private readonly startMs: number;
  private readonly pingBytes: Uint8Array;
  /** What the ping was sent to: a refusal counts only against that incarnation at that address. */
  private readonly sentIncarnation: number;
  /** Where this round pings: the target's address when it started, even if gossip moves it meanwhile. */
  private readonly sentTo: Address;
  private readonly sentAddr: Uint8Array;

  constructor(
    private readonly d: ProbeDeps,
    private readonly target: MemberRecord,
    private readonly periodMs: number,
  ) {
    this.seq = d.acks.nextSeq();
    this.startMs = d.ctx.env.scheduler.nowMs();
    this.pingBytes = encodeMessage({ type: MessageType.Ping, body: pingOf(d.ctx, this.seq, target.name) });
    this.sentIncarnation = target.incarnation;
    this.sentTo = addressOf(target);
    this.sentAddr = target.addr;
  }


  start(): void {
    const { ctx, acks, outbox } = this.d;
    ctx.stats.probes++;
    if (!acks.expect(this.seq, (from) => this.onAck(from), () => this.onNack(), this.periodMs)) return;
    const target = this.target;
    const refusal = ctx.cfg.refusalSuspicionMult > 0 ? { windowMs: this.periodMs, onRefused: () => this.onRefused('udp') } : undefined;
    if (target.state === 'alive') outbox.sendWithPiggyback(this.sentTo, this.pingBytes, refusal);
    else {
      // Buddy system: tell a suspect member it is suspected, so it can refute at once.
      const suspect = encodeMessage({ type: MessageType.Suspect, body: { incarnation: target.incarnation, node: target.name, from: ctx.name } });
      outbox.sendRaw(this.sentTo, makeCompound([this.pingBytes, suspect]), target, refusal);
    }
    ctx.env.scheduler.setTimer(ctx.cfg.probeTimeoutMs, () => this.afterProbeTimeout());
    ctx.env.scheduler.setTimer(this.periodMs, () => {
      this.deadlinePassed = true;
      // A TCP fallback still in flight decides; its own timeout ends at this deadline.
      if (!this.tcpPending) this.conclude();
    });
  }

  private onAck(from: Address | null): void {
    this.acked = true;
    this.d.ctx.stats.acks++;
    // Direct or relayed, an ack answers a ping that named the target at the address it was sent to.
    this.d.rules.markContacted(this.target, this.sentTo);
    const t = this.target;
    const direct = !this.indirectSent || (from !== null && from.host === this.sentTo.host && from.port === this.sentTo.port);
    this.d.reach.reachedOverUdp(t, direct ? 'direct' : 'indirect');
    if (!this.concluded) {
      this.concluded = true;
      this.d.awareness.applyDelta(-1);
    }
  }

  /**
   * The target's host refused the ping (or the TCP ping): its process is not
   * listening. The round ends now with a suspicion that dies quickly (the
   * crash fast path), not at the end of the period. A refusal says nothing
   * about this node's own health, so the health score is left alone.
   */
  private onRefused(via: 'udp' | 'tcp'): void {
    const { ctx, table, rules } = this.d;
    if (this.acked || this.concluded || ctx.life.stopped) return;
    const t = this.target;
    if (table.get(t.name) !== t || t.host !== this.sentTo.host || t.port !== this.sentTo.port) return;
    // A firewall rejecting UDP alone looks the same to the datagram: ask over
    // TCP at once, and take the refusal as evidence only if TCP is refused too
    // (or cannot be asked). A TCP answer makes it contact over TCP as usual.
    if (via === 'udp' && this.canPingOverTcp()) {
      this.startTcpPing();
      return;
    }
    if (!rules.refusedProbe(t.name, this.sentIncarnation)) return;
    this.concluded = true;
    this.d.reach.unreached(t);
    ctx.stats.failedProbes++;
  }

  private canPingOverTcp(): boolean {
    return !this.d.ctx.cfg.disableTcpPings && (this.target.vsn[1] ?? 0) >= 3;
  }

  private onNack(): void {
    this.nacks++;
    this.d.ctx.stats.nacks++;
  }

  /** No direct ack in time: ask helpers to ping the target, and try it over TCP. */
  private afterProbeTimeout(): void {
    const { ctx, table, outbox } = this.d;
    if (this.acked || this.concluded || ctx.life.stopped) return;
    const target = this.target;
    const helpers = table.randomMembers(ctx.cfg.indirectChecks, (m) => m !== table.self && m !== target && m.state === 'alive');
    this.indirectSent = helpers.length > 0;
    for (const peer of helpers) {
      const nack = (peer.vsn[1] ?? 0) >= 4;
      if (nack) this.expectedNacks++;
      const ind: IndirectPingMsg = { seqNo: this.seq, target: this.sentAddr, port: this.sentTo.port, node: target.name, nack, sourceAddr: ctx.advertiseAddr, sourcePort: ctx.advertise.port, sourceNode: ctx.name };
      ctx.stats.indirectProbes++;
      outbox.sendWithPiggyback(addressOf(peer), encodeMessage({ type: MessageType.IndirectPing, body: ind }));
    }
    if (this.canPingOverTcp()) this.startTcpPing();
  }

  /** The TCP fallback ping, once per round: after the probe timeout, or at once when UDP was refused. */
  private startTcpPing(): void {
    const { ctx, outbox } = this.d;
    if (this.tcpStarted) return;
    this.tcpStarted = true;
    const remaining = Math.max(1, this.startMs + this.periodMs - ctx.env.scheduler.nowMs());
    this.tcpPending = true;
    ctx.stats.tcpFallbackProbes++;
    ctx.env.streams.request(this.sentTo, outbox.sealForStream(this.pingBytes), true, remaining, (err, reply) => {
      this.tcpPending = false;
      if (err && isRefusal(err) && ctx.cfg.refusalSuspicionMult > 0) this.onRefused('tcp');
      if (!err && reply) {
        const r = openStream(reply, ctx.security, ctx.limits);
        if (r.ok && r.value.type === MessageType.AckResp && r.value.body.seqNo === this.seq) {
          this.tcpContact = true;
          this.d.rules.markContacted(this.target, this.sentTo);
        }
      }
      if (this.deadlinePassed) this.conclude();
    });
  }

  private conclude(): void {
    const { ctx, table, rules, awareness } = this.d;
    if (this.concluded || ctx.life.stopped) return;
    this.concluded = true;
    if (this.acked) return;
    // As in memberlist, an answer over TCP is not a failure: no suspicion, only a
    // warning (once per episode, see reachability.ts) that UDP seems filtered.
    if (this.tcpContact) {
      this.d.reach.reachedOverTcpOnly(this.target);
      awareness.applyDelta(-1);
      return;
    }
    this.d.reach.unreached(this.target);
    awareness.applyDelta(this.expectedNacks > 0 ? Math.max(0, this.expectedNacks - this.nacks) : 1);
    ctx.stats.failedProbes++;
    const cur = table.get(this.target.name);
    if (cur) rules.suspectNode({ incarnation: cur.incarnation, node: cur.name, from: ctx.name });
  }
}

export class Prober {
  /** When the next protocol period is due, to measure how late it runs. */
  private dueAtMs = 0;
  private lastPeriodMs = 1;
  private readonly latenessListeners = new Set<(latenessMs: number, periodMs: number) => void>();

  constructor(
    private readonly d: ProbeDeps,
    private readonly timers: TimerSet,
  ) {}

  /** Arms the first protocol period `firstProbeMs` from now. */
  start(firstProbeMs: number): void {
    this.dueAtMs = this.d.ctx.env.scheduler.nowMs() + firstProbeMs;
    this.timers.arm('probe', firstProbeMs, () => this.tick());
  }

  /** Sets the period the first lateness is measured against. */
  setLastPeriod(periodMs: number): void {
    this.lastPeriodMs = periodMs;
  }

  onPeriod(listener: (latenessMs: number, periodMs: number) => void): () => void {
    this.latenessListeners.add(listener);
    return () => this.latenessListeners.delete(listener);
  }

  /** Helper's side of an indirect ping: ping the target ourselves and relay its ack (or a nack) to the requester. */
  relayIndirectPing(ind: IndirectPingMsg, from: Address): void {
    const { ctx, acks, outbox } = this.d;
    const targetHost = bytesToIp(ind.target);
    if (targetHost === null) return countDrop(ctx.stats, 'bad-address');
    const requester = replyAddress(from, ind.sourceAddr, ind.sourcePort);
    const localSeq = acks.nextSeq();
    let answered = false;
    const registered = acks.expect(
      localSeq,
      () => {
        answered = true;
        outbox.sendWithPiggyback(requester, encodeMessage({ type: MessageType.AckResp, body: { seqNo: ind.seqNo, payload: null } }));
      },
      () => {},
      ctx.cfg.probeTimeoutMs,
    );
    if (!registered) return;
    outbox.sendWithPiggyback({ host: targetHost, port: ind.port }, encodeMessage({ type: MessageType.Ping, body: pingOf(ctx, localSeq, ind.node) }));
    if (ind.nack) {
      ctx.env.scheduler.setTimer(ctx.cfg.probeTimeoutMs, () => {
        if (answered || ctx.life.stopped) return;
        outbox.sendWithPiggyback(requester, encodeMessage({ type: MessageType.NackResp, body: { seqNo: ind.seqNo } }));
      });
    }
  }

  /** A probe round of `m` now, outside the schedule (the crash watch saw its host refuse a ping). */
  probeNow(m: MemberRecord): void {
    const { ctx, awareness } = this.d;
    if (ctx.life.stopped || m === this.d.table.self || (m.state !== 'alive' && m.state !== 'suspect')) return;
    new ProbeRound(this.d, m, awareness.scaleTimeoutMs(ctx.cfg.probeIntervalMs)).start();
  }

  private tick(): void {
    const { ctx, table, awareness } = this.d;
    if (ctx.life.stopped) return;
    const now = ctx.env.scheduler.nowMs();
    const latenessMs = Math.max(0, now - this.dueAtMs);
    const periodMs = awareness.scaleTimeoutMs(ctx.cfg.probeIntervalMs);
    this.timers.arm('probe', periodMs, () => this.tick());
    const stats = ctx.stats;
    stats.probePeriods++;
    if (latenessMs > stats.maxProbeLatenessMs) stats.maxProbeLatenessMs = latenessMs;
    if (latenessMs >= this.lastPeriodMs) stats.missedProbePeriods += Math.floor(latenessMs / this.lastPeriodMs);
    for (const l of this.latenessListeners) l(latenessMs, this.lastPeriodMs);
    this.dueAtMs = now + periodMs;
    this.lastPeriodMs = periodMs;
    const target = table.nextProbeTarget();
    if (target) new ProbeRound(this.d, target, periodMs).start();
  }
}
