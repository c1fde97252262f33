// What a daemon publishes about partitions: the engine's placement (who should
// be primary and replicas, from the member view) joined with ownership (who
// holds a quorum-granted epoch). A member is named primary of p with token E
// only while it holds epoch E for p; other members are named primary once this
// daemon has heard of their commit and its own view agrees.
//
// `fencing: 'view'` is the older zero-round-trip token (the view version) and
// is kept only so the simulator can show what it breaks; it is not offered in
// the daemon's configuration.
import type { Address, Random, Scheduler } from '../core/env.js';
import type { MemberEvent, MemberSnapshot } from '../core/member-types.js';
import type { PartitionEngine } from './engine.js';
import type { GrantStore } from './grant-store.js';
import { partitionMemberOf, type PartitionMember } from './members.js';
import { Ownership, type OwnershipStats, type OwnershipView } from './ownership.js';
import { ChunkedArray, type ReadonlyTable } from './table.js';

/** Tag every swimd member that speaks the ownership protocol advertises. Serf agents lack it, so they are never asked. */
export const OWNERSHIP_TAG = 'swimd-own';
export const OWNERSHIP_TAG_VALUE = '1';

/** What leadership needs of the membership core (SwimNode provides it). */
export interface LeadershipNode {
  readonly name: string;
  members(): MemberSnapshot[];
  member(name: string): MemberSnapshot | undefined;
  onUserMessage(handler: (from: Address, payload: Uint8Array) => boolean): () => void;
  sendUserMessage(to: Address, payload: Uint8Array): boolean;
  userMessageBudgetBytes(): number;
  evidenceOf(names: Iterable<string>): Uint8Array[];
  mergeEvidence(messages: readonly Uint8Array[]): void;
}

export interface LeadershipOptions {
  fencing: 'granted' | 'view';
  /** Grants needed for an epoch (granted) / live members needed to claim (view). */
  quorum: number;
  /** Tags a member must carry to hold partitions (besides the ownership tag in granted mode). */
  eligibleTags: Readonly<Record<string, string>>;
  claimTimeoutMs: number;
  claimBackoffMaxMs: number;
  syncIntervalMs: number;
  syncMessagesPerTick?: number;
  maxEvidence?: number;
}

export interface OwnedPartition {
  readonly id: number;
  readonly primary: string | null;
  readonly replicas: readonly string[];
  /** Fencing token: the epoch granted to `primary` (granted mode), or the view version. */
  readonly token: number;
}

export interface LeadershipSnapshot {
  readonly fencing: 'granted' | 'view';
  readonly viewVersion: number;
  readonly quorum: 'ok' | 'no-quorum';
  /** Eligible members alive (granted) or live members (view). */
  readonly liveMembers: number;
  /** Read-only and shared with later snapshots chunk by chunk: a change copies only what it touches. */
  readonly partitions: ReadonlyTable<OwnedPartition>;
}

export interface LeadershipChange {
  id: number;
  oldPrimary: string | null;
  newPrimary: string | null;
  replicas: readonly string[];
  token: number;
}

export interface LeadershipDiff {
  viewVersion: number;
  quorum: 'ok' | 'no-quorum';
  changed: LeadershipChange[];
}

export type LeadershipListener = (snap: LeadershipSnapshot, diff: LeadershipDiff) => void;

/** The engine's eligibility predicate for these options: the selector's tags (and, granted, the ownership tag). */
export function eligibilityOf(opts: Pick<LeadershipOptions, 'fencing' | 'eligibleTags'>): (m: PartitionMember) => boolean {
  const want = Object.entries(opts.eligibleTags);
  const needOwnershipTag = opts.fencing === 'granted';
  return (m) => (!needOwnershipTag || m.tags[OWNERSHIP_TAG] === OWNERSHIP_TAG_VALUE) && want.every(([k, v]) => m.tags[k] === v);
}

export class Leadership {
  readonly ownership: Ownership | null;
  private published: ChunkedArray<OwnedPartition>;
  private readonly listeners = new Set<LeadershipListener>();
  /** Tag-eligible members in the alive state. */
  private readonly aliveEligible = new Set<string>();
  /** Alive members running the ownership protocol (eligible or not): they hear commits. */
  private readonly protocolPeers = new Set<string>();
  /** Partitions to re-evaluate at the next flush, each once: a list and a membership flag (no Set on the event path). */
  private readonly dirtyList: Int32Array;
  private readonly isDirty: Uint8Array;
  private dirtyCount = 0;
  private batching = 0;
  private lastQuorum: 'ok' | 'no-quorum' = 'no-quorum';
  private readonly unsubscribe: (() => void) | null = null;

