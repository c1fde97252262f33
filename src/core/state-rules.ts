// memberlist's precedence rules for alive, suspect and dead (aliveNode,
// suspectNode, deadNode in its state.go): which message wins, suspicion timers
// with Lifeguard confirmations, refuting accusations against this node,
// correcting stale accusations, and the member events observers see.
import type { Address } from '../base/env.js';
import { encodeMessage } from '../wire/codec.js';
import { META_MAX_BYTES, MessageType, type AliveMsg, type DeadMsg, type Message, type SuspectMsg } from '../wire/messages.js';
import { bytesToIp } from './addresses.js';
import { checkAlive } from './identity.js';
import type { Awareness } from './awareness.js';
import type { CoreContext } from './context.js';
import { addressOf, isDeadOrLeft, sameBytes, snapshotOf, type MemberRecord } from './member.js';
import type { MemberTable } from './member-table.js';
import { STATE_RANK, type MemberEvent, type MemberState } from './member-types.js';
import type { Outbox } from './outbox.js';
import { countDrop } from './stats.js';
import { Suspicion } from './suspicion.js';
import { expectedConfirmations, suspicionTimeoutsMs } from './timing.js';

/** Pairs (accuser, member) remembered for stale-accusation answers before the memory is reset. */
const CORRECTED_PAIRS_MAX = 256;

export class StateRules {
  private readonly suspicions = new Map<string, Suspicion>();
  /** Members whose running suspicion a refused probe shortened (a subset of suspicions' keys). */
  private readonly refusalBacked = new Set<string>();
  private readonly listeners = new Set<(ev: MemberEvent) => void>();
  private readonly selfAccusedListeners = new Set<() => Uint8Array | null>();
  private readonly refusalListeners = new Set<(name: string, incarnation: number) => void>();
  private refuteGossipPending = false;
  private lastReassertAtMs = -Infinity;
  private readonly corrected = new Map<string, number>();

  constructor(
    private readonly ctx: CoreContext,
    private readonly table: MemberTable,
    private readonly outbox: Outbox,
    private readonly awareness: Awareness,
    /** Sends queued broadcasts now instead of at the next gossip tick. */
    private readonly gossipNow: () => void,
  ) {}

  /** Called when an alive changed what this node holds about another live member (the subject is told). */
  onUpdatedOther: ((m: MemberRecord) => void) | null = null;

  /** Called when this node starts suspecting `m` on another member's word (the crash watch checks it for a refusal). */
  onHeardSuspicion: ((m: MemberRecord) => void) | null = null;

  /** Called for a member heard of at an address this node has not reached yet (the verifier pings it). */
  onUnverified: ((m: MemberRecord) => void) | null = null;

  /**
   * This node reached `m` at `at`: if `m` still lives there it may now hold
   * roles, and observers get an update event. An answer to a ping sent before
   * the member moved proves the old address only, so it verifies nothing.
   */
  markContacted(m: MemberRecord, at: Address): void {
    if (m.contacted || this.table.get(m.name) !== m || m.host !== at.host || m.port !== at.port) return;
    m.contacted = true;
    m.verified = { host: m.host, port: m.port, addr: m.addr };
    this.table.touch(m);
    this.emit({ kind: 'update', member: snapshotOf(m) });
  }

  /**
   * Nobody answered to `m`'s name at the address it moved to. If it was reached
   * before at another address that no live member holds now, it goes back there
   * (to be verified again): a forged takeover of a real member's address heals
   * without waiting for a death and a push/pull. Returns true when it moved.
   */
  revertUnverifiedMove(m: MemberRecord): boolean {
    const v = m.verified;
    if (m.contacted || v === null || this.table.get(m.name) !== m || (v.host === m.host && v.port === m.port)) return false;
    if (this.table.liveHolderOf(v.host, v.port, m.name, true) !== undefined) return false;
    this.table.setAddress(m, v.host, v.port, v.addr);
    this.table.touch(m);
    this.ctx.stats.addressReverts++;
    this.emit({ kind: 'update', member: snapshotOf(m) });
    return true;
  }

  /**
   * Called before this node refutes a suspect or dead message about itself (not
   * an alive about itself): flap damping counts these refutations as its own flaps.
   * Metadata a listener returns goes out with the refutation (the damped tag
   * with the refutation that earned it), without an incarnation of its own.
   */
  onSelfAccused(listener: () => Uint8Array | null): () => void {
    this.selfAccusedListeners.add(listener);
    return () => this.selfAccusedListeners.delete(listener);
  }

