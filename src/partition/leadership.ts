// What a daemon publishes about partitions: the engine's placement (who should
// be primary and replicas, from the member view) joined with ownership (who
// holds a quorum-granted epoch). A member is named primary of p with token E
// only while it holds epoch E for p; other members are named primary once this
// daemon has heard of their commit and its own view agrees.
//
// `fencing: 'view'` is the older zero-round-trip token (the view version) and
// is kept only so the simulator can show what it breaks; it is not offered in
// the daemon's configuration.
import type { Address, Random, Scheduler, TimerHandle } from '../base/env.js';
import type { MemberEvent, MemberSnapshot } from '../core/member-types.js';
import type { PartitionEngine } from './engine.js';
import type { DampingState, FlapDamping, SavedDamping } from './flap-damping.js';
import type { GrantStore } from './grant-store.js';
import { PrimaryBars } from './primary-bars.js';
import { partitionMemberOf, type PartitionMember } from './members.js';
import { Ownership, type OwnershipStats, type OwnershipView } from './ownership.js';
import { decodeHeartbeat, encodeHeartbeat, encodeRefusedEvidence, isHeartbeatPayload, OWNERSHIP_MAGIC, OwnershipKind } from './ownership-wire.js';
import { Heartbeats, type HeartbeatStats } from './heartbeats.js';
import { TableChecksum } from './checksum.js';
import { CHUNK, CHUNK_BITS, CHUNK_MASK, changedEntries, checkIndex, ChunkCopier, NO_IDS, type ReadonlyTable } from './table.js';

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
  /**
   * Called before this node refutes a suspect or dead message about itself
   * (flap damping counts its own flaps); metadata returned goes out with the refutation.
   */
  onSelfAccused?(listener: () => Uint8Array | null): () => void;
  /** A probe of a member was refused over UDP and TCP (crash fast path): its partitions may move before its death. */
  onRefusalBacked?(listener: (name: string, incarnation: number) => void): () => void;
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
  /** Heartbeats among eligible members (heartbeats.ts), granted mode only; 0 or absent: off. */
  heartbeatIntervalMs?: number;
  /** An eligible member heard before and not since this long is silent here: not primary, not counted for quorum. */
  heartbeatTimeoutMs?: number;
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
  /** Checksum of `partitions` (16 hex digits; see checksum.ts), kept as entries change. */
  readonly checksum: string;
  /** How many times the published table has changed (a sequence, not a time). */
  readonly tableSeq: number;
}

export interface LeadershipChange {
  id: number;
  oldPrimary: string | null;
  newPrimary: string | null;
  replicas: readonly string[];
  token: number;
}

export interface LeadershipDiff {
  readonly viewVersion: number;
  readonly quorum: 'ok' | 'no-quorum';
  /** How many published entries changed. */
  readonly count: number;
  /** Their partition ids, in the order they were evaluated (this diff's own copy). */
  readonly ids: Int32Array;
  /** Each one's shown primary before, as an engine member slot (−1 for none), by position in `ids`. */
  readonly oldPrimarySlots: Int32Array;
  /** The published table this diff produced: new primaries, replicas and tokens by slot, read without objects. */
  readonly table: SlotTable;
  /** The changes as objects, made on first read: the event path and the watch line read the typed fields. */
  readonly changed: readonly LeadershipChange[];
}

/** A published table as its chunks: per partition a row of `stride` member slots (−1 for none) and a token. */
export interface SlotTable {
  readonly rows: readonly Int32Array[];
  readonly tokens: readonly Float64Array[];
  readonly stride: number;
  /** The engine's names by slot (only appended to). */
  readonly names: readonly string[];
}

const NO_PEERS: ReadonlySet<string> = new Set();

export type LeadershipListener = (snap: LeadershipSnapshot, diff: LeadershipDiff) => void;

/** How leadership sets this member's DAMPED_TAG. */
export interface DampedTag {
  /** Records the tag and returns the metadata to send with the refutation about to go out (null: use apply). */
  stage(on: boolean): Uint8Array | null;
  /** Records the tag and spreads it now (a new incarnation); nothing when it is already so. */
  apply(on: boolean): void;
}