  constructor(
    readonly opts: LeadershipOptions,
    readonly engine: PartitionEngine,
    private readonly node: LeadershipNode,
    env: {
      scheduler: Scheduler;
      random: Random;
      store: GrantStore | null;
      log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
      observeClaimMs?: (ms: number) => void;
    },
  ) {
    const P = engine.opts.partitions;
    const none = Object.freeze([]) as readonly string[];
    this.published = ChunkedArray.from<OwnedPartition>(P, (id) => Object.freeze({ id, primary: null, replicas: none, token: 0 }));
    this.dirtyList = new Int32Array(P);
    this.isDirty = new Uint8Array(P);
    if (opts.fencing === 'granted') {
      if (env.store === null) throw new Error('granted fencing needs a grant store');
      const view: OwnershipView = {
        rightful: (p) => engine.primaryOf(p),
        aliveEligibleCount: () => this.aliveEligible.size,
        aliveEligible: () => this.aliveEligible,
        isAliveEligible: (n) => this.aliveEligible.has(n),
        isEligibleMember: (n) => {
          const m = engine.memberOf(n);
          return m !== undefined && m.state !== 'left' && engine.eligibleByTags(m);
        },
        outranking: (p, n) => engine.outranking(p, n),
        listeners: () => this.protocolPeers,
      };
      this.ownership = new Ownership(
        {
          self: node.name,
          partitions: P,
          quorum: opts.quorum,
          claimTimeoutMs: opts.claimTimeoutMs,
          claimBackoffMaxMs: opts.claimBackoffMaxMs,
          syncIntervalMs: opts.syncIntervalMs,
          syncMessagesPerTick: opts.syncMessagesPerTick ?? 4,
          maxEvidence: opts.maxEvidence ?? 16,
        },
        {
          scheduler: env.scheduler,
          random: env.random,
          view,
          store: env.store,
          send: (to, payload) => {
            const m = node.member(to);
            return m !== undefined && node.sendUserMessage({ host: m.host, port: m.port }, payload);
          },
          budgetBytes: () => node.userMessageBudgetBytes(),
          evidenceOf: (names) => node.evidenceOf(names),
          mergeEvidence: (msgs) => this.batch(() => node.mergeEvidence(msgs)),
          ...(env.log ? { log: env.log } : {}),
          ...(env.observeClaimMs ? { observeClaimMs: env.observeClaimMs } : {}),
        },
      );
      this.ownership.onChange((parts) => this.markDirty(parts));
      this.unsubscribe = node.onUserMessage((_from, payload) => this.ownership!.onMessage(payload));
    } else {
      this.ownership = null;
    }
  }

  /** Loads the current member list (at start) and begins the protocol. */
  start(): void {
    this.batch(() => {
      const diff = this.engine.applyMembers(this.node.members());
      for (const m of this.node.members()) this.track(m);
      this.markDirty(diff.changed.map((c) => c.id));
      this.ownership?.start();
      this.ownership?.reconcile(null);
      this.markAll();
    });
  }

  stop(): void {
    this.ownership?.stop();
    this.unsubscribe?.();
  }

