// Quorum-granted epochs: the fencing token of a partition is an epoch that a
// fixed quorum of eligible members granted to its owner.
//
// Rules (the vote rule of Raft, per partition, without a log):
//  - A member that computes itself the rightful primary of p (the top-ranked
//    eligible member in its own view) and sees at least `quorum` eligible
//    members alive asks every eligible member for epoch E = (highest epoch it
//    knows for p) + 1. The request carries the claimant's evidence (what it
//    holds about the members that outrank it for p: dead, left, suspect or
//    drained) which the granter merges like gossip before it decides.
//  - A granter grants E for p only if E is above every epoch it has granted or
//    seen committed for p (or it is the same grant again, to the same claimant),
//    and only if the claimant is the rightful primary of p in its own view. The
//    grant is recorded durably before the answer is sent.
//  - The claimant holds p with token E once `quorum` distinct members (itself
//    included) granted E to this very request; it announces the commit.
//  - It stops holding p the moment it is no longer rightful in its view, loses
//    sight of a quorum of eligible members, or learns of a higher epoch for p.
//  - A failed round is retried after a randomised back-off, so claimants whose
//    views disagree do not duel; except once, at once, when every refusal said
//    the claimant is rightful in the granter's view and only the epoch was taken
//    (by a claim made from a view that has since changed, its own or another's).
// Safety: two members cannot both hold epoch E for p, because each needs
// `quorum` grants of E, each member grants E at most once, and two quorums
// intersect while at most 2·quorum − 1 eligible members exist (checked here;
// above that, nobody claims or grants). A later owner's epoch is higher than an
// earlier one's, because its quorum intersects the earlier quorum, whose members
// refuse anything not above what they granted. Storage that rejects a token
// below the highest it accepted therefore accepts writes from one owner at a
// time, whatever the network, the clocks or pauses do.
//
// No I/O here: time, randomness, the view, durable storage and sending come in
// through OwnershipPorts, so the simulator runs this exact code.
import type { Random, Scheduler, TimerHandle } from '../base/env.js';
import type { Grant, GrantStore } from './grant-store.js';
import {
  decodeOwnership,
  decodeRefusedEvidence,
  isRefusedEvidence,
  type RefusedEvidence,
  encodeEntriesPacked,
  encodeOwnership,
  encodeVotesPacked,
  OwnershipKind,
  type ClaimMsg,
  type EpochEntry,
  type OwnershipMsg,
  type SyncMsg,
  type VoteEntry,
  type VoteMsg,
} from './ownership-wire.js';
import { SwimdError } from '../base/errors.js';

/** What the ownership protocol reads of the local member view. */
export interface OwnershipView {
  /** Rightful primary of p by the local view (rank over eligible members), with no quorum guard. */
  rightful(p: number): string | null;
  /** Eligible members in the alive state, this member included when it is eligible. */
  aliveEligibleCount(): number;
  aliveEligible(): Iterable<string>;
  /** Known, eligible by tag, and alive: may claim. */
  isAliveEligible(name: string): boolean;
  /** Known and eligible by tag (in any state but left): its grants count. */
  isEligibleMember(name: string): boolean;
  /** Members that rank above `name` for p and are not eligible now: the evidence a claim carries. */
  outranking(p: number, name: string): readonly string[];
  /** Members (eligible or not) that run the ownership protocol and should hear commits. */
  listeners(): Iterable<string>;
}

export interface OwnershipPorts {
  scheduler: Scheduler;
  random: Random;
  view: OwnershipView;
  store: GrantStore;
  /** Sends one datagram to a member by name; false when it is unknown or the payload is too large. */
  send(to: string, payload: Uint8Array): boolean;
  budgetBytes(): number;
  evidenceOf(names: Iterable<string>): Uint8Array[];
  mergeEvidence(messages: readonly Uint8Array[]): void;
  /** Refused-probe marks carried as evidence (ownership-wire.ts RefusedEvidence), after the rest is merged. */
  markRefused?(marks: readonly RefusedEvidence[]): void;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** Called for each committed partition with the time from its claim to the quorum of grants. */
  observeClaimMs?: (ms: number) => void;
  /**
   * Runs fn once the messages already received are handled (the daemon: before the rest of this
   * event-loop turn's deferred work). Grants decided meanwhile share one durable write, and
   * their answers leave after it. Without it every claim is written and answered at once.
   */
  defer?: (fn: () => void) => void;
  /** Runs fn as one change of the view: what it merges is published once, not once per part. */
  atomically?: (fn: () => void) => void;
  /** Runs fn after this turn's answers are on their way (the daemon: after the writes begin). Default: defer. */
  later?: (fn: () => void) => void;
}

export interface OwnershipOptions {
  self: string;
  partitions: number;
  /** Grants needed to hold an epoch; more than half of the eligible members. */
  quorum: number;
  /** A claim round not granted by then is retried with a higher epoch. */
  claimTimeoutMs: number;
  /** Upper bound of the randomised back-off between failed rounds. */
  claimBackoffMaxMs: number;
  /** One anti-entropy exchange of committed epochs per interval, with one random member. */
  syncIntervalMs: number;
  /** Datagrams per anti-entropy exchange (the table is sent in a rotating window). */
  syncMessagesPerTick: number;
  /** Most evidence items one claim carries. */
  maxEvidence: number;
}