/** The engine's eligibility predicate for these options: the selector's tags (and, granted, the ownership tag). */
export function eligibilityOf(opts: Pick<LeadershipOptions, 'fencing' | 'eligibleTags'>): (m: PartitionMember) => boolean {
  const wantKeys = Object.keys(opts.eligibleTags);
  const wantValues = wantKeys.map((k) => opts.eligibleTags[k]);
  const needOwnershipTag = opts.fencing === 'granted';
  // A plain loop: the engine asks this of every member at each change, and a callback per call would be garbage each time.
  return (m) => {
    if (needOwnershipTag && m.tags[OWNERSHIP_TAG] !== OWNERSHIP_TAG_VALUE) return false;
    for (let i = 0; i < wantKeys.length; i++) if (m.tags[wantKeys[i]!] !== wantValues[i]) return false;
    return true;
  };
}

/**
 * What a daemon publishes, in chunks shared between successive snapshots: per
 * partition the shown primary and the placed replicas as engine member slots
 * (−1 for none), and the token. Entries are made only when a reader asks.
 */
class PublishedTable implements ReadonlyTable<OwnedPartition>, SlotTable {
  constructor(
    readonly rows: readonly Int32Array[],
    readonly tokens: readonly Float64Array[],
    /** The engine's names by slot (only appended to). */
    readonly names: readonly string[],
    readonly stride: number,
    readonly length: number,
  ) {}

  get(p: number): OwnedPartition {
    checkIndex(p, this.length);
    const row = this.rows[p >>> CHUNK_BITS]!;
    const at = (p & CHUNK_MASK) * this.stride;
    const primary = row[at]!;
    return { id: p, primary: primary < 0 ? null : this.names[primary]!, replicas: replicaNames(row, at, this.stride, this.names), token: this.tokens[p >>> CHUNK_BITS]![p & CHUNK_MASK]! };
  }

  *[Symbol.iterator](): Iterator<OwnedPartition> {
    for (let p = 0; p < this.length; p++) yield this.get(p);
  }

  /** JSON.stringify of a snapshot shows the entries, not the chunks. */
  toJSON(): OwnedPartition[] {
    return [...this];
  }
}

class FlushDiff implements LeadershipDiff {
  private made: LeadershipChange[] | null = null;
  constructor(
    readonly viewVersion: number,
    readonly quorum: 'ok' | 'no-quorum',
    readonly ids: Int32Array,
    readonly oldPrimarySlots: Int32Array,
    readonly table: PublishedTable,
  ) {}

  get count(): number {
    return this.ids.length;
  }

  get changed(): readonly LeadershipChange[] {
    this.made ??= changedEntries(this.ids, this.oldPrimarySlots, this.table.names, (id) => this.table.get(id), (e) => e.token);
    return this.made;
  }
}

function replicaNames(row: Int32Array, at: number, stride: number, names: readonly string[]): string[] {
  const out: string[] = [];
  for (let k = 1; k < stride; k++) {
    const r = row[at + k]!;
    if (r < 0) break;
    out.push(names[r]!);
  }
  return out;
}

