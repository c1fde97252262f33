// Anti-entropy: full-state push/pull over a stream, as initiator (periodic,
// join, reconnect) and as responder; the ramp after start and join; Serf-style
// reconnection to dead members and missing seeds; memberlist's version check.
import { encodeMessage } from '../wire/codec.js';
import { MessageType, WireState, type PushNodeState, type PushPullMsg } from '../wire/messages.js';
import { openStream } from '../wire/stream.js';
import type { CoreContext } from './context.js';
import type { Address } from '../base/env.js';
import { SwimError } from './errors.js';
import { addressOf } from './member.js';
import type { MemberTable } from './member-table.js';
import type { MemberState } from './member-types.js';
import type { Outbox } from './outbox.js';
import type { StateRules } from './state-rules.js';
import { countDrop, type UserStateRefusal } from './stats.js';
import type { TimerSet } from './timer-set.js';
import { pushPullScaledIntervalMs } from './timing.js';

/**
 * The opaque user state push/pull carries after the node states (memberlist's
 * LocalState / MergeRemoteState). The core only moves the bytes.
 */
export interface UserStateDelegate {
  /**
   * Bytes to send: `peer` is the member dialled (null for a seed or any other
   * address not known by name), `incoming` the state the initiator sent when
   * answering (null when initiating). Empty for none.
   */
  localState(peer: string | null, incoming: Uint8Array | null): Uint8Array;
  /** A non-empty state received; returns why it was refused (counted as `user-state-<refusal>`), or null. */
  remoteState(state: Uint8Array): UserStateRefusal | null;
}

const NO_STATE = new Uint8Array(0);

const WIRE_STATE: Record<MemberState, WireState> = { alive: WireState.Alive, suspect: WireState.Suspect, dead: WireState.Dead, left: WireState.Left };

export class AntiEntropy {
  private inFlight = 0;
  private seeds: Address[] = [];
  /** Next delay while ramping up push/pull after a start or join; null once at the full interval. */
  private rampMs: number | null = null;
  private userState: UserStateDelegate | null = null;

  constructor(
    private readonly ctx: CoreContext,
    private readonly table: MemberTable,
    private readonly outbox: Outbox,
    private readonly rules: StateRules,
    private readonly timers: TimerSet,
  ) {}

  inFlightCount(): number {
    return this.inFlight;
  }

  setSeeds(seeds: Address[]): void {
    this.seeds = seeds;
  }

  setUserState(delegate: UserStateDelegate | null): void {
    this.userState = delegate;
  }

  /** Starts (or restarts, on join) the ramp from one probe interval. */
  startRamp(): void {
    this.rampMs = this.ctx.cfg.probeIntervalMs;
  }

  /** The interval knob changed: arm the timer for the new value straight away (no ramp), or stop it at 0. */
  intervalChanged(): void {
    this.timers.cancel('push-pull');
    this.rampMs = null;
    this.schedule();
  }

  /** Exchanges state with every seed; done gets how many answered. */
  join(targets: Address[], done?: (err: Error | null, contacted: number) => void): void {
    let pending = targets.length;
    let contacted = 0;
    let lastErr: Error | null = null;
    for (const seed of targets) {
      this.exchange(seed, true, null, (err) => {
        if (err) lastErr = err;
        else contacted++;
        if (--pending === 0) done?.(contacted > 0 ? null : new SwimError('JOIN_FAILED', `no seed answered: ${lastErr?.message ?? 'unknown'}`), contacted);
      });
    }
  }

  /**
   * Push/pull runs every pushPullScaledIntervalMs, but a member that has just
   * started or joined ramps up to that from one probe interval, doubling each
   * time: a few early full-state exchanges with random members merge every
   * view within seconds instead of waiting a whole interval for gossip misses.
   * The ramp ends early once an exchange teaches nothing after a quiet ramp step.
   */
  schedule(): void {
    const { ctx, table } = this;
    if (ctx.life.stopped || ctx.cfg.pushPullIntervalMs <= 0) return;
    const interval = pushPullScaledIntervalMs(ctx.cfg.pushPullIntervalMs, table.estimatedMembers());
    let delay = interval;
    if (this.rampMs !== null && this.rampMs < interval) {
      delay = this.rampMs + ctx.env.random.int(Math.max(1, Math.floor(this.rampMs / 2)));
      this.rampMs *= 2;
    } else this.rampMs = null;
    this.timers.rearm('push-pull', delay, () => {
      if (ctx.life.stopped) return;
      const [peer] = table.randomMembers(1, (m) => m !== table.self && m.state === 'alive');
      if (peer) {
        const changesBefore = table.viewChanges();
        const quietForMs = delay;
        this.exchange(addressOf(peer), false, peer.name, (err) => {
          // The ramp exists to converge quickly after start and join. Once an
          // exchange teaches nothing and the view has not changed for a whole
          // ramp step, the cluster has settled around this member: go back to
          // the normal interval rather than keep exchanging full state. While
          // members are still joining the view keeps changing and the ramp
          // goes on.
          const quiet = ctx.env.scheduler.nowMs() - table.lastViewChangeAtMs() >= quietForMs;
          if (err || table.viewChanges() !== changesBefore || !quiet || this.rampMs === null) return;
          this.rampMs = null;
          this.schedule();
        });
      }
      this.schedule();
    });
  }