export class OwnershipError extends SwimdError {
  declare readonly code: 'OWNERSHIP_INVARIANT';
  constructor(code: 'OWNERSHIP_INVARIANT', message: string) {
    super(code, message);
  }
}

export interface OwnershipStats {
  claimsStarted: number;
  commits: number;
  grantsGiven: number;
  grantsRefused: number;
  staleVotes: number;
  deposed: number;
  roundsFailed: number;
  /** Failed rounds asked again at once, without the back-off (every refusal was only for the epoch). */
  retriedAtOnce: number;
  universeExceeded: number;
  dropped: Record<string, number>;
}

/**
 * One claim request: its partitions and epochs as columns, and per partition the grants and
 * refusals counted so far. Which partitions are still in its round is kept per partition
 * (Ownership.roundRequest); the request is forgotten once none is.
 */
interface ClaimRequest {
  readonly requestId: number;
  readonly parts: Int32Array;
  readonly epochs: Float64Array;
  readonly startedAtMs: number;
  readonly grants: Int32Array;
  readonly refusals: Int32Array;
  /** Refusals that said the claimant is rightful in the granter's view: only the epoch was taken. */
  readonly epochOnlyRefusals: Int32Array;
  /** Per granter (this member included), what it answered per partition (VOTED_GRANT, VOTED_REFUSAL bits): each counts once. */
  readonly voters: Map<string, Uint8Array>;
  /** Partitions of this request still in their round. */
  live: number;
}

const VOTED_GRANT = 1;
const VOTED_REFUSAL = 2;

export type OwnershipChange = (partitions: readonly number[]) => void;

/** Most claimants remembered as refused, to be told when they count here again. */
const REFUSED_CLAIMANTS_MAX = 1024;

/** Answers and own claims waiting on the next durable write of grants. */
interface PendingWrite {
  grants: Grant[];
  votes: { claimant: string; requestId: number; votes: VoteEntry[] }[];
  /** This member's own claims: its vote counts once its grant is durable. */
  own: { requestId: number; parts: Int32Array; epochs: Float64Array }[];
}

export class Ownership {
  readonly stats: OwnershipStats = { claimsStarted: 0, commits: 0, grantsGiven: 0, grantsRefused: 0, staleVotes: 0, deposed: 0, roundsFailed: 0, retriedAtOnce: 0, universeExceeded: 0, dropped: {} };
  /** Epoch this member holds for p (0: not held). */
  private readonly held: Float64Array;
  /** Highest epoch this member granted (itself included) and to whom; recorded durably. */
  private readonly promised: Float64Array;
  private readonly promisedTo: (string | null)[];
  /** Highest committed epoch known for p and its owner. */
  private readonly knownEpoch: Float64Array;
  private readonly knownOwner: (string | null)[];
  /** Highest epoch seen for p anywhere (refusals included): the next claim goes above it. */
  private readonly highest: Float64Array;
  /** Request id of the round in flight for p (0: none; ids start at 1), and p's index in that request (its epoch is there). */
  private readonly roundRequest: Float64Array;
  private readonly roundSlot: Int32Array;
  /** Claim requests with a partition still in its round (so at most one per partition). */
  private readonly requests = new Map<number, ClaimRequest>();
  /** The partitions a reconcile claims, before they are copied out (reconcile may run again from a listener). */
  private readonly claimScratch: Int32Array;
  /** 1 while p is in claimScratch: a partition named twice in one reconcile is claimed once. */
  private readonly claimMarked: Uint8Array;
  private readonly attempts = new Map<number, number>();
  private readonly retryAt = new Map<number, number>();
  /** Partitions retried at once since they last committed (or stopped being this member's): once each. */
  private readonly retriedAtOnce = new Set<number>();
  private readonly timers = new Set<TimerHandle>();
  private retryTimer: TimerHandle | null = null;
  private syncTimer: TimerHandle | null = null;
  private syncCursor = 0;
  private requestSeq = 0;
  private readonly listeners = new Set<OwnershipChange>();
  /** Claimants refused since they last came to count here (bounded by REFUSED_CLAIMANTS_MAX). */
  private readonly refusedClaimants = new Set<string>();
  private stopped = false;
  /** Last quorum state seen by reconcile, to drop everything when it is lost. */
  private hadQuorum = false;
  /** The universe check is logged when it trips, not on every re-evaluation. */
  private reportedUniverse = false;
  /** Decided but not yet durable: sent after the next write. */
  private pending: PendingWrite = { grants: [], votes: [], own: [] };
  /** A write is in flight (an asynchronous store): the next batch waits for it, so answers leave in order. */
  private writing = false;
  private writeScheduled = false;