export class Leadership {
  readonly ownership: Ownership | null;
  private published: PublishedTable;
  private readonly stride: number;
  /** The entry being evaluated: [shown primary, replica…] as engine slots. */
  private readonly scratch: Int32Array;
  /** copiedIn[c] === flushSeq: chunk c is already a private copy in this flush. */
  private readonly copiedIn: Uint32Array;
  private readonly rowCopier: ChunkCopier<Int32Array>;
  private readonly tokenCopier: ChunkCopier<Float64Array>;
  private flushSeq = 1;
  private readonly listeners = new Set<LeadershipListener>();
  /** Tag-eligible members in the alive state. */
  private readonly aliveEligible = new Set<string>();
  /** Alive members running the ownership protocol (eligible or not): they hear commits. */
  private readonly protocolPeers = new Set<string>();
  /** Partitions to re-evaluate at the next flush, each once: a list and a membership flag (no Set on the event path). */
  private readonly dirtyList: Int32Array;
  private readonly isDirty: Uint8Array;
  /** The flush's changed entries, copied into its diff: scratch reused on every flush. */
  private readonly changedIds: Int32Array;
  private readonly changedOldPrimary: Int32Array;
  private dirtyCount = 0;
  private batching = 0;
  private lastQuorum: 'ok' | 'no-quorum' = 'no-quorum';
  private readonly checksum: TableChecksum;
  private tableSeq = 0;
  private tableChangedAtMs: number;
  private readonly scheduler: Scheduler;
  private readonly unsubscribe: (() => void) | null = null;
  private readonly damping: FlapDamping | null;
  private readonly dampingClockMs: () => number;
  private dampingTimer: TimerHandle | null = null;
  private dampingTimerAtMs = Infinity;
  private stopped = false;
  private unsubscribeSelfAccused: (() => void) | null = null;
  private unsubscribeRefused: (() => void) | null = null;
  private readonly dampedTag: DampedTag | null;
  private readonly bars: PrimaryBars;
  /** Heartbeats among eligible members (null: off, or view fencing). */
  readonly heartbeats: Heartbeats | null = null;
  /** Eligible ownership peers alive or suspect and reached here, this member excluded: heartbeats go to them. */
  private readonly heartbeatPeers = new Set<string>();
  private selfEligible = false;
  /** This member's heartbeat, kept while what it says is unchanged. */
  private heartbeatPayload: { hearsQuorum: boolean; lateMs: number; bytes: Uint8Array } | null = null;
  readonly heartbeatDrops = { malformed: 0, address: 0 };
  private readonly saveDamping: ((s: SavedDamping) => void) | null;
  private readonly log: ((level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void) | null;

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
      /** This member's own flap damping; it states its decision in its tags (DAMPED_TAG), which every member's engine reads. */
      damping?: FlapDamping;
      /** The clock damping's score decays by (wall clock, so a restarted process carries on; virtual time in the simulator). Default: the scheduler's. */
      dampingClockMs?: () => number;
      /** Sets or clears DAMPED_TAG in this member's tags. */
      dampedTag?: DampedTag;
      /** Who may not be primary now beyond drain (damped tags, refusal-backed suspects), as the engine reads it (PartitionOptions.suppressed); damped tags are honoured whether or not this member damps itself. */
      bars?: PrimaryBars;
      /** Keeps the score across restarts (node.dataDir); called after every change. */
      saveDamping?: (s: SavedDamping) => void;
      /**
       * Where ownership writes the grants a turn decided, in one batch, before answering
       * (OwnershipPorts.defer). Default: a zero-delay timer of the scheduler.
       */
      defer?: (fn: () => void) => void;
      /** Where ownership merges evidence its answer did not need, after the answers (OwnershipPorts.later). Default: defer. */
      later?: (fn: () => void) => void;
    },
  ) {
    this.scheduler = env.scheduler;
    this.damping = env.damping?.enabled ? env.damping : null;
    this.dampingClockMs = env.dampingClockMs ?? (() => env.scheduler.nowMs());
    this.log = env.log ?? null;
    this.dampedTag = env.dampedTag ?? null;
    this.bars = env.bars ?? new PrimaryBars();
    this.saveDamping = env.saveDamping ?? null;
    const P = engine.opts.partitions;
    this.stride = engine.rowWidth();
    this.scratch = new Int32Array(this.stride);
    const rows: Int32Array[] = [];
    const tokens: Float64Array[] = [];
    for (let c = 0; c * CHUNK < P; c++) {
      rows.push(new Int32Array(CHUNK * this.stride).fill(-1));
      tokens.push(new Float64Array(CHUNK));
    }
    this.copiedIn = new Uint32Array(rows.length);
    this.rowCopier = new ChunkCopier((n) => new Int32Array(n), CHUNK * this.stride, rows.length);
    this.tokenCopier = new ChunkCopier((n) => new Float64Array(n), CHUNK, rows.length);
    this.published = new PublishedTable(rows, tokens, engine.slotNames(), this.stride, P);
    this.dirtyList = new Int32Array(P);
    this.isDirty = new Uint8Array(P);
    this.changedIds = new Int32Array(P);
    this.changedOldPrimary = new Int32Array(P);
    this.checksum = new TableChecksum(P);
    this.tableChangedAtMs = env.scheduler.nowMs();
    if (opts.fencing === 'granted') {
      if (env.store === null) throw new Error('granted fencing needs a grant store');
      const view: OwnershipView = {
        rightful: (p) => engine.primaryOf(p),
        aliveEligibleCount: () => this.aliveEligible.size,
        aliveEligible: () => this.aliveEligible,
        isAliveEligible: (n) => this.aliveEligible.has(n),
        isEligibleMember: (n) => {
          const m = engine.memberOf(n);
          return m !== undefined && m.state !== 'left' && m.contacted && engine.eligibleByTags(m);
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
          evidenceOf: (names) => this.evidenceOf(names),
          mergeEvidence: (msgs) => this.batch(() => node.mergeEvidence(msgs)),
          atomically: (fn) => this.batch(fn),
          defer: env.defer ?? ((fn) => void env.scheduler.setTimer(0, fn)),
          ...(env.later ? { later: env.later } : {}),
          markRefused: (marks) => this.batch(() => {
            for (const mark of marks) this.refused(mark.name, mark.incarnation, false);
          }),
          ...(env.log ? { log: env.log } : {}),
          ...(env.observeClaimMs ? { observeClaimMs: env.observeClaimMs } : {}),
        },
      );
      this.ownership.onChange((parts) => this.markDirty(parts));
      const intervalMs = opts.heartbeatIntervalMs ?? 0;
      if (intervalMs > 0) {
        this.heartbeats = new Heartbeats(
          { intervalMs, timeoutMs: opts.heartbeatTimeoutMs ?? Math.round(intervalMs * 3.5), quorum: opts.quorum },
          {
            scheduler: env.scheduler,
            peers: () => (this.selfEligible ? this.heartbeatPeers : NO_PEERS),
            send: (to, hearsQuorum, lateMs) => {
              const m = node.member(to);
              if (m !== undefined) node.sendUserMessage({ host: m.host, port: m.port }, this.heartbeatBytes(hearsQuorum, lateMs));
            },
            onBarred: (names, barred) => this.silence(names, barred),
            // Back in touch with a quorum: the others stop barring this member, so claims that failed meanwhile go again now.
            onHearsQuorum: (hears) => {
              if (hears && !this.stopped) this.ownership?.retryNow();
            },
          },
        );
      }
      const slackMs = intervalMs / 2;
      this.unsubscribe = node.onUserMessage((from, payload) => {
        if (isHeartbeatPayload(payload)) {
          this.onHeartbeat(from, payload);
          return true;
        }
        // A granter judges silence on its own clock as the claim arrives, not at its next check.
        if (this.heartbeats !== null && payload[0] === OWNERSHIP_MAGIC && payload[2] === OwnershipKind.Claim) this.heartbeats.checkNow(slackMs);
        return this.ownership!.onMessage(payload);
      });
    } else {
      this.ownership = null;
    }
  }

  /** Loads the current member list (at start) and begins the protocol. */
  start(): void {
    this.unsubscribeRefused = this.node.onRefusalBacked?.((name, incarnation) => this.refused(name, incarnation, true)) ?? null;
    const damping = this.damping;
    if (damping !== null) {
      this.unsubscribeSelfAccused = this.node.onSelfAccused?.(() => this.selfRefuting(damping)) ?? null;
      // A score the previous process saved may still suppress this one.
      this.advertiseDamped();
      this.scheduleDamping();
    }
    const members = this.node.members().map((m) => ({ m, pm: partitionMemberOf(m) }));
    for (const { m, pm } of members) this.bars.observe(m, pm);
    this.bars.takeFallbackChange();
    this.batch(() => {
      const diff = this.engine.applyMembers(this.node.members());
      for (const { m, pm } of members) this.track(m, pm);
      this.markDirty(diff.ids);
      this.ownership?.start();
      this.ownership?.reconcile(null);
      this.markAll();
    });
    this.heartbeats?.start();
  }

  stop(): void {
    this.stopped = true;
    this.ownership?.stop();
    this.heartbeats?.stop();
    this.unsubscribe?.();
    this.dampingTimer?.cancel();
    this.dampingTimer = null;
    this.unsubscribeSelfAccused?.();
    this.unsubscribeRefused?.();
  }

  /** This member's own flap-damping score and decision (null when damping is off). */
  ownDamping(): DampingState | null {
    return this.damping === null ? null : this.damping.stateAt(this.dampingClockMs());
  }

  /** Live members that advertise, by their own tag, that flap damping keeps them from being primary. */
  dampedCount(): number {
    return this.bars.advertising();
  }

  /** Flaps counted since start (a monotonic count). */
  flapsCounted(): number {
    return this.damping?.flapsCounted ?? 0;
  }

  on(listener: LeadershipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies one member event: placement first, then ownership, then what is published. */
  applyEvent(ev: MemberEvent, refusedHere = false): void {
    // The member's tags, decoded once for the bars and the tracking below.
    const pm = partitionMemberOf(ev.member);
    this.bars.observe(ev.member, pm);
    this.batch(() => {
      const diff = this.engine.applyEvent(ev);
      const wasAlive = this.aliveEligible.has(ev.member.name) || this.protocolPeers.has(ev.member.name);
      const wasEligible = this.aliveEligible.has(ev.member.name);
      this.track(ev.member, pm);
      this.markDirty(diff.ids);
      // The last member that could be primary instead came or went (died, left, or barred as gone): every damped member
      // reads otherwise now. They are read before anything is hinted or claimed: a claim from the step in between
      // (each survivor primary of what no damped member may take) would take the epoch the rightful claimant asks for.
      let ids: Iterable<number> = diff.ids;
      let viewVersion = diff.viewVersion;
      if (this.bars.takeFallbackChange()) {
        const all = [...diff.ids];
        for (const name of this.bars.dampedNames()) {
          const m = name === ev.member.name ? undefined : this.node.member(name);
          if (m === undefined) continue;
          const reread = this.engine.applyEvent({ kind: 'update', member: m });
          const moved = reread.ids;
          viewVersion = reread.viewVersion;
          this.markDirty(moved);
          for (let j = 0; j < moved.length; j++) all.push(moved[j]!);
        }
        ids = all;
      }
      // The member that declared the death (or, with failoverOnSuspect, the suspicion) tells the successors: one or two senders per death, not every survivor.
      // So does the member whose probe was refused: the successors have not seen the refusal.
      if (this.ownership && (refusedHere || ((ev.kind === 'dead' || (ev.kind === 'suspect' && this.engine.opts.failoverOnSuspect)) && ev.from === this.node.name))) {
        const successors = new Set<string>();
        const gone = this.engine.slotOfName(ev.member.name);
        for (let j = 0; j < diff.count; j++) {
          if (diff.oldPrimarySlots[j] !== gone) continue;
          const next = this.engine.primaryOf(diff.ids[j]!);
          if (next !== null) successors.add(next);
        }
        if (successors.size > 0) this.ownership.hintSuccessors(ev.member.name, successors);
      }
      // Whether this daemon names another member as owner depends on that member being alive and reached here.
      if (this.ownership && wasEligible !== this.aliveEligible.has(ev.member.name)) this.markOwnedBy(ev.member.name);
      // A member this daemon refused while it did not count here may claim again at once.
      if (this.ownership && !wasEligible && this.aliveEligible.has(ev.member.name)) this.ownership.memberCounted(ev.member.name);
      if (this.ownership) {
        const q = this.quorumState();
        if (q !== this.lastQuorum) {
          this.ownership.reconcile(null);
          // What this daemon shows for other owners depends on its own quorum too.
          this.markAll();
        } else this.ownership.reconcile(ids);
        const nowAlive = this.protocolPeers.has(ev.member.name);
        if (nowAlive && !wasAlive) this.ownership.memberAlive(ev.member.name);
      } else if (this.quorumState() !== this.lastQuorum || viewVersion !== this.snapshotCache?.viewVersion) {
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
        checksum: this.checksum.value(),
        tableSeq: this.tableSeq,
      });
    }
    return this.snapshotCache;
  }

  /** Partitions where `name` is primary or replica now (a read: a scan of the slot rows, not on the event path). */
  owned(name: string): { primary: number[]; replica: number[] } {
    const primary: number[] = [];
    const replica: number[] = [];
    const slot = this.engine.slotOfName(name);
    if (slot < 0) return { primary, replica };
    const S = this.stride;
    for (let p = 0; p < this.published.length; p++) {
      const row = this.published.rows[p >>> CHUNK_BITS]!;
      const at = (p & CHUNK_MASK) * S;
      if (row[at] === slot) {
        primary.push(p);
        continue;
      }
      for (let k = 1; k < S && row[at + k]! >= 0; k++) {
        if (row[at + k] === slot) {
          replica.push(p);
          break;
        }
      }
    }
    return { primary, replica };
  }

  /** Scheduler time of the last change to the published table (its start, before any). */
  lastTableChangeAtMs(): number {
    return this.tableChangedAtMs;
  }

  ownershipStats(): OwnershipStats | null {
    return this.ownership?.stats ?? null;
  }

  private snapshotCache: LeadershipSnapshot | null = null;

  /**
   * A member's process refused probes (this member's own, or the evidence of a
   * claim or hint): while it stays suspect at that incarnation it may not be
   * primary, so its partitions move now; the engine reads it again.
   */
  private refused(name: string, incarnation: number, here: boolean): void {
    if (this.stopped) return;
    const m = this.node.member(name);
    if (m === undefined || name === this.node.name || !this.bars.markGone(m, incarnation)) return;
    this.log?.('debug', 'refused probes: partitions move before the death', { member: name, incarnation, here });
    this.applyEvent({ kind: 'update', member: m }, here);
  }

  /**
   * Members' heartbeats stopped reaching this member (or say they hear no quorum), or they were
   * heard again: their partitions move (back). Every bar is set, and every one of them leaves or
   * rejoins the quorum count, before the view is re-read: a member finding everyone silent at once
   * loses its quorum at the first re-read rather than claiming the others' partitions in between.
   */
  private silence(names: readonly string[], on: boolean): void {
    if (this.stopped) return;
    const changed: { m: MemberSnapshot; pm: PartitionMember }[] = [];
    for (const name of names) {
      const m = this.node.member(name);
      if (m === undefined || name === this.node.name) continue;
      const pm = partitionMemberOf(m);
      if (!this.bars.setSilent(m, on, pm)) continue;
      changed.push({ m, pm });
      const why = this.heartbeats?.isSilent(name) ? 'its heartbeats stopped' : 'it hears fewer than a quorum';
      this.log?.(on ? 'info' : 'debug', on ? `heartbeats: ${why}; not primary here, not counted for quorum` : 'heartbeats: heard again, hearing a quorum', { member: name, timeoutMs: this.heartbeats?.opts.timeoutMs });
    }
    if (changed.length === 0) return;
    this.batch(() => {
      const before = changed.map(({ m }) => this.aliveEligible.has(m.name));
      for (const { m, pm } of changed) this.track(m, pm);
      for (const { m } of changed) this.applyEvent({ kind: 'update', member: m });
      // applyEvent saw them already tracked: what it does when a member starts or stops counting is done here.
      changed.forEach(({ m }, i) => {
        const now = this.aliveEligible.has(m.name);
        if (before[i] === now || this.ownership === null) return;
        this.markOwnedBy(m.name);
        if (now) this.ownership.memberCounted(m.name);
      });
    });
    // One more member in view: a fresh chance for the claims that failed without it.
    if (!on) this.ownership?.retryNow();
  }

  /** A heartbeat counts only from the address the member is known at (it can only delay a failover, but not from a stranger). */
  private onHeartbeat(from: Address, payload: Uint8Array): void {
    const hb = this.heartbeats;
    if (hb === null || this.stopped) return;
    const msg = decodeHeartbeat(payload);
    if (msg === null) {
      this.heartbeatDrops.malformed++;
      return;
    }
    const m = this.node.member(msg.sender);
    if (m === undefined || m.host !== from.host || m.port !== from.port) {
      this.heartbeatDrops.address++;
      return;
    }
    hb.heard(msg.sender, msg.hearsQuorum, msg.lateMs);
  }

  /** One encoding per tick, not one per peer. */
  private heartbeatBytes(hearsQuorum: boolean, lateMs: number): Uint8Array {
    const c = this.heartbeatPayload;
    if (c !== null && c.hearsQuorum === hearsQuorum && c.lateMs === lateMs) return c.bytes;
    const bytes = encodeHeartbeat({ sender: this.node.name, hearsQuorum, lateMs });
    this.heartbeatPayload = { hearsQuorum, lateMs, bytes };
    return bytes;
  }

  /** Heartbeat counters (null when heartbeats are off). */
  heartbeatStats(): (HeartbeatStats & { silentNow: number; droppedMalformed: number; droppedAddress: number }) | null {
    const hb = this.heartbeats;
    if (hb === null) return null;
    return { ...hb.stats, silentNow: hb.barredCount(), droppedMalformed: this.heartbeatDrops.malformed, droppedAddress: this.heartbeatDrops.address };
  }

  /** The memberlist messages stating what this member holds about each name, and the refused-probe marks it holds. */
  private evidenceOf(names: Iterable<string>): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const name of names) {
      for (const e of this.node.evidenceOf([name])) out.push(e);
      // Each mark right after the suspicion it rests on, so a claim trimmed to its budget keeps them together.
      const inc = this.bars.goneIncarnation(name);
      if (inc !== undefined) out.push(encodeRefusedEvidence({ name, incarnation: inc }));
    }
    return out;
  }

  /** The listener the core calls before this member refutes an accusation of itself. */
  private selfRefuting(d: FlapDamping): Uint8Array | null {
    if (this.stopped) return null;
    const crossed = d.refuting(this.dampingClockMs());
    this.saveDamping?.(d.saved());
    if (!crossed) return null;
    this.dampingChanged(d);
    // The refutation carries the tag: this member's return and its suppression are one change everywhere.
    const meta = this.dampedTag?.stage(true) ?? null;
    if (meta === null) this.advertiseDamped();
    this.scheduleDamping();
    return meta;
  }

  private dampingChanged(d: FlapDamping): void {
    const st = d.stateAt(this.dampingClockMs());
    this.log?.('info', st.suppressed ? 'flapping: this member is not eligible for primary until its score decays' : 'flap damping released this member: eligible for primary again', { score: Math.round(st.score * 1000) / 1000, flaps: st.flaps });
  }

  /** Not from inside an event: the tag change is a member event of its own. */
  private advertiseDamped(): void {
    const tag = this.dampedTag;
    if (tag === null) return;
    this.scheduler.setTimer(0, () => {
      if (!this.stopped && this.damping !== null) tag.apply(this.damping.isSuppressed());
    });
  }

  /** Keeps one timer at the next tick boundary while this member is suppressed; releases it there once its score decayed. */
  private scheduleDamping(): void {
    const d = this.damping!;
    if (this.stopped) return;
    const now = this.dampingClockMs();
    const at = d.nextEvaluationMs(now);
    if (at === null) {
      // Suppressed by the score a previous process saved, or released: the tag says what is in force.
      this.advertiseDamped();
      return;
    }
    if (this.dampingTimer !== null && this.dampingTimerAtMs <= at) return;
    this.dampingTimer?.cancel();
    this.dampingTimerAtMs = at;
    this.dampingTimer = this.scheduler.setTimer(Math.max(0, at - now), () => {
      this.dampingTimer = null;
      this.dampingTimerAtMs = Infinity;
      if (this.stopped) return;
      if (d.evaluate(this.dampingClockMs())) {
        this.saveDamping?.(d.saved());
        this.dampingChanged(d);
      }
      this.scheduleDamping();
    });
  }

  private quorumState(): 'ok' | 'no-quorum' {
    if (this.ownership) return this.ownership.quorumOk() ? 'ok' : 'no-quorum';
    return this.engine.snapshot().quorum;
  }

  private track(m: MemberSnapshot, pm: PartitionMember): void {
    const alive = m.state === 'alive';
    const before = this.aliveEligible.size;
    const eligible = this.engine.eligibleByTags(pm);
    // A silent member is not counted: a member cut off from the rest finds too few and holds nothing. A suspect
    // this member hears itself is: the suspicion may be a cut-off member's, which cannot hear anyone's acks.
    const counted = (alive || (m.state === 'suspect' && this.heartbeats?.isFresh(m.name) === true)) && !this.bars.isSilent(m.name);
    if (counted && m.contacted && eligible) this.aliveEligible.add(m.name);
    else this.aliveEligible.delete(m.name);
    if (m.name === this.node.name) this.selfEligible = eligible && pm.tags[OWNERSHIP_TAG] === OWNERSHIP_TAG_VALUE;
    else if ((alive || m.state === 'suspect') && m.contacted && eligible && pm.tags[OWNERSHIP_TAG] === OWNERSHIP_TAG_VALUE) this.heartbeatPeers.add(m.name);
    else if (this.heartbeatPeers.delete(m.name)) {
      this.heartbeats?.forget(m.name);
      this.bars.forgetSilent(m.name);
    }
    // The snapshot's liveMembers reads this set: a member can come and go without moving any partition (a damped or drained one).
    if (this.aliveEligible.size !== before) this.snapshotCache = null;
    if (alive && pm.tags[OWNERSHIP_TAG] === OWNERSHIP_TAG_VALUE) this.protocolPeers.add(m.name);
    else this.protocolPeers.delete(m.name);
  }

  private markDirty(parts: Int32Array | readonly number[]): void {
    for (let j = 0; j < parts.length; j++) this.mark(parts[j]!);
    if (this.batching === 0) this.flush();
  }

  /** Partitions whose last known owner is `name`. */
  private markOwnedBy(name: string): void {
    const o = this.ownership!;
    for (let p = 0; p < this.published.length; p++) if (o.knownOwnerOf(p) === name) this.mark(p);
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

  /**
   * Fills `scratch` with what partition p shows now and returns its token: the
   * placed replicas always; as primary, this member while it holds an epoch, or
   * the placed primary once this daemon heard of its commit and sees it alive.
   */
  private entryFor(p: number, selfSlot: number, quorumOk: boolean, viewVersion: number): number {
    const e = this.scratch;
    this.engine.copyRow(p, e, 0);
    const o = this.ownership;
    if (o === null) return viewVersion;
    const held = o.heldEpoch(p);
    if (held > 0) {
      e[0] = selfSlot;
      return held;
    }
    const owner = o.knownOwnerOf(p);
    const placed = e[0]!;
    // Without a quorum in view this daemon vouches for no owner: the one it knew of may have lost its quorum too.
    const shown = quorumOk && owner !== null && owner !== this.node.name && placed >= 0 && this.engine.slotNames()[placed] === owner && this.aliveEligible.has(owner);
    if (!shown) e[0] = -1;
    return o.knownEpochOf(p);
  }

  private flush(): void {
    const quorum = this.quorumState();
    if (this.dirtyCount === 0 && quorum === this.lastQuorum) return;
    let changedCount = 0;
    const S = this.stride;
    const names = this.engine.slotNames();
    const selfSlot = this.engine.slotOfName(this.node.name);
    const base = this.published;
    let rows: Int32Array[] | null = null;
    let tokens: Float64Array[] | null = null;
    const e = this.scratch;
    // Read once per flush, not per partition: nothing below changes them.
    const quorumOk = this.ownership !== null && this.ownership.quorumOk();
    const viewVersion = this.engine.snapshot().viewVersion;
    for (let j = 0; j < this.dirtyCount; j++) {
      const p = this.dirtyList[j]!;
      this.isDirty[p] = 0;
      const token = this.entryFor(p, selfSlot, quorumOk, viewVersion);
      const c = p >>> CHUNK_BITS;
      const at = (p & CHUNK_MASK) * S;
      let row = (rows ?? base.rows)[c]!;
      let tok = (tokens ?? base.tokens)[c]!;
      let holdersMoved = false;
      for (let k = 0; k < S; k++) if (row[at + k] !== e[k]) holdersMoved = true;
      if (!holdersMoved && tok[p & CHUNK_MASK] === token) continue;
      const oldPrimary = row[at]!;
      if (rows === null || tokens === null) {
        rows = base.rows.slice();
        tokens = base.tokens.slice();
        this.rowCopier.begin();
        this.tokenCopier.begin();
      }
      if (this.copiedIn[c] !== this.flushSeq) {
        rows[c] = row = this.rowCopier.copy(base.rows[c]!);
        tokens[c] = tok = this.tokenCopier.copy(base.tokens[c]!);
        this.copiedIn[c] = this.flushSeq;
      }
      for (let k = 0; k < S; k++) row[at + k] = e[k]!;
      tok[p & CHUNK_MASK] = token;
      this.checksum.set(p, e, 0, S, token, names);
      // In view mode every token moves on every change; report only partitions whose holders moved.
      if (this.ownership || holdersMoved) {
        this.changedIds[changedCount] = p;
        this.changedOldPrimary[changedCount++] = oldPrimary;
      }
    }
    this.dirtyCount = 0;
    this.flushSeq++;
    const quorumChanged = quorum !== this.lastQuorum;
    this.lastQuorum = quorum;
    if (rows === null && !quorumChanged) return;
    if (rows !== null && tokens !== null) {
      this.published = new PublishedTable(rows, tokens, names, S, base.length);
      this.tableSeq++;
      this.tableChangedAtMs = this.scheduler.nowMs();
    }
    this.snapshotCache = null;
    const snap = this.snapshot();
    const ids = changedCount === 0 ? NO_IDS : this.changedIds.slice(0, changedCount);
    const oldPrimaries = changedCount === 0 ? NO_IDS : this.changedOldPrimary.slice(0, changedCount);
    const diff = new FlushDiff(snap.viewVersion, quorum, ids, oldPrimaries, this.published);
    for (const l of this.listeners) l(snap, diff);
  }
}