  scheduleReconnect(): void {
    const { ctx } = this;
    if (ctx.life.stopped || ctx.cfg.reconnectIntervalMs <= 0) return;
    this.timers.arm('reconnect', ctx.cfg.reconnectIntervalMs, () => {
      if (ctx.life.stopped) return;
      this.reconnectTick();
      this.scheduleReconnect();
    });
  }

  /** Responder role: merge what the initiator sent, then answer with our state (or an error). */
  answer(body: PushPullMsg, reply: (data: Uint8Array | null) => void): void {
    const { ctx, outbox } = this;
    if (this.inFlight >= ctx.cfg.maxConcurrentPushPulls) {
      countDrop(ctx.stats, 'push-pull-busy');
      return reply(outbox.sealForStream(encodeMessage({ type: MessageType.Err, body: { error: 'too many pending push/pull requests' } })));
    }
    const problem = this.incompatibility(body.nodes);
    if (problem) {
      countDrop(ctx.stats, 'incompatible-protocol');
      return reply(outbox.sealForStream(encodeMessage({ type: MessageType.Err, body: { error: problem } })));
    }
    ctx.stats.pushPulls++;
    // Merging before answering puts any refutation in the reply itself, so
    // one exchange is enough to re-merge the two sides of a healed partition.
    this.mergeRemoteState(body.nodes);
    const incoming = body.userState.length > 0 ? body.userState : null;
    if (incoming) this.mergeUserState(incoming);
    return reply(outbox.sealForStream(this.localState(body.join, this.userState?.localState(null, incoming) ?? NO_STATE)));
  }

  /** Initiator role: send our state to `to` (the member `peer`, when known by name), merge the reply. */
  exchange(to: Address, join: boolean, peer: string | null, done?: (err: Error | null) => void): void {
    const { ctx, outbox } = this;
    const stats = ctx.stats;
    if (ctx.life.stopped) return done?.(new SwimError('NOT_RUNNING', 'node is shut down'));
    if (this.inFlight >= ctx.cfg.maxConcurrentPushPulls) {
      countDrop(stats, 'push-pull-busy');
      return done?.(new SwimError('PUSH_PULL_FAILED', 'too many push/pulls in flight'));
    }
    this.inFlight++;
    const userState = this.userState?.localState(peer, null) ?? NO_STATE;
    ctx.env.streams.request(to, outbox.sealForStream(this.localState(join, userState)), true, ctx.cfg.tcpTimeoutMs, (err, reply) => {
      this.inFlight--;
      ctx.invariants.check(this.inFlight >= 0, 'push-pulls-in-flight-negative');
      if (ctx.life.stopped) return done?.(new SwimError('NOT_RUNNING', 'node is shut down'));
      if (err || !reply) {
        stats.pushPullFailures++;
        return done?.(err ?? new SwimError('PUSH_PULL_FAILED', 'no reply'));
      }
      const opened = openStream(reply, ctx.security, ctx.limits);
      if (!opened.ok) {
        stats.pushPullFailures++;
        countDrop(stats, `stream-${opened.reason}`);
        return done?.(new SwimError('PUSH_PULL_FAILED', `bad reply: ${opened.reason}`));
      }
      const msg = opened.value;
      if (msg.type === MessageType.Err) {
        stats.pushPullFailures++;
        return done?.(new SwimError('PUSH_PULL_FAILED', `remote error: ${msg.body.error}`));
      }
      if (msg.type !== MessageType.PushPull) {
        stats.pushPullFailures++;
        return done?.(new SwimError('PUSH_PULL_FAILED', `unexpected reply type ${msg.type}`));
      }
      const problem = this.incompatibility(msg.body.nodes);
      if (problem) {
        stats.pushPullFailures++;
        return done?.(new SwimError('INCOMPATIBLE_PROTOCOL', problem));
      }
      stats.pushPulls++;
      this.mergeRemoteState(msg.body.nodes);
      if (msg.body.userState.length > 0) this.mergeUserState(msg.body.userState);
      // This node dialled that address and got a full state back: whoever lives there is reached.
      const there = this.table.liveHolderOf(to.host, to.port, '');
      if (there) this.rules.markContacted(there, to);
      done?.(null);
    });
  }