  constructor(
    readonly opts: OwnershipOptions,
    private readonly ports: OwnershipPorts,
  ) {
    if (!Number.isInteger(opts.quorum) || opts.quorum < 1) throw new OwnershipError('OWNERSHIP_INVARIANT', `quorum must be ≥ 1, got ${opts.quorum}`);
    const P = opts.partitions;
    this.held = new Float64Array(P);
    this.promised = new Float64Array(P);
    this.promisedTo = new Array<string | null>(P).fill(null);
    this.knownEpoch = new Float64Array(P);
    this.knownOwner = new Array<string | null>(P).fill(null);
    this.highest = new Float64Array(P);
    this.roundRequest = new Float64Array(P);
    this.roundSlot = new Int32Array(P);
    this.claimScratch = new Int32Array(P);
    this.claimMarked = new Uint8Array(P);
    // Restore what was promised before a restart: never grant those epochs again.
    for (const g of ports.store.load()) {
      if (g.partition < 0 || g.partition >= P) continue;
      this.promised[g.partition] = g.epoch;
      this.promisedTo[g.partition] = g.to;
      this.highest[g.partition] = Math.max(this.highest[g.partition]!, g.epoch);
    }
  }

  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      this.syncOnce();
      // A sweep, so no partition stays unclaimed by its rightful primary whatever message was lost.
      this.reconcile(null);
      this.syncTimer = this.ports.scheduler.setTimer(this.jitter(this.opts.syncIntervalMs), tick);
    };
    this.syncTimer = this.ports.scheduler.setTimer(this.jitter(this.opts.syncIntervalMs), tick);
  }

  stop(): void {
    this.stopped = true;
    this.syncTimer?.cancel();
    this.retryTimer?.cancel();
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    this.clearRounds();
    this.pending = { grants: [], votes: [], own: [] };
  }

  onChange(listener: OwnershipChange): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The epoch this member holds for p, or 0. */
  heldEpoch(p: number): number {
    return this.held[p]!;
  }

  knownEpochOf(p: number): number {
    return this.knownEpoch[p]!;
  }

  knownOwnerOf(p: number): string | null {
    return this.knownOwner[p]!;
  }

  promisedEpochOf(p: number): number {
    return this.promised[p]!;
  }

  /** What this member knows and promised about one partition (for operators and diagnostics). */
  detail(p: number): { held: number; knownEpoch: number; knownOwner: string | null; promisedEpoch: number; promisedTo: string | null; claimInFlight: boolean; retryScheduled: boolean } {
    return {
      held: this.held[p]!,
      knownEpoch: this.knownEpoch[p]!,
      knownOwner: this.knownOwner[p]!,
      promisedEpoch: this.promised[p]!,
      promisedTo: this.promisedTo[p]!,
      claimInFlight: this.roundRequest[p] !== 0,
      retryScheduled: this.retryAt.has(p),
    };
  }

  /** Enough eligible members alive, and few enough that two quorums must intersect. */
  quorumOk(): boolean {
    const n = this.ports.view.aliveEligibleCount();
    return n >= this.opts.quorum && n <= 2 * this.opts.quorum - 1;
  }

  /** Eligible members seen alive exceed 2·quorum − 1: quorums may not intersect, so nobody claims or grants. */
  universeExceeded(): boolean {
    return this.ports.view.aliveEligibleCount() > 2 * this.opts.quorum - 1;
  }

  /**
   * Re-evaluates partitions after the view changed: drops what this member may
   * no longer hold and claims what it should. `partitions` null means all.
   */
  reconcile(partitions: Iterable<number> | ArrayLike<number> | null): void {
    if (this.stopped) return;
    const quorum = this.quorumOk();
    const changed: number[] = [];
    if (!quorum) {
      const exceeded = this.universeExceeded();
      if (exceeded && !this.reportedUniverse) {
        this.stats.universeExceeded++;
        this.ports.log?.('error', 'more eligible members alive than 2 × partitions.quorum − 1: quorums may not intersect, so no partition is claimed or granted', { alive: this.ports.view.aliveEligibleCount(), quorum: this.opts.quorum });
      }
      this.reportedUniverse = exceeded;
      for (let p = 0; p < this.opts.partitions; p++) if (this.held[p]! > 0) this.drop(p, changed);
      this.clearRounds();
      this.hadQuorum = false;
      this.emit(changed);
      return;
    }
    const all = partitions === null || !this.hadQuorum;
    if (!this.hadQuorum && this.retryAt.size > 0) {
      // Quorum regained: what failed without it gets a fresh chance at once.
      this.retryAt.clear();
      this.attempts.clear();
      this.armRetry();
    }
    this.hadQuorum = true;
    this.reportedUniverse = false;
    let toClaim = 0;
    if (all) for (let p = 0; p < this.opts.partitions; p++) toClaim = this.consider(p, changed, toClaim);
    else if (isArrayLike(partitions)) for (let j = 0; j < partitions.length; j++) toClaim = this.consider(partitions[j]!, changed, toClaim);
    else for (const p of partitions) toClaim = this.consider(p, changed, toClaim);
    // Copied out before the listeners run: one of them may reconcile again, into the same scratch.
    const parts = toClaim > 0 ? this.claimScratch.slice(0, toClaim) : null;
    for (let j = 0; j < toClaim; j++) this.claimMarked[this.claimScratch[j]!] = 0;
    this.emit(changed);
    if (parts !== null) this.claim(parts);
  }

  /** One partition of reconcile: drops what is no longer held rightfully; returns toClaim, plus one if p is to be claimed (into claimScratch). */
  private consider(p: number, changed: number[], toClaim: number): number {
    const mine = this.ports.view.rightful(p) === this.opts.self;
    if (!mine) {
      if (this.held[p]! > 0) this.drop(p, changed);
      this.endRound(p);
      if (this.attempts.size > 0) this.attempts.delete(p);
      if (this.retriedAtOnce.size > 0) this.retriedAtOnce.delete(p);
      return toClaim;
    }
    if (this.held[p]! > 0 && this.held[p]! >= this.knownEpoch[p]!) return toClaim;
    if (this.held[p]! > 0) this.drop(p, changed);
    if (this.roundRequest[p] === 0 && this.claimMarked[p] === 0 && (this.retryAt.size === 0 || !this.retryAt.has(p))) {
      this.claimMarked[p] = 1;
      this.claimScratch[toClaim++] = p;
    }
    return toClaim;
  }

  /** Handles one user-message payload; false if it is not an ownership message. */
  onMessage(payload: Uint8Array): boolean {
    const d = decodeOwnership(payload);
    if (!d.ok) {
      if (d.reason === 'not-ownership') return false;
      this.countDrop(d.reason);
      return true;
    }
    if (this.stopped) return true;
    this.dispatch(d.msg);
    return true;
  }

  /**
   * `gone` stopped being eligible (died, left, was drained) and `successors` are
   * now rightful primaries of some of its partitions in this view: tell each of
   * them directly, with the evidence, so a successor that missed the gossip
   * (each update is retransmitted only a few times) claims now rather than after
   * its own suspicion runs out.
   */
  hintSuccessors(gone: string, successors: Iterable<string>): void {
    if (this.stopped) return;
    const evidence = this.ports.evidenceOf([gone]);
    if (evidence.length === 0) return;
    const msg = encodeOwnership({ kind: OwnershipKind.Hint, sender: this.opts.self, evidence });
    for (const s of successors) if (s !== this.opts.self && s !== gone) this.ports.send(s, msg);
  }

  /**
   * `name` now counts here as an eligible member alive (it came back, was reached, or is heard
   * again). If this member refused one of its claims meanwhile, it tells it so with a hint without
   * evidence, on which it retries the claims that failed at once instead of after its back-off.
   */
  memberCounted(name: string): void {
    if (this.stopped || name === this.opts.self || !this.refusedClaimants.delete(name)) return;
    this.ports.send(name, encodeOwnership({ kind: OwnershipKind.Hint, sender: this.opts.self, evidence: [] }));
  }

  /** A member became alive: send it what this member knows, so a healed or restarted owner learns newer epochs at once. */
  memberAlive(name: string): void {
    if (this.stopped || name === this.opts.self) return;
    this.sendSync(name, 0, this.opts.partitions, 64);
    this.retryNow();
  }

  /** A member more in view (or this member back in touch with a quorum) is a fresh chance for every claim that failed: no back-off. */
  retryNow(): void {
    if (this.stopped) return;
    // Rounds that failed before count no more: a round in flight now that fails backs off from the start.
    this.attempts.clear();
    if (this.retryAt.size === 0) return;
    const due = [...this.retryAt.keys()];
    this.retryAt.clear();
    this.armRetry();
    this.reconcile(due);
  }

  // ---------------------------------------------------------------- claimant

  private claim(parts: Int32Array): void {
    if (!this.quorumOk()) return;
    const requestId = ++this.requestSeq;
    const n = parts.length;
    const epochs = new Float64Array(n);
    const grants: Grant[] = new Array<Grant>(n);
    for (let i = 0; i < n; i++) {
      const p = parts[i]!;
      const epoch = Math.max(this.highest[p]!, this.promised[p]!, this.knownEpoch[p]!) + 1;
      epochs[i] = epoch;
      grants[i] = { partition: p, epoch, to: this.opts.self };
    }
    if (this.opts.quorum === 1) {
      // Our own vote is the quorum: the epoch is held once it is durable.
      this.openRounds(requestId, parts, epochs);
      this.queueOwn(requestId, parts, epochs, grants);
      return;
    }
    const evidenceNames = new Set<string>();
    for (let i = 0; i < n; i++) {
      const p = parts[i]!;
      const owner = this.knownOwner[p];
      if (owner && owner !== this.opts.self) evidenceNames.add(owner);
      // Full: previous owners are still named, but no more outranking members, so they need not be computed.
      if (evidenceNames.size >= this.opts.maxEvidence) continue;
      const outranking = this.ports.view.outranking(p, this.opts.self);
      for (let j = 0; j < outranking.length && evidenceNames.size < this.opts.maxEvidence; j++) evidenceNames.add(outranking[j]!);
    }
    // Our own alive first: a granter that has not heard of us yet learns us from the claim.
    const evidence = this.ports.evidenceOf([this.opts.self, ...evidenceNames]);
    const budget = this.ports.budgetBytes();
    let evidenceBytes = 0;
    const kept: Uint8Array[] = [];
    for (const e of evidence) {
      if (evidenceBytes + e.length + 3 > budget / 2) break;
      kept.push(e);
      evidenceBytes += e.length + 3;
    }
    const messages = encodeEntriesPacked({ kind: OwnershipKind.Claim, requestId, claimant: this.opts.self, evidence: kept }, parts, epochs, budget);
    for (const peer of this.ports.view.aliveEligible()) {
      if (peer === this.opts.self) continue;
      for (const m of messages) this.ports.send(peer, m);
    }
    // Our own vote is a grant like any other, counted once it is durable. It is written after the
    // claims left (each granter's answer waits on its own disk), with the grants this member gives
    // in the same turn; the others' votes may already count meanwhile, each durable at its granter.
    const req = this.openRounds(requestId, parts, epochs);
    this.queueOwn(requestId, parts, epochs, grants);
    const timer = this.ports.scheduler.setTimer(this.opts.claimTimeoutMs, () => {
      this.timers.delete(timer);
      this.roundTimedOut(req);
    });
    this.timers.add(timer);
  }

  /**
   * This member promises the epochs to itself now (it grants nobody else the same epoch), and
   * counts its own vote once that promise is durable (settle).
   */
  private openRounds(requestId: number, parts: Int32Array, epochs: Float64Array): ClaimRequest {
    const n = parts.length;
    const req: ClaimRequest = {
      requestId,
      parts,
      epochs,
      startedAtMs: this.ports.scheduler.nowMs(),
      grants: new Int32Array(n),
      refusals: new Int32Array(n),
      epochOnlyRefusals: new Int32Array(n),
      voters: new Map(),
      live: 0,
    };
    this.requests.set(requestId, req);
    for (let i = 0; i < n; i++) {
      const p = parts[i]!;
      const epoch = epochs[i]!;
      this.promised[p] = epoch;
      this.promisedTo[p] = this.opts.self;
      this.highest[p] = epoch;
      this.endRound(p);
      this.roundRequest[p] = requestId;
      this.roundSlot[p] = i;
      req.live++;
    }
    this.stats.claimsStarted += n;
    return req;
  }

  /** p's round (if one is in flight) ends: its request is forgotten with its last partition. */
  private endRound(p: number): void {
    const id = this.roundRequest[p]!;
    if (!(id > 0)) return;
    this.roundRequest[p] = 0;
    const req = this.requests.get(id);
    if (req !== undefined && --req.live === 0) this.requests.delete(id);
  }

  /** Every round ends (quorum lost, or stopped). */
  private clearRounds(): void {
    for (const req of this.requests.values()) for (let i = 0; i < req.parts.length; i++) if (this.roundRequest[req.parts[i]!] === req.requestId) this.roundRequest[req.parts[i]!] = 0;
    this.requests.clear();
  }

  /** The request of p's round in flight (there must be one). */
  private requestOf(p: number): ClaimRequest {
    const req = this.requests.get(this.roundRequest[p]!);
    if (req === undefined) throw new OwnershipError('OWNERSHIP_INVARIANT', `round of partition ${p} names request ${this.roundRequest[p]}, which is not kept`);
    return req;
  }

  /** The request p's round in flight belongs to, when it is `requestId` and asks `epoch`; else null. */
  private roundOf(p: number, requestId: number, epoch: number): ClaimRequest | null {
    if (this.roundRequest[p] !== requestId || requestId === 0) return null;
    const req = this.requestOf(p);
    return req.epochs[this.roundSlot[p]!] === epoch ? req : null;
  }

  /** One vote of `granter` on p's round: counted once per granter, grant and refusal each; the grants or refusals counted so far, or −1 if it was counted already. */
  private countVote(req: ClaimRequest, p: number, granter: string, granted: boolean): number {
    const i = this.roundSlot[p]!;
    let marks = req.voters.get(granter);
    if (marks === undefined) req.voters.set(granter, (marks = new Uint8Array(req.parts.length)));
    const bit = granted ? VOTED_GRANT : VOTED_REFUSAL;
    if ((marks[i]! & bit) !== 0) return -1;
    marks[i] = marks[i]! | bit;
    return granted ? ++req.grants[i]! : ++req.refusals[i]!;
  }

  private queueOwn(requestId: number, parts: Int32Array, epochs: Float64Array, grants: Grant[]): void {
    const pending = this.pending.grants;
    for (let i = 0; i < grants.length; i++) pending.push(grants[i]!);
    this.pending.own.push({ requestId, parts, epochs });
    this.scheduleWrite();
  }

  private roundTimedOut(req: ClaimRequest): void {
    const failed: number[] = [];
    for (let i = 0; i < req.parts.length; i++) {
      const p = req.parts[i]!;
      if (this.roundRequest[p] === req.requestId) {
        this.endRound(p);
        failed.push(p);
      }
    }
    if (failed.length > 0) this.retryLater(failed);
  }

  /** Randomised, growing back-off so claimants whose views disagree do not duel in lockstep. */
  private retryLater(parts: number[]): void {
    this.stats.roundsFailed += parts.length;
    const now = this.ports.scheduler.nowMs();
    for (const p of parts) {
      const n = (this.attempts.get(p) ?? 0) + 1;
      this.attempts.set(p, n);
      const capMs = Math.min(this.opts.claimBackoffMaxMs, this.opts.claimTimeoutMs * 2 ** Math.min(n - 1, 16));
      this.retryAt.set(p, now + capMs / 2 + this.ports.random.next() * (capMs / 2));
    }
    this.armRetry();
  }

  private armRetry(): void {
    this.retryTimer?.cancel();
    this.retryTimer = null;
    if (this.retryAt.size === 0) return;
    let next = Infinity;
    for (const t of this.retryAt.values()) next = Math.min(next, t);
    this.retryTimer = this.ports.scheduler.setTimer(Math.max(0, next - this.ports.scheduler.nowMs()), () => {
      this.retryTimer = null;
      const now = this.ports.scheduler.nowMs();
      const due: number[] = [];
      for (const [p, t] of this.retryAt) if (t <= now) due.push(p);
      for (const p of due) this.retryAt.delete(p);
      this.armRetry();
      if (due.length > 0) this.reconcile(due);
    });
  }

  private onVote(v: VoteMsg): void {
    if (!this.ports.view.isEligibleMember(v.granter)) return this.countDrop('vote-from-ineligible');
    const committed: number[] = [];
    const failed: number[] = [];
    const again: number[] = [];
    for (const e of v.entries) {
      if (e.partition < 0 || e.partition >= this.opts.partitions) continue;
      if (e.promised > this.highest[e.partition]!) this.highest[e.partition] = e.promised;
      // A grant counts only for the exact request and epoch it answers.
      const r = this.roundOf(e.partition, v.requestId, e.epoch);
      if (r === null) {
        this.stats.staleVotes++;
        continue;
      }
      if (e.granted) {
        const grants = this.countVote(r, e.partition, v.granter, true);
        // A grant counted already still reports the quorum (commitAll takes each round once).
        if ((grants < 0 ? r.grants[this.roundSlot[e.partition]!]! : grants) >= this.opts.quorum) committed.push(e.partition);
      } else {
        const refusals = this.countVote(r, e.partition, v.granter, false);
        if (refusals < 0) continue;
        const i = this.roundSlot[e.partition]!;
        if (e.claimantRightful === true) r.epochOnlyRefusals[i]!++;
        // No quorum left among those who have not refused: retry without waiting for the timeout.
        if (this.ports.view.aliveEligibleCount() - refusals < this.opts.quorum) {
          this.endRound(e.partition);
          // Every refuser agrees this member is rightful and named the epoch to beat: nobody to
          // duel with, so a back-off would only add its wait (once, in case views flip back and forth).
          if (r.epochOnlyRefusals[i] === refusals && !this.retriedAtOnce.has(e.partition)) {
            this.retriedAtOnce.add(e.partition);
            again.push(e.partition);
          } else failed.push(e.partition);
        }
      }
    }
    if (committed.length > 0) this.commitAll(committed);
    if (failed.length > 0) this.retryLater(failed);
    if (again.length > 0) {
      this.stats.roundsFailed += again.length;
      this.stats.retriedAtOnce += again.length;
      this.ports.log?.('debug', 'claim refused only for its epoch by granters that see this member rightful: asking again above it at once', { partitions: again.length, granter: v.granter });
      this.reconcile(again);
    }
  }

  private commitAll(parts: number[]): void {
    const committed = new Int32Array(parts.length);
    const epochs = new Float64Array(parts.length);
    let n = 0;
    for (const p of parts) {
      const id = this.roundRequest[p]!;
      if (!(id > 0)) continue;
      const req = this.requestOf(p);
      const epoch = req.epochs[this.roundSlot[p]!]!;
      const startedAtMs = req.startedAtMs;
      this.endRound(p);
      this.attempts.delete(p);
      this.retriedAtOnce.delete(p);
      // Invariant: a commit is above every committed epoch this member knows of.
      if (epoch <= this.knownEpoch[p]!) {
        this.stats.staleVotes++;
        continue;
      }
      this.held[p] = epoch;
      this.ports.observeClaimMs?.(this.ports.scheduler.nowMs() - startedAtMs);
      this.knownEpoch[p] = epoch;
      this.knownOwner[p] = this.opts.self;
      committed[n] = p;
      epochs[n++] = epoch;
      this.stats.commits++;
    }
    if (n === 0) return;
    const messages = encodeEntriesPacked({ kind: OwnershipKind.Commit, owner: this.opts.self }, committed.subarray(0, n), epochs.subarray(0, n), this.ports.budgetBytes());
    for (const peer of this.ports.view.listeners()) {
      if (peer === this.opts.self) continue;
      for (const m of messages) this.ports.send(peer, m);
    }
    this.emit(Array.from(committed.subarray(0, n)));
  }

  // ---------------------------------------------------------------- granter

  private onClaim(c: ClaimMsg): void {
    // Answers wait for one write at a time; more claims than partitions meanwhile is a flood, not a failover.
    if (this.pending.votes.length >= this.opts.partitions) return this.countDrop('answers-pending-full');
    // The claimant's evidence is merged first, exactly as gossip would be, when the decision needs
    // it: this view does not yet make the claimant the rightful primary of every partition asked.
    // Otherwise (the granter heard of the death already) it cannot turn a refusal into a grant or
    // back, and is merged after the answer, so news it may carry for other partitions is not lost.
    const later = this.ports.later ?? this.ports.defer;
    let mergeAfter = false;
    if (c.evidence.length > 0) {
      mergeAfter = later !== undefined && this.ports.view.isAliveEligible(c.claimant) && c.entries.every((e) => e.partition < 0 || e.partition >= this.opts.partitions || this.ports.view.rightful(e.partition) === c.claimant);
      if (!mergeAfter) this.mergeAll(c.evidence);
    }
    const votes: VoteEntry[] = [];
    const changed: number[] = [];
    const eligible = this.ports.view.isAliveEligible(c.claimant) && this.ports.view.isEligibleMember(this.opts.self) && !this.universeExceeded();
    for (const e of c.entries) {
      const p = e.partition;
      if (p < 0 || p >= this.opts.partitions || e.epoch < 1) continue;
      const floor = Math.max(this.promised[p]!, this.knownEpoch[p]!);
      const again = e.epoch === this.promised[p] && this.promisedTo[p] === c.claimant;
      const rightful = eligible && this.ports.view.rightful(p) === c.claimant;
      const ok = rightful && (e.epoch > floor || again);
      if (ok && !again) {
        // Promised now, so no later claim in this turn gets the same epoch; durable before the answer leaves.
        this.pending.grants.push({ partition: p, epoch: e.epoch, to: c.claimant });
        this.promised[p] = e.epoch;
        this.promisedTo[p] = c.claimant;
        if (e.epoch > this.highest[p]!) this.highest[p] = e.epoch;
        if (this.held[p]! > 0) this.drop(p, changed);
        this.endRound(p);
      }
      const vote: VoteEntry = { partition: p, epoch: e.epoch, granted: ok, promised: floor };
      // Refused only for the epoch: the claimant may ask above `floor` at once (onVote).
      if (rightful && !ok) vote.claimantRightful = true;
      votes.push(vote);
      if (!ok && this.refusedClaimants.size < REFUSED_CLAIMANTS_MAX) this.refusedClaimants.add(c.claimant);
    }
    this.pending.votes.push({ claimant: c.claimant, requestId: c.requestId, votes });
    this.scheduleWrite();
    if (mergeAfter) {
      later!(() => {
        if (!this.stopped) this.mergeAll(c.evidence);
      });
    }
    this.emit(changed);
  }

  /** One durable write for what the turn decided, then its answers; a write in flight is waited for. */
  private scheduleWrite(): void {
    if (this.writing || this.writeScheduled) return;
    const defer = this.ports.defer;
    if (defer === undefined) return this.writePending();
    this.writeScheduled = true;
    defer(() => {
      this.writeScheduled = false;
      this.writePending();
    });
  }

  private writePending(): void {
    if (this.stopped || this.writing) return;
    const batch = this.pending;
    if (batch.grants.length === 0 && batch.votes.length === 0 && batch.own.length === 0) return;
    this.pending = { grants: [], votes: [], own: [] };
    const done = (ok: boolean): void => {
      this.writing = false;
      if (this.stopped) return;
      this.settle(batch, ok);
      const next = this.pending;
      if (next.grants.length > 0 || next.votes.length > 0 || next.own.length > 0) this.scheduleWrite();
    };
    // Answers that grant nothing new (refusals, a grant again) still wait for earlier writes, which are done here.
    if (batch.grants.length === 0) return done(true);
    this.writing = true;
    const store = this.ports.store;
    if (store.recordAsync === undefined) return done(this.recordGrants(batch.grants));
    store.recordAsync(batch.grants, (err) => {
      if (err !== null) this.storeFailed(err);
      done(err === null);
    });
  }

  /** The batch is durable (or failed): its answers leave and this member's own votes count. */
  private settle(batch: PendingWrite, ok: boolean): void {
    if (!ok) {
      // An epoch promised in memory but not on disk is never granted again ("again" needs the disk),
      // nor by an answer already decided while this write was in flight.
      const failed = new Set<string>();
      for (const g of batch.grants) {
        failed.add(`${g.partition}:${g.epoch}:${g.to}`);
        if (this.promised[g.partition] === g.epoch && this.promisedTo[g.partition] === g.to) this.promisedTo[g.partition] = null;
      }
      for (const a of this.pending.votes) for (const v of a.votes) if (v.granted && failed.has(`${v.partition}:${v.epoch}:${a.claimant}`)) v.granted = false;
    }
    for (const a of batch.votes) {
      for (const v of a.votes) {
        if (v.granted && !ok) v.granted = false;
        if (v.granted) {
          this.stats.grantsGiven++;
          v.promised = v.epoch;
        } else this.stats.grantsRefused++;
      }
      const messages = encodeVotesPacked(a.requestId, this.opts.self, a.votes, this.ports.budgetBytes());
      for (const m of messages) this.ports.send(a.claimant, m);
    }
    const committed: number[] = [];
    for (const o of batch.own) {
      for (let i = 0; i < o.parts.length; i++) {
        const p = o.parts[i]!;
        const r = this.roundOf(p, o.requestId, o.epochs[i]!);
        if (r === null) continue;
        if (!ok) {
          // Not durable: the round cannot count this member; the sweep claims again.
          this.endRound(p);
          continue;
        }
        const grants = this.countVote(r, p, this.opts.self, true);
        if ((grants < 0 ? r.grants[this.roundSlot[p]!]! : grants) >= this.opts.quorum) committed.push(p);
      }
    }
    if (committed.length > 0) this.commitAll(committed);
  }

  // ---------------------------------------------------------------- news

  private learn(owner: string, entries: readonly EpochEntry[]): void {
    if (!this.ports.view.isEligibleMember(owner)) return this.countDrop('commit-from-ineligible');
    const changed: number[] = [];
    const reclaim: number[] = [];
    for (const e of entries) {
      const p = e.partition;
      if (p < 0 || p >= this.opts.partitions) continue;
      if (e.epoch > this.highest[p]!) this.highest[p] = e.epoch;
      if (e.epoch <= this.knownEpoch[p]!) continue;
      this.knownEpoch[p] = e.epoch;
      this.knownOwner[p] = owner;
      changed.push(p);
      if (owner === this.opts.self) continue;
      if (this.held[p]! > 0) {
        // Someone holds a higher epoch: this member was deposed (it was cut off, or paused).
        this.stats.deposed++;
        this.held[p] = 0;
      }
      if (this.roundRequest[p] !== 0 && this.requestOf(p).epochs[this.roundSlot[p]!]! <= e.epoch) this.endRound(p);
      // If this member is still the rightful primary it claims above the new epoch.
      reclaim.push(p);
    }
    this.emit(changed);
    if (reclaim.length > 0) this.reconcile(reclaim);
  }

  private syncOnce(): void {
    const peers = [...this.ports.view.listeners()].filter((n) => n !== this.opts.self);
    if (peers.length === 0) return;
    const peer = peers[this.ports.random.int(peers.length)]!;
    this.syncCursor = this.sendSync(peer, this.syncCursor, this.opts.partitions, this.opts.syncMessagesPerTick);
  }

  /** Sends committed epochs from partition `from` on, at most `maxMessages` datagrams; returns where it stopped. */
  private sendSync(peer: string, from: number, count: number, maxMessages: number): number {
    const budget = this.ports.budgetBytes();
    const P = this.opts.partitions;
    let p = from % P;
    let scanned = 0;
    let sent = 0;
    while (sent < maxMessages && scanned < count) {
      const groups = new Map<string, EpochEntry[]>();
      let bytes = 8 + Buffer.byteLength(this.opts.self);
      while (scanned < count && bytes < budget - 64) {
        const owner = this.knownOwner[p];
        if (owner !== null && owner !== undefined && this.knownEpoch[p]! > 0) {
          let g = groups.get(owner);
          if (!g) {
            groups.set(owner, (g = []));
            bytes += Buffer.byteLength(owner) + 4;
          }
          g.push({ partition: p, epoch: this.knownEpoch[p]! });
          bytes += 12;
        }
        p = (p + 1) % P;
        scanned++;
      }
      if (groups.size === 0) break;
      const msg: SyncMsg = { kind: OwnershipKind.Sync, sender: this.opts.self, groups: [...groups].map(([owner, entries]) => ({ owner, entries })) };
      this.ports.send(peer, encodeOwnership(msg));
      sent++;
    }
    return p;
  }

  // ---------------------------------------------------------------- helpers

  private dispatch(m: OwnershipMsg): void {
    switch (m.kind) {
      case OwnershipKind.Claim:
        return this.onClaim(m);
      case OwnershipKind.Vote:
        return this.onVote(m);
      case OwnershipKind.Commit:
        return this.learn(m.owner, m.entries);
      case OwnershipKind.Sync:
        for (const g of m.groups) this.learn(g.owner, g.entries);
        return;
      case OwnershipKind.Hint:
        // Merged as gossip: if it shows a death this member had not heard of, the usual event path claims.
        // A hint also means a member now counts this one in: claims that failed go again without their back-off.
        if (this.ports.view.isEligibleMember(m.sender)) {
          this.mergeAll(m.evidence);
          this.retryNow();
        } else this.countDrop('hint-from-ineligible');
        return;
    }
  }

  /** The evidence as one change of the view: placement and what is published follow once. */
  private mergeAll(evidence: readonly Uint8Array[]): void {
    const atomically = this.ports.atomically;
    if (atomically === undefined) this.mergeEvidence(evidence);
    else atomically(() => this.mergeEvidence(evidence));
  }

  /** memberlist messages go to the core as gossip would; refused-probe marks to the bars, after them. */
  private mergeEvidence(evidence: readonly Uint8Array[]): void {
    let gossip: Uint8Array[] | null = null;
    const marks: RefusedEvidence[] = [];
    for (let i = 0; i < evidence.length; i++) {
      const e = evidence[i]!;
      if (!isRefusedEvidence(e)) {
        gossip?.push(e);
        continue;
      }
      gossip ??= evidence.slice(0, i);
      const mark = decodeRefusedEvidence(e);
      if (mark === null) this.countDrop('refused-evidence-malformed');
      else marks.push(mark);
    }
    this.ports.mergeEvidence(gossip ?? evidence);
    if (marks.length > 0) this.ports.markRefused?.(marks);
  }

  private recordGrants(grants: Grant[]): boolean {
    try {
      this.ports.store.record(grants);
      return true;
    } catch (err) {
      this.storeFailed(err);
      return false;
    }
  }

  private storeFailed(err: unknown): void {
    this.countDrop('store-failed');
    this.ports.log?.('error', 'cannot record grants durably; refusing to grant or claim', { err: String(err) });
  }

  private drop(p: number, changed: number[]): void {
    this.held[p] = 0;
    changed.push(p);
  }

  private emit(changed: number[]): void {
    if (changed.length === 0) return;
    for (const l of this.listeners) l(changed);
  }

  private countDrop(reason: string): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
  }

  private jitter(ms: number): number {
    return ms * (0.75 + this.ports.random.next() * 0.5);
  }
}

function isArrayLike(x: Iterable<number> | ArrayLike<number>): x is ArrayLike<number> {
  return Array.isArray(x) || ArrayBuffer.isView(x);
}