  on(listener: LeadershipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies one member event: placement first, then ownership, then what is published. */
  applyEvent(ev: MemberEvent): void {
    this.batch(() => {
      const diff = this.engine.applyEvent(ev);
      const ids = diff.changed.map((c) => c.id);
      const wasAlive = this.aliveEligible.has(ev.member.name) || this.protocolPeers.has(ev.member.name);
      this.track(ev.member);
      this.markDirty(ids);
      if (this.ownership) {
        const q = this.quorumState();
        if (q !== this.lastQuorum) this.ownership.reconcile(null);
        else this.ownership.reconcile(ids);
        const nowAlive = this.protocolPeers.has(ev.member.name);
        if (nowAlive && !wasAlive) this.ownership.memberAlive(ev.member.name);
      } else if (this.quorumState() !== this.lastQuorum || diff.viewVersion !== this.snapshotCache?.viewVersion) {
        // View tokens: every partition's token is the view version.
        this.markAll();
      }
    });
  }

  snapshot(): LeadershipSnapshot {
    if (this.snapshotCache === null) {
      this.snapshotCache = Object.freeze({
        fencing: this.opts.fencing,
        viewVersion: this.engine.snapshot().viewVersion,
        quorum: this.quorumState(),
        liveMembers: this.ownership ? this.aliveEligible.size : this.engine.snapshot().liveMembers,
        partitions: this.published,
      });
    }
    return this.snapshotCache;
  }

  /** Partitions where `name` is primary or replica now (a read, O(P); not on the event path). */
  owned(name: string): { primary: number[]; replica: number[] } {
    const primary: number[] = [];
    const replica: number[] = [];
    for (const p of this.published) {
      if (p.primary === name) primary.push(p.id);
      else if (p.replicas.includes(name)) replica.push(p.id);
    }
    return { primary, replica };
  }

  ownershipStats(): OwnershipStats | null {
    return this.ownership?.stats ?? null;
  }

  private snapshotCache: LeadershipSnapshot | null = null;

  private quorumState(): 'ok' | 'no-quorum' {
    if (this.ownership) return this.ownership.quorumOk() ? 'ok' : 'no-quorum';
    return this.engine.snapshot().quorum;
  }

  private track(m: MemberSnapshot): void {
    const pm = partitionMemberOf(m);
    const alive = m.state === 'alive';
    if (alive && this.engine.eligibleByTags(pm)) this.aliveEligible.add(m.name);
    else this.aliveEligible.delete(m.name);
    if (alive && pm.tags[OWNERSHIP_TAG] === OWNERSHIP_TAG_VALUE) this.protocolPeers.add(m.name);
    else this.protocolPeers.delete(m.name);
  }

  private markDirty(parts: Iterable<number>): void {
    for (const p of parts) this.mark(p);
    if (this.batching === 0) this.flush();
  }

  private markAll(): void {
    for (let p = 0; p < this.published.length; p++) this.mark(p);
    if (this.batching === 0) this.flush();
  }

  private mark(p: number): void {
    if (this.isDirty[p] === 1) return;
    this.isDirty[p] = 1;
    this.dirtyList[this.dirtyCount++] = p;
  }

  private batch(fn: () => void): void {
    this.batching++;
    try {
      fn();
    } finally {
      this.batching--;
    }
    if (this.batching === 0) this.flush();
  }

  private entryFor(p: number): OwnedPartition {
    const placed = this.engine.snapshot().partitions.get(p);
    if (!this.ownership) return { id: p, primary: placed.primary, replicas: placed.replicas, token: this.engine.snapshot().viewVersion };
    const o = this.ownership;
    const self = this.node.name;
    const held = o.heldEpoch(p);
    if (held > 0) return { id: p, primary: self, replicas: placed.replicas, token: held };
    const owner = o.knownOwnerOf(p);
    const token = o.knownEpochOf(p);
    const shown = owner !== null && owner !== self && owner === placed.primary && this.aliveEligible.has(owner) ? owner : null;
    return { id: p, primary: shown, replicas: placed.replicas, token };
  }

  private flush(): void {
    const quorum = this.quorumState();
    if (this.dirtyCount === 0 && quorum === this.lastQuorum) return;
    const changed: LeadershipChange[] = [];
    const next = this.published.edit();
    for (let j = 0; j < this.dirtyCount; j++) {
      const p = this.dirtyList[j]!;
      this.isDirty[p] = 0;
      const old = next.get(p);
      const e = this.entryFor(p);
      if (old.primary === e.primary && old.token === e.token && old.replicas.length === e.replicas.length && old.replicas.every((r, i) => r === e.replicas[i])) continue;
      next.set(p, Object.freeze({ id: p, primary: e.primary, replicas: e.replicas, token: e.token }));
      // In view mode every token moves on every change; report only partitions whose holders moved.
      if (this.ownership || old.primary !== e.primary || old.replicas.length !== e.replicas.length || !old.replicas.every((r, i) => r === e.replicas[i])) {
        changed.push({ id: p, oldPrimary: old.primary, newPrimary: e.primary, replicas: e.replicas, token: e.token });
      }
    }
    this.dirtyCount = 0;
    const quorumChanged = quorum !== this.lastQuorum;
    this.lastQuorum = quorum;
    if (!next.changed() && !quorumChanged) return;
    if (next.changed()) this.published = next.done();
    this.snapshotCache = null;
    const snap = this.snapshot();
    const diff: LeadershipDiff = { viewVersion: snap.viewVersion, quorum, changed };
    for (const l of this.listeners) l(snap, diff);
  }
}