  /** Serf-style: retry one dead member and any seed that is not an alive member, so split halves merge again. */
  private reconnectTick(): void {
    const { ctx, table } = this;
    if (ctx.life.leaving) return;
    const dead = table.randomMemberIn('dead');
    if (dead) {
      ctx.stats.reconnects++;
      this.exchange(addressOf(dead), false, dead.name);
    }
    if (this.seeds.length > 0) {
      const missing = this.seeds.filter((s) => !table.hasAliveAt(s.host, s.port));
      if (missing.length > 0) {
        ctx.stats.reconnects++;
        this.exchange(missing[ctx.env.random.int(missing.length)]!, true, null);
      }
    }
  }

  private localState(join: boolean, userState: Uint8Array): Uint8Array {
    const nodes: PushNodeState[] = [];
    for (const m of this.table.all()) {
      if (nodes.length >= this.ctx.cfg.maxPushPullNodes) break;
      nodes.push({ name: m.name, addr: m.addr, port: m.port, meta: m.meta, incarnation: m.incarnation, state: WIRE_STATE[m.state], vsn: Uint8Array.from(m.vsn) });
    }
    return encodeMessage({ type: MessageType.PushPull, body: { join, nodes, userState } });
  }

  /** memberlist's verifyProtocol: every alive member's current versions must lie in the common range. */
  private incompatibility(remote: PushNodeState[]): string | null {
    // One pass for the common range, one to find a version outside it: this
    // runs for every push/pull over both views, so no per-member arrays.
    const range = { any: false, maxPMin: -Infinity, minPMax: Infinity, maxDMin: -Infinity, minDMax: Infinity };
    const widen = (v: ArrayLike<number>): void => {
      range.any = true;
      range.maxPMin = Math.max(range.maxPMin, v[0]!);
      range.minPMax = Math.min(range.minPMax, v[1]!);
      range.maxDMin = Math.max(range.maxDMin, v[3]!);
      range.minDMax = Math.min(range.minDMax, v[4]!);
    };
    const members = this.table.all();
    for (const m of members) if (m.state === 'alive' && m.vsn.length >= 6) widen(m.vsn);
    for (const r of remote) if (r.state === WireState.Alive && r.vsn.length >= 6) widen(r.vsn);
    if (!range.any) return null;
    const { maxPMin, minPMax, maxDMin, minDMax } = range;
    const outside = (v: ArrayLike<number>): string | null => {
      if (v[2]! < maxPMin || v[2]! > minPMax) return `protocol version ${v[2]} outside the common range ${maxPMin}..${minPMax}`;
      if (v[5]! < maxDMin || v[5]! > minDMax) return `delegate version ${v[5]} outside the common range ${maxDMin}..${minDMax}`;
      return null;
    };
    for (const m of members) {
      if (m.state !== 'alive' || m.vsn.length < 6) continue;
      const problem = outside(m.vsn);
      if (problem) return problem;
    }
    for (const r of remote) {
      if (r.state !== WireState.Alive || r.vsn.length < 6) continue;
      const problem = outside(r.vsn);
      if (problem) return problem;
    }
    return null;
  }

  private mergeUserState(state: Uint8Array): void {
    // Without a delegate every state is ignored, as memberlist does.
    if (!this.userState) return;
    const refused = this.userState.remoteState(state);
    if (refused !== null) countDrop(this.ctx.stats, `user-state-${refused}`);
  }

  private mergeRemoteState(nodes: PushNodeState[]): void {
    const rules = this.rules;
    for (const r of nodes) {
      switch (r.state) {
        case WireState.Alive:
          rules.aliveNode({ incarnation: r.incarnation, node: r.name, addr: r.addr, port: r.port, meta: r.meta, vsn: r.vsn }, false);
          break;
        case WireState.Left:
          rules.deadNode({ incarnation: r.incarnation, node: r.name, from: r.name });
          break;
        default:
          // A remote "dead" is only a suspicion here: the member gets a chance to refute.
          rules.suspectNode({ incarnation: r.incarnation, node: r.name, from: this.ctx.name });
      }
    }
  }
}
