// Crash watch: between probe rounds, every member pings the next live member
// after itself in name order (a ring, so each member is watched by one
// other), every crashWatchIntervalMs. The ping is an ordinary memberlist ping
// naming its target, answered by any peer, Serf agents included. Only a
// ping decides nothing by itself: a refusal (the target's host answering that
// nothing listens on its port: the process died on a host that is up), or
// SILENT_MISSES pings in a row without an ack, start a probe round of the
// target at once. That round decides as any other: the crash fast path's TCP
// check for a refusal (probe.ts), indirect probes and Lifeguard for silence,
// so the watch accuses no one on its own. What it shortens is the wait for
// the first probe of a failed member: one watch interval for a crash on a
// live host, SILENT_MISSES intervals otherwise, instead of when a probe round
// next picks the member (with n members, up to about 2n probe intervals for
// one prober). Cost: one ping and one ack per member per interval, whatever n.
//
// A suspicion heard from another member gets one such ping too, in clusters of
// at most CHECK_SUSPECT_MAX_MEMBERS: if the suspect's host refuses it, this
// member's own suspicion takes the crash fast path, so every member declares
// the death about one probe interval after the first suspicion instead of
// waiting for the dead message to reach it. Cost: one ping per member per
// suspicion, hence the bound.
import { encodeMessage } from '../wire/codec.js';
import { MessageType } from '../wire/messages.js';
import type { AckTable } from './ack-table.js';
import type { CoreContext } from './context.js';
import { addressOf, type MemberRecord } from './member.js';
import type { MemberTable } from './member-table.js';
import type { Outbox } from './outbox.js';
import { pingOf } from './probe.js';
import type { StateRules } from './state-rules.js';
import type { TimerSet } from './timer-set.js';

/** Watch pings in a row without an ack before the target gets a probe round (a lost datagram or two is common). */
export const SILENT_MISSES = 3;

/** Largest cluster in which every member checks a suspicion it hears with a ping of its own. */
export const CHECK_SUSPECT_MAX_MEMBERS = 64;

export class CrashWatch {
  /** The member watched now, and the view it was chosen from (recomputed when the view changes). */
  private watched: MemberRecord | null = null;
  private chosenAtChange = -1;
  /** The last refusal escalated: at most one probe round per member per probe interval. */
  private escalated = { name: '', atMs: -Infinity };
  /** Watch pings of `missed.name` in a row that got no ack. */
  private missed = { name: '', count: 0 };

  constructor(
    private readonly ctx: CoreContext,
    private readonly table: MemberTable,
    private readonly acks: AckTable,
    private readonly outbox: Outbox,
    private readonly rules: StateRules,
    private readonly timers: TimerSet,
    /** Starts a probe round of `m` now, outside the probe schedule. */
    private readonly probeNow: (m: MemberRecord) => void,
  ) {}

  start(firstMs: number): void {
    if (this.ctx.cfg.crashWatchIntervalMs > 0) this.timers.arm('crash-watch', firstMs, () => this.tick());
  }

  /** The member this node watches: the first live member after it in name order, wrapping around. */
  target(): MemberRecord | null {
    const changes = this.table.viewChanges();
    if (changes !== this.chosenAtChange) {
      this.chosenAtChange = changes;
      this.watched = this.successor();
    }
    const w = this.watched;
    return w !== null && this.table.get(w.name) === w && (w.state === 'alive' || w.state === 'suspect') ? w : null;
  }

  private successor(): MemberRecord | null {
    const self = this.table.self;
    let after: MemberRecord | null = null;
    let first: MemberRecord | null = null;
    for (const m of this.table.all()) {
      if (m === self || (m.state !== 'alive' && m.state !== 'suspect')) continue;
      if (m.name > self.name && (after === null || m.name < after.name)) after = m;
      if (first === null || m.name < first.name) first = m;
    }
    return after ?? first;
  }

  private tick(): void {
    const { ctx } = this;
    if (ctx.life.stopped) return;
    const intervalMs = ctx.cfg.crashWatchIntervalMs;
    if (intervalMs <= 0) return;
    this.timers.arm('crash-watch', intervalMs, () => this.tick());
    if (ctx.life.leaving || ctx.cfg.refusalSuspicionMult <= 0) return;
    const m = this.target();
    if (m === null) return;
    this.ping(m, intervalMs, {
      onAck: () => {
        if (this.missed.name === m.name) this.missed.count = 0;
      },
      onSilence: () => {
        if (this.missed.name !== m.name) this.missed = { name: m.name, count: 0 };
        if (++this.missed.count < SILENT_MISSES) return;
        this.missed.count = 0;
        // A suspect member is already being decided by its suspicion.
        if (m.state === 'alive' && this.escalate(m)) ctx.stats.crashWatchSilences++;
      },
      onRefused: () => {
        if (this.escalate(m)) ctx.stats.crashWatchRefusals++;
      },
    });
  }

  /** One ping to a member suspected on another's word; a refusal starts a probe round of it (the crash fast path). */
  checkSuspect(m: MemberRecord): void {
    const { ctx } = this;
    const intervalMs = ctx.cfg.crashWatchIntervalMs;
    if (intervalMs <= 0 || ctx.cfg.refusalSuspicionMult <= 0 || ctx.life.stopped || ctx.life.leaving) return;
    if (this.table.estimatedMembers() > CHECK_SUSPECT_MAX_MEMBERS) return;
    this.ping(m, intervalMs, {
      onRefused: () => {
        if (m.state !== 'suspect') return;
        ctx.stats.crashWatchRefusals++;
        this.probeNow(m);
      },
    });
  }

  /**
   * Pings `m` at its address now, watching for its host's refusal for `windowMs`.
   * Each outcome is reported only while `m` still holds that address; an ack also proves contact there.
   */
  private ping(m: MemberRecord, windowMs: number, on: { onAck?: () => void; onSilence?: () => void; onRefused: () => void }): void {
    const { ctx } = this;
    const seq = this.acks.nextSeq();
    const at = addressOf(m);
    const stillThere = (): boolean => !ctx.life.stopped && this.table.get(m.name) === m && m.host === at.host && m.port === at.port;
    const onAck = (): void => {
      this.rules.markContacted(m, at);
      if (stillThere()) on.onAck?.();
    };
    const onSilence = (): void => {
      if (stillThere()) on.onSilence?.();
    };
    if (!this.acks.expect(seq, onAck, () => {}, windowMs, onSilence)) return;
    ctx.stats.crashWatchPings++;
    const onRefused = (): void => {
      if (stillThere()) on.onRefused();
    };
    this.outbox.sendRaw(at, encodeMessage({ type: MessageType.Ping, body: pingOf(ctx, seq, m.name) }), undefined, { windowMs, onRefused });
  }

  /** Starts a probe round of `m` unless one was started for it by the watch within a probe interval. */
  private escalate(m: MemberRecord): boolean {
    const now = this.ctx.env.scheduler.nowMs();
    if (this.escalated.name === m.name && now - this.escalated.atMs < this.ctx.cfg.probeIntervalMs) return false;
    this.escalated = { name: m.name, atMs: now };
    this.probeNow(m);
    return true;
  }
}