  private noteSelfAccused(): void {
    for (const l of this.selfAccusedListeners) {
      try {
        const meta = l();
        if (meta === null || meta === undefined) continue;
        if (meta.length > META_MAX_BYTES) {
          countDrop(this.ctx.stats, 'listener-error');
          this.ctx.log.log('error', 'metadata staged for a refutation is too large; not sent', { bytes: meta.length });
        } else this.table.self.meta = Uint8Array.from(meta);
      } catch (err) {
        countDrop(this.ctx.stats, 'listener-error');
        this.ctx.log.log('error', 'self-accusation listener failed', { err: String(err) });
      }
    }
  }

  on(listener: (ev: MemberEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops every suspicion timer (shutdown). */
  cancelAll(): void {
    for (const s of this.suspicions.values()) s.cancel();
    this.suspicions.clear();
    this.refusalBacked.clear();
  }

  /** The alive message that states what this node holds about `m` (for itself: its own advertisement). */
  aliveOf(m: MemberRecord): Message {
    return { type: MessageType.Alive, body: { incarnation: m.incarnation, node: m.name, addr: m.addr, port: m.port, meta: m.meta, vsn: Uint8Array.from(m.vsn) } };
  }

  aliveNode(a: AliveMsg, bootstrap: boolean): void {
    const { ctx, table } = this;
    if (ctx.life.leaving && a.node === ctx.name) return;
    if (a.vsn.length >= 3 && (a.vsn[0] === 0 || a.vsn[1] === 0 || a.vsn[0]! > a.vsn[1]!)) return countDrop(ctx.stats, 'bad-version');
    const isLocal = a.node === ctx.name;
    if (!isLocal) {
      // Old news about a known member at the address it holds, by far the most
      // common alive (each is heard many times over): nothing changes and, as
      // name, address and port are the record's own, which passed the identity
      // checks, none of them can refuse it; only new metadata is checked.
      const known = table.get(a.node);
      if (known !== undefined && a.incarnation <= known.incarnation && a.port === known.port && (a.meta === null || a.meta.length <= META_MAX_BYTES) && sameBytes(a.addr, known.addr)) return;
      const refusal = checkAlive(a, ctx.identity);
      if (refusal !== null) return countDrop(ctx.stats, `identity-${refusal}`);
    }
    const host = bytesToIp(a.addr);
    if (host === null) return countDrop(ctx.stats, 'bad-address');
    let m = table.get(a.node);
    let isNew = false;
    let updatesAddress = false;
    if (!isLocal && (m === undefined || m.host !== host || m.port !== a.port) && table.liveHolderOf(host, a.port, a.node, true) !== undefined) {
      // An address belongs to one live member: a second name there is forged, or a restart the old name has not yet left.
      return countDrop(ctx.stats, 'identity-address-taken');
    }
    if (m === undefined) {
      if (table.isFull()) return countDrop(ctx.stats, 'members-full');
      isNew = true;
      m = { name: a.node, host, port: a.port, addr: a.addr, meta: a.meta ?? new Uint8Array(0), incarnation: a.incarnation, state: 'dead', stateChangedAtMs: ctx.env.scheduler.nowMs(), vsn: Array.from(a.vsn), changeSeq: 0, snapshot: null, contacted: isLocal, verified: isLocal ? { host, port: a.port, addr: a.addr } : null };
      table.add(m);
    } else if (!isLocal && (m.host !== host || m.port !== a.port)) {
      // Another process claims the name from another address: accept only if the old one is gone,
      // or if the address we hold was never verified and the claim is newer (the real member
      // refuting a forged takeover with a higher incarnation wins its address back).
      if (!isDeadOrLeft(m) && (m.contacted || a.incarnation <= m.incarnation)) return countDrop(ctx.stats, 'address-conflict');
      updatesAddress = true;
    }
    if (!isNew) {
      if (isLocal && a.incarnation < m.incarnation) return;
      if (!isLocal && a.incarnation <= m.incarnation && !updatesAddress) return;
    }
    this.stopSuspicion(a.node);
    const oldState: MemberState = isNew ? 'dead' : m.state;
    const oldMeta = m.meta;
    const oldIncarnation = m.incarnation;
    if (!bootstrap && isLocal) {
      if (a.incarnation === m.incarnation && sameBytes(a.meta, m.meta) && a.vsn.length === m.vsn.length && a.vsn.every((v, i) => v === m.vsn[i])) return;
      this.refute(a.incarnation);
      return;
    }
    this.outbox.queueBroadcast(a.node, { type: MessageType.Alive, body: a });
    // A new process under a dead member's name and address starts its own incarnations.
    if (!isNew && !updatesAddress) this.checkForward(m, a.incarnation, 'alive');
    m.incarnation = a.incarnation;
    m.meta = a.meta ?? new Uint8Array(0);
    // A member at a new address has to be reached there before it is trusted again.
    if (updatesAddress) m.contacted = false;
    table.setAddress(m, host, a.port, a.addr);
    if (a.vsn.length >= 6) m.vsn = Array.from(a.vsn);
    table.touch(m, 'alive');
    if (!m.contacted && (isNew || updatesAddress)) this.onUnverified?.(m);
    const snap = snapshotOf(m);
    if (isNew || oldState === 'left') {
      ctx.stats.joins++;
      this.emit({ kind: 'join', member: snap });
    } else if (oldState !== 'alive') {
      this.emit({ kind: 'alive-again', member: snap });
      // Back from suspect or dead with other metadata: the member is told too (a forged revival is refuted).
      if (!sameBytes(oldMeta, m.meta) || updatesAddress) this.onUpdatedOther?.(m);
    } else if (!sameBytes(oldMeta, m.meta) || updatesAddress || m.incarnation > oldIncarnation) {
      // Incarnation bumps are updates too: observers that derive values from the
      // whole view (the partition view version) must see every change.
      this.emit({ kind: 'update', member: snap });
      // Only what can hurt: a forged incarnation alone is outrun by the member's next refutation.
      if (!sameBytes(oldMeta, m.meta) || updatesAddress) this.onUpdatedOther?.(m);
    }
  }

  suspectNode(s: SuspectMsg): void {
    const { ctx, table } = this;
    const m = table.get(s.node);
    if (m && s.incarnation < m.incarnation && !ctx.life.leaving) {
      this.correctStaleAccusation(m, s.from);
      return;
    }
    if (!m || s.incarnation < m.incarnation) return;
    const existing = this.suspicions.get(s.node);
    if (existing) {
      if (existing.confirm(s.from)) this.outbox.queueBroadcast(s.node, { type: MessageType.Suspect, body: s });
      return;
    }
    if (m.state !== 'alive') return;
    if (s.node === ctx.name) {
      this.noteSelfAccused();
      this.refute(s.incarnation);
      return;
    }
    this.outbox.queueBroadcast(s.node, { type: MessageType.Suspect, body: s });
    this.checkForward(m, s.incarnation, 'suspect');
    m.incarnation = s.incarnation;
    table.touch(m, 'suspect');
    ctx.stats.suspicions++;
    const n = table.estimatedMembers();
    const k = expectedConfirmations(ctx.cfg.suspicionMult, n);
    const { minMs, maxMs } = suspicionTimeoutsMs(n, ctx.cfg.suspicionMult, ctx.cfg.suspicionMaxTimeoutMult, ctx.cfg.probeIntervalMs);
    const seq = m.changeSeq;
    const name = s.node;
    this.suspicions.set(
      name,
      new Suspicion(ctx.env.scheduler, s.from, k, minMs, maxMs, () => {
        if (ctx.life.stopped) return;
        const cur = table.get(name);
        if (!cur || cur.state !== 'suspect' || cur.changeSeq !== seq) return;
        const urgent = this.refusalBacked.has(name);
        this.deadNode({ incarnation: cur.incarnation, node: name, from: ctx.name });
        // A death on a refusal's evidence is news the rest are not expecting yet: send it now.
        if (urgent) this.gossipNow();
      }),
    );
    this.emit({ kind: 'suspect', member: snapshotOf(m), from: s.from });
    if (s.from !== ctx.name) this.onHeardSuspicion?.(m);
  }

  /**
   * The host of `name` refused a probe sent to it at `incarnation`: nothing
   * listens on its port, so the process is gone (or restarting). Suspect it now,
   * and let the suspicion end in death after refusalSuspicionMult probe
   * intervals unless the Lifeguard timeout is sooner. A member that comes back
   * refutes with a higher incarnation, which ends the suspicion as usual.
   * Returns false when the fast path is off or does not apply.
   */
  refusedProbe(name: string, incarnation: number): boolean {
    const { ctx, table } = this;
    if (ctx.cfg.refusalSuspicionMult <= 0 || name === ctx.name) return false;
    const m = table.get(name);
    if (!m || m.incarnation !== incarnation || (m.state !== 'alive' && m.state !== 'suspect')) return false;
    ctx.stats.refusedProbes++;
    if (m.state === 'alive') this.suspectNode({ incarnation, node: name, from: ctx.name });
    const s = this.suspicions.get(name);
    if (s === undefined) return false;
    s.shortenTo(this.awareness.scaleTimeoutMs(ctx.cfg.refusalSuspicionMult * ctx.cfg.probeIntervalMs));
    this.refusalBacked.add(name);
    for (const l of this.refusalListeners) {
      try {
        l(name, incarnation);
      } catch (err) {
        countDrop(ctx.stats, 'listener-error');
        ctx.log.log('error', 'refusal listener failed', { err: String(err) });
      }
    }
    return true;
  }

  /**
   * Called when this node's probe of a member was refused over UDP and TCP (its
   * host is up and nothing listens: the process is gone or restarting), with the
   * incarnation it is now suspected at. Membership still waits out the short
   * suspicion; partition ownership need not (a restarted process holds nothing).
   */
  onRefusalBacked(listener: (name: string, incarnation: number) => void): () => void {
    this.refusalListeners.add(listener);
    return () => this.refusalListeners.delete(listener);
  }

  deadNode(d: DeadMsg): void {
    const { ctx, table } = this;
    const m = table.get(d.node);
    if (m && d.incarnation < m.incarnation && d.node !== d.from && !ctx.life.leaving) {
      this.correctStaleAccusation(m, d.from);
      return;
    }
    if (!m || d.incarnation < m.incarnation) return;
    this.stopSuspicion(d.node);
    if (isDeadOrLeft(m)) return;
    if (d.node === ctx.name && !ctx.life.leaving) {
      this.noteSelfAccused();
      this.refute(d.incarnation);
      return;
    }
    this.outbox.queueBroadcast(d.node, { type: MessageType.Dead, body: d });
    const left = d.node === d.from;
    this.checkForward(m, d.incarnation, left ? 'left' : 'dead');
    m.incarnation = d.incarnation;
    table.touch(m, left ? 'left' : 'dead');
    if (left) {
      ctx.stats.leaves++;
      this.emit({ kind: 'left', member: snapshotOf(m) });
    } else {
      ctx.stats.deaths++;
      this.emit({ kind: 'dead', member: snapshotOf(m), from: d.from });
    }
  }

  private stopSuspicion(name: string): void {
    this.suspicions.get(name)?.cancel();
    this.suspicions.delete(name);
    this.refusalBacked.delete(name);
  }

  /** What this node holds of a member never goes back in (incarnation, state rank). */
  private checkForward(m: MemberRecord, incarnation: number, state: MemberState): void {
    const forward = incarnation > m.incarnation || (incarnation === m.incarnation && STATE_RANK[state] >= STATE_RANK[m.state]);
    this.ctx.invariants.check(forward, 'view-went-back', () => ({ member: m.name, from: [m.incarnation, m.state], to: [incarnation, state] }));
  }

  private emit(ev: MemberEvent): void {
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (err) {
        countDrop(this.ctx.stats, 'listener-error');
        this.ctx.log.log('error', 'member event listener failed', { err: String(err) });
      }
    }
  }

  private refute(accusedIncarnation: number): void {
    const { ctx } = this;
    const self = this.table.self;
    let inc = self.incarnation + 1;
    if (accusedIncarnation >= inc) inc = accusedIncarnation + 1;
    self.incarnation = inc;
    this.table.touch(self);
    ctx.stats.refutes++;
    this.emit({ kind: 'update', member: snapshotOf(self) });
    this.awareness.applyDelta(1);
    this.outbox.queueBroadcast(ctx.name, this.aliveOf(self));
    // A refutation races suspicion timers all over the cluster: send it now
    // rather than at the next gossip tick.
    if (ctx.life.running && !this.refuteGossipPending) {
      this.refuteGossipPending = true;
      ctx.env.scheduler.setTimer(0, () => {
        this.refuteGossipPending = false;
        this.gossipNow();
      });
    }
  }

  /**
   * A suspect or dead message older than what this node knows about an alive
   * member: the accuser missed a refutation (easy among the many broadcasts a
   * healed partition produces) and would keep its suspicion until it times
   * out, then declare a death nobody else believes. Send the accuser the alive
   * this node holds; if the member is this node, also re-announce it through
   * gossip (no new incarnation). memberlist ignores such messages; this only
   * repeats a fact, so it cannot move any view backwards. Bounded: one reply
   * per (accuser, member) and one re-announcement per probe interval,
   * remembered for at most CORRECTED_PAIRS_MAX pairs.
   */
  private correctStaleAccusation(m: MemberRecord, accuser: string): void {
    if (m.state !== 'alive') return;
    const { ctx } = this;
    const isSelf = m === this.table.self;
    if (isSelf) ctx.stats.staleAccusations++;
    const now = ctx.env.scheduler.nowMs();
    const alive = this.aliveOf(m);
    const peer = this.table.get(accuser);
    const key = `${accuser}\u0000${m.name}`;
    const last = this.corrected.get(key) ?? -Infinity;
    if (peer && peer !== this.table.self && !isDeadOrLeft(peer) && now - last >= ctx.cfg.probeIntervalMs) {
      if (this.corrected.size >= CORRECTED_PAIRS_MAX) this.corrected.clear();
      this.corrected.set(key, now);
      ctx.stats.staleAnswers++;
      this.outbox.sendRaw(addressOf(peer), encodeMessage(alive), peer);
    }
    if (isSelf && now - this.lastReassertAtMs >= ctx.cfg.probeIntervalMs) {
      this.lastReassertAtMs = now;
      this.outbox.queueBroadcast(ctx.name, alive);
    }
  }
}
