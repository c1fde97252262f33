// Partition leadership computed locally from the member view: no election round.
//
// rendezvous (default): every (partition, member) pair gets a score from the
//   member's xxhash mixed with the partition id; the best-scored eligible member
//   is primary and the next ones are replicas (preferring unseen zones). One
//   member's death moves only its own partitions, each to its next-ranked member.
// modulo: hash(partition + epoch) % live.length over the live members sorted by
//   name, epoch = view version. Simple, but most partitions move on every change.
// Bounded load (rendezvous only): no member is primary of more than
//   ⌈(1 + ε)·P / N⌉ partitions; partitions are filled in id order, so this mode
//   always recomputes in full (mostly from the candidate lists: O(P), not O(P·N)).
//
// Cost of an event. A death or a member leaving ranks only the partitions the
// member held (a position list per member finds them); a join ranks those the
// newcomer can win (a key per partition). A ranking reads the partition's
// candidate list (its best few eligible members) when that settles the picks,
// else every eligible member once. Modulo, bounded load, a quorum change or a
// change of a member's zone, weight or tags recomputes every partition.
//
// Layout. Members live in slots (a slot per name, never reused, so a slot in an
// old snapshot always names the same member). A partition's holders are one row
// of S = replicas + 1 member slots: [primary or −1, replica…, −1…] (with no
// primary, up to `replicas` replicas). Rows sit in Int32Array chunks of CHUNK
// rows; a change copies only the chunks it touches and the chunk index, so a
// published snapshot is shared by every reader and never copied or mutated.
// `{id, primary, replicas}` objects are made only when a reader asks for one.
import xxhash from 'xxhash-wasm';
import { xxh32, xxh32Bytes } from './xxh32.js';
import type { MemberEvent, MemberSnapshot } from '../core/member-types.js';
import { ViewVersion } from './fencing.js';
import { partitionMemberOf, type PartitionMember } from './members.js';
import { CHUNK, CHUNK_BITS, CHUNK_MASK, changedEntries, checkIndex, ChunkCopier, NO_IDS, type ReadonlyTable } from './table.js';
import { SwimdError } from '../base/errors.js';

export interface PartitionOptions {
  partitions: number;
  replicas: number;
  strategy: 'rendezvous' | 'modulo';
  /** Fewer live members than this: claim no primaries (0 disables). */
  quorum: number;
  /** Bounded load ε; undefined disables. */
  boundedLoadEpsilon?: number;
  /** Move a suspect member's partitions at once instead of waiting for its death. */
  failoverOnSuspect?: boolean;
  /**
   * Which members may hold partitions at all (primary or replica), by their
   * tags; others (Serf agents, tooling) are ignored. Undefined: every member.
   */
  eligible?: (m: PartitionMember) => boolean;
  /**
   * Members flap damping keeps from being primary (damped-members.ts): treated
   * as drained. When the answer changes the caller applies an update event for the member.
   */
  suppressed?: (name: string) => boolean;
}

export interface PartitionAssignment {
  readonly id: number;
  readonly primary: string | null;
  readonly replicas: readonly string[];
}

export interface PartitionSnapshot {
  readonly viewVersion: number;
  readonly quorum: 'ok' | 'no-quorum';
  readonly liveMembers: number;
  /** Read-only and shared: `get(p)` makes the entry on demand. */
  readonly partitions: ReadonlyTable<PartitionAssignment>;
  /** Fencing token of every partition in this snapshot (see fencing.ts). */
  readonly token: number;
}

export interface PartitionChange {
  id: number;
  oldPrimary: string | null;
  newPrimary: string | null;
  replicas: readonly string[];
  token: number;
}

export interface PartitionDiff {
  readonly viewVersion: number;
  readonly quorum: 'ok' | 'no-quorum';
  /** How many partitions changed. */
  readonly count: number;
  /** The changed partitions' ids, ascending (this diff's own copy). */
  readonly ids: Int32Array;
  /** Each changed partition's primary before, as a member slot (−1 for none), by position in `ids`. */
  readonly oldPrimarySlots: Int32Array;
  /** The changes as objects, made on first read: the event path reads `ids` and the snapshot instead. */
  readonly changed: readonly PartitionChange[];
}

export class PartitionConfigError extends SwimdError {
  constructor(message: string) {
    super('PARTITION_CONFIG_INVALID', message);
  }
}

export type Hasher = (s: string) => number;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const HASH_SEED = 0x5317d;

/** Writes the decimal digits of a non-negative integer n, then the ASCII `suffix`, at the start of `out`; returns the length. */
function writeDecimal(out: Uint8Array, n: number, suffix: string): number {
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  for (let i = digits - 1, x = n; i >= 0; i--, x = Math.floor(x / 10)) out[i] = 0x30 + (x % 10);
  for (let i = 0; i < suffix.length; i++) out[digits + i] = suffix.charCodeAt(i);
  return digits + suffix.length;
}

/** The member-name hash rendezvous scores start from (xxhash32, loaded once; the same values in plain JavaScript where WebAssembly is off). */
export async function createHasher(): Promise<Hasher> {
  if ((globalThis as { WebAssembly?: unknown }).WebAssembly === undefined) return (s) => xxh32(s, HASH_SEED);
  const { h32 } = await xxhash();
  return (s) => h32(s, HASH_SEED) >>> 0;
}

export async function createPartitionEngine(opts: PartitionOptions): Promise<PartitionEngine> {
  return new PartitionEngine(opts, await createHasher());
}

/** A published placement: shared row chunks and the slot names; entries are made on demand. */
class PlacementTable implements ReadonlyTable<PartitionAssignment> {
  constructor(
    private readonly chunks: readonly Int32Array[],
    /** Names by slot; only ever appended to, so an old table's slots still resolve. */
    private readonly names: readonly string[],
    private readonly stride: number,
    readonly length: number,
  ) {}

  get(p: number): PartitionAssignment {
    checkIndex(p, this.length);
    const chunk = this.chunks[p >>> CHUNK_BITS]!;
    const at = (p & CHUNK_MASK) * this.stride;
    const primary = chunk[at]!;
    const replicas: string[] = [];
    for (let k = 1; k < this.stride; k++) {
      const r = chunk[at + k]!;
      if (r < 0) break;
      replicas.push(this.names[r]!);
    }
    return { id: p, primary: primary < 0 ? null : this.names[primary]!, replicas };
  }

  *[Symbol.iterator](): Iterator<PartitionAssignment> {
    for (let p = 0; p < this.length; p++) yield this.get(p);
  }

  /** JSON.stringify of a snapshot shows the entries, not the chunks. */
  toJSON(): PartitionAssignment[] {
    return [...this];
  }
}

/** A diff over the published table it produced: typed ids, and objects only when a reader asks for `changed`. */
class EngineDiff implements PartitionDiff {
  private made: PartitionChange[] | null = null;
  constructor(
    readonly viewVersion: number,
    readonly quorum: 'ok' | 'no-quorum',
    readonly ids: Int32Array,
    readonly oldPrimarySlots: Int32Array,
    private readonly table: PlacementTable,
    private readonly names: readonly string[],
  ) {}

  get count(): number {
    return this.ids.length;
  }

  get changed(): readonly PartitionChange[] {
    this.made ??= changedEntries(this.ids, this.oldPrimarySlots, this.names, (id) => this.table.get(id), () => this.viewVersion);
    return this.made;
  }
}

/** Candidates kept per partition beyond the R + 1 the picks need, so a few deaths still leave enough. */
const CANDIDATE_SPARE = 8;

function grownInt32(a: Int32Array, need: number, fill = 0): Int32Array {
  if (a.length >= need) return a;
  const b = new Int32Array(Math.max(need, a.length * 2)).fill(fill);
  b.set(a);
  return b;
}

function isLive(m: PartitionMember | undefined): boolean {
  return m !== undefined && (m.state === 'alive' || m.state === 'suspect');
}

export class PartitionEngine {
  private readonly view = new ViewVersion();
  private readonly salts: Uint32Array;
  /** Row width: the primary and up to `replicas` replicas. */
  private readonly stride: number;

  // Members by slot.
  private readonly slotOf = new Map<string, number>();
  private readonly names: string[] = [];
  /** The member as last recorded; undefined once applyMembers dropped it. */
  private readonly entries: (PartitionMember | undefined)[] = [];
  private hashes = new Uint32Array(16);
  private zoneOfSlot: Int32Array = new Int32Array(16);
  private readonly zoneIds = new Map<string, number>();
  /** How many known members are in each zone. */
  private readonly zoneCounts = new Map<string, number>();
  /** Members alive or suspect, kept as events arrive (the quorum guard reads it on every event). */
  private live = 0;
  /**
   * Known members whose weight is not 1. While there are none, keys are the raw
   * 32-bit scores (cheap); once any weight differs, every key, weight 1 included,
   * is −w / ln(u) so that weights compare on one scale. The two forms order
   * weight-1 members the same way (−1 / ln(u) rises with u).
   */
  private weightedCount = 0;

  // The eligible members as flat arrays for the ranking loop, rebuilt (O(N)) when that set or a member's ranking inputs change.
  private eligibleStale = true;
  private eCount = 0;
  private eSlot = new Int32Array(16);
  private eHash = new Uint32Array(16);
  private eZone = new Int32Array(16);
  private eDrain = new Uint8Array(16);
  private eWeight = new Float64Array(16);

  /**
   * Per partition, the best-ranked eligible members (slots, −1 padded), best
   * first: filled by every full ranking of the partition, a member that becomes
   * eligible is inserted where it ranks, one that stops being eligible is only
   * skipped. So the eligible entries are always the top eligible members, and
   * any eligible member not listed ranks below the last entry. The picks need
   * only the top R + 1, the best primary candidate and each zone's best, which
   * the list usually holds: then a partition is ranked from a handful of entries
   * instead of every member. candStamp[p] !== candEpoch: no list (keys changed).
   */
  private readonly candWidth: number;
  private readonly cand: Int32Array;
  private readonly candStamp: Uint32Array;
  private candEpoch = 1;
  private readonly candTop: Int32Array;
  private eligibleSlot = new Uint8Array(16);
  /** Zones with at least one eligible member. */
  private eligibleZones = 0;

  // Ranking scratch, reused for every partition.
  private keys = new Float64Array(16);
  private zoneBest: Int32Array = new Int32Array(4);
  /** zoneStamp[z] === rankSeq: zoneBest[z] is valid for the partition being ranked. */
  private zoneStamp: Int32Array = new Int32Array(4);
  private rankSeq = 0;
  private readonly top: Int32Array;
  private readonly chosen: Int32Array;
  private readonly chosenZones: Int32Array;
  private readonly row: Int32Array;
  private loads: Int32Array = new Int32Array(16);
  /** Modulo's per-partition key bytes: a partition id, '+', a view version. */
  private readonly moduloKey = new Uint8Array(48);

  // The current table and the update being built.
  private chunks: Int32Array[];
  private nextChunks: Int32Array[] | null = null;
  /** chunkCopiedIn[c] === updateSeq: chunk c is already a private copy in this update. */
  private readonly chunkCopiedIn: Uint32Array;
  private readonly copier: ChunkCopier<Int32Array>;
  private updateSeq = 1;
  private changedCount = 0;
  private readonly changedIds: Int32Array;
  private readonly changedOldPrimary: Int32Array;
  private readonly touched: Int32Array;
  /** heldPartitionsAscending's marks, all 0 between calls. */
  private readonly heldFlags: Uint8Array;
  private table: PlacementTable;

  // Holdings, for incremental failover: each member slot's list of the row positions (p·stride + k) it fills, in no order;
  // posIndex[p·stride + k] is where that position sits in its member's list (O(1) add and remove, no allocation).
  private holdLists: Int32Array[] = [];
  private holdCount: Int32Array = new Int32Array(16);
  private readonly posIndex: Int32Array;

  private snap: PartitionSnapshot;
  private readonly listeners = new Set<(snap: PartitionSnapshot, diff: PartitionDiff) => void>();

  constructor(
    readonly opts: PartitionOptions,
    private readonly hash: Hasher,
  ) {
    if (!Number.isInteger(opts.partitions) || opts.partitions < 1 || opts.partitions > 1 << 20) throw new PartitionConfigError(`partitions.count must be 1..1048576, got ${opts.partitions}`);
    if (!Number.isInteger(opts.replicas) || opts.replicas < 1) throw new PartitionConfigError(`partitions.replicas must be ≥ 1, got ${opts.replicas}`);
    const P = opts.partitions;
    this.salts = new Uint32Array(P);
    for (let p = 0; p < P; p++) this.salts[p] = fmix32(Math.imul(p + 1, 0x9e3779b1) >>> 0);
    this.stride = opts.replicas + 1;
    this.candWidth = opts.replicas + 1 + CANDIDATE_SPARE;
    this.cand = new Int32Array(P * this.candWidth).fill(-1);
    this.candStamp = new Uint32Array(P);
    this.candTop = new Int32Array(opts.replicas + 1);
    this.top = new Int32Array(this.candWidth);
    this.chosen = new Int32Array(opts.replicas);
    this.chosenZones = new Int32Array(opts.replicas);
    this.row = new Int32Array(this.stride);
    this.chunks = [];
    for (let c = 0; c * CHUNK < P; c++) this.chunks.push(new Int32Array(CHUNK * this.stride).fill(-1));
    this.chunkCopiedIn = new Uint32Array(this.chunks.length);
    this.copier = new ChunkCopier((n) => new Int32Array(n), CHUNK * this.stride, this.chunks.length);
    this.changedIds = new Int32Array(P);
    this.changedOldPrimary = new Int32Array(P);
    this.touched = new Int32Array(P);
    this.heldFlags = new Uint8Array(P);
    this.posIndex = new Int32Array(P * this.stride);
    this.table = new PlacementTable(this.chunks, this.names, this.stride, P);
    this.snap = this.freeze();
  }

  snapshot(): PartitionSnapshot {
    return this.snap;
  }

  on(listener: (snap: PartitionSnapshot, diff: PartitionDiff) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Partitions where `name` is primary or replica in the current snapshot, ascending. */
  owned(name: string): { primary: number[]; replica: number[] } {
    const primary: number[] = [];
    const replica: number[] = [];
    const slot = this.slotOf.get(name);
    if (slot !== undefined) {
      const list = this.holdLists[slot]!;
      for (let j = 0; j < this.holdCount[slot]!; j++) {
        const pos = list[j]!;
        const p = (pos / this.stride) | 0;
        (pos - p * this.stride === 0 ? primary : replica).push(p);
      }
    }
    return { primary: primary.sort((a, b) => a - b), replica: replica.sort((a, b) => a - b) };
  }

  /** Replaces the whole view and recomputes everything (the fallback and the test oracle). */
  applyMembers(list: readonly (MemberSnapshot | PartitionMember)[]): PartitionDiff {
    // Many members may become eligible at once: the full ranking below rebuilds every list instead.
    this.candEpoch++;
    for (const x of list) this.record(this.damped('zone' in x ? x : partitionMemberOf(x)));
    const names = new Set(list.map((x) => x.name));
    for (let slot = 0; slot < this.names.length; slot++) {
      const m = this.entries[slot];
      if (m === undefined || names.has(m.name)) continue;
      if (isLive(m)) this.live--;
      if (m.weight !== 1) this.weightedCount--;
      this.dropZone(m.zone);
      this.entries[slot] = undefined;
      this.eligibleSlot[slot] = 0;
      this.eligibleStale = true;
    }
    this.computeAll();
    return this.publish();
  }

  /** Applies one member event, recomputing only what it can change. */
  applyEvent(ev: MemberEvent): PartitionDiff {
    const next = this.damped(partitionMemberOf(ev.member));
    const known = this.slotOf.get(next.name);
    const before = known === undefined ? undefined : this.entries[known];
    const quorumBefore = this.quorumOk();
    const weightedBefore = this.weightedCount > 0;
    const slot = this.record(next);
    const wasEligible = before !== undefined && this.eligible(before);
    const isEligible = this.eligible(next);
    const rankingChanged = before !== undefined && (before.zone !== next.zone || before.weight !== next.weight || (before.drain && !next.drain) || this.eligibleByTags(before) !== this.eligibleByTags(next));
    // (A member becoming contacted is a member becoming eligible: the join path below handles it.)
    if (weightedBefore !== this.weightedCount > 0 || (before !== undefined && before.weight !== next.weight)) this.candEpoch++; // keys changed
    else if (!wasEligible && isEligible) this.insertCandidate(slot);
    if (this.quorumOk() !== quorumBefore || weightedBefore !== this.weightedCount > 0 || this.opts.strategy === 'modulo' || this.opts.boundedLoadEpsilon !== undefined) {
      this.computeAll();
      return this.publish();
    }
    if (!this.quorumOk()) return this.publish();
    if (rankingChanged) {
      this.computeAll();
      return this.publish();
    }
    const touched = this.touched;
    let n = 0;
    if (wasEligible && (!isEligible || (next.drain && !before!.drain))) {
      n = this.heldPartitionsAscending(slot);
    } else if (!wasEligible && isEligible) {
      for (let p = 0; p < this.opts.partitions; p++) if (this.mightWin(p, slot)) touched[n++] = p;
    }
    if (n > 0) {
      this.ensureEligible();
      for (let j = 0; j < n; j++) {
        this.rankInto(touched[j]!, null, Infinity);
        this.stage(touched[j]!);
      }
    }
    return this.publish();
  }

  /**
   * Fills `touched` with the partitions `slot` holds, ascending (diffs list
   * partitions in id order, as a full recompute does); returns how many. A
   * member holding many marks them in a flag array and scans it (O(P), no
   * sort); one holding few sorts its short list.
   */
  private heldPartitionsAscending(slot: number): number {
    const touched = this.touched;
    const list = this.holdLists[slot]!;
    const held = this.holdCount[slot]!;
    const S = this.stride;
    const P = this.opts.partitions;
    // (A member fills at most one position of a partition, so the list has no repeats.)
    if (held * 16 < P) {
      for (let j = 0; j < held; j++) touched[j] = (list[j]! / S) | 0;
      touched.subarray(0, held).sort();
      return held;
    }
    const flags = this.heldFlags;
    for (let j = 0; j < held; j++) flags[(list[j]! / S) | 0] = 1;
    let n = 0;
    for (let p = 0; p < P; p++) {
      if (flags[p] === 0) continue;
      flags[p] = 0;
      touched[n++] = p;
    }
    return n;
  }

  /** A member flap damping suppresses is drained: a replica, never primary. */
  private damped(m: PartitionMember): PartitionMember {
    return !m.drain && this.opts.suppressed?.(m.name) === true ? { ...m, drain: true } : m;
  }

  /** Records a member's latest state; returns its slot. */
  private record(m: PartitionMember): number {
    this.view.observe(m.name, m.incarnation, m.state);
    let slot = this.slotOf.get(m.name);
    if (slot === undefined) {
      slot = this.names.length;
      this.names.push(m.name);
      this.slotOf.set(m.name, slot);
      this.entries.push(undefined);
      this.holdLists.push(new Int32Array(8));
      if (this.hashes.length <= slot) {
        const h = new Uint32Array(this.hashes.length * 2);
        h.set(this.hashes);
        this.hashes = h;
      }
      this.hashes[slot] = this.hash(m.name);
      this.zoneOfSlot = grownInt32(this.zoneOfSlot, slot + 1);
      this.holdCount = grownInt32(this.holdCount, slot + 1);
      this.loads = grownInt32(this.loads, slot + 1);
      if (this.eligibleSlot.length <= slot) {
        const e = new Uint8Array(this.eligibleSlot.length * 2);
        e.set(this.eligibleSlot);
        this.eligibleSlot = e;
      }
    }
    const prev = this.entries[slot];
    this.live += (isLive(m) ? 1 : 0) - (isLive(prev) ? 1 : 0);
    this.weightedCount += (m.weight !== 1 ? 1 : 0) - (prev !== undefined && prev.weight !== 1 ? 1 : 0);
    if (prev?.zone !== m.zone) {
      if (prev) this.dropZone(prev.zone);
      this.zoneCounts.set(m.zone, (this.zoneCounts.get(m.zone) ?? 0) + 1);
    }
    let zone = this.zoneIds.get(m.zone);
    if (zone === undefined) {
      zone = this.zoneIds.size;
      this.zoneIds.set(m.zone, zone);
      this.zoneBest = grownInt32(this.zoneBest, zone + 1);
      this.zoneStamp = grownInt32(this.zoneStamp, zone + 1);
    }
    this.zoneOfSlot[slot] = zone;
    const wasEligible = prev !== undefined && this.eligible(prev);
    const isEligible = this.eligible(m);
    if (wasEligible !== isEligible || (isEligible && (prev!.zone !== m.zone || prev!.weight !== m.weight || prev!.drain !== m.drain))) this.eligibleStale = true;
    this.entries[slot] = m;
    this.eligibleSlot[slot] = isEligible ? 1 : 0;
    return slot;
  }

  private dropZone(zone: string): void {
    const c = (this.zoneCounts.get(zone) ?? 1) - 1;
    if (c <= 0) this.zoneCounts.delete(zone);
    else this.zoneCounts.set(zone, c);
  }

  private eligible(m: PartitionMember): boolean {
    return (m.state === 'alive' || (m.state === 'suspect' && !this.opts.failoverOnSuspect)) && m.contacted && this.eligibleByTags(m);
  }

  /** Passes the tag selector (whatever its state). */
  eligibleByTags(m: PartitionMember): boolean {
    return this.opts.eligible === undefined || this.opts.eligible(m);
  }

  /** The member as the engine last recorded it. */
  memberOf(name: string): PartitionMember | undefined {
    const slot = this.slotOf.get(name);
    return slot === undefined ? undefined : this.entries[slot];
  }

  /** Width of a holder row: the primary and up to `replicas` replicas. */
  rowWidth(): number {
    return this.stride;
  }

  /** Copies partition p's current holder row (member slots, −1 for none) into `out` at `at`. */
  copyRow(p: number, out: Int32Array, at: number): void {
    const chunk = this.chunks[p >>> CHUNK_BITS]!;
    const from = (p & CHUNK_MASK) * this.stride;
    for (let k = 0; k < this.stride; k++) out[at + k] = chunk[from + k]!;
  }

  /** Member names by slot; only ever appended to, so a slot keeps its name for good. */
  slotNames(): readonly string[] {
    return this.names;
  }

  /** The slot of a member the engine has recorded, or −1. */
  slotOfName(name: string): number {
    return this.slotOf.get(name) ?? -1;
  }

  /** Primary of p in the current snapshot. */
  primaryOf(p: number): string | null {
    if (!(p >= 0 && p < this.opts.partitions)) return null;
    const s = this.chunks[p >>> CHUNK_BITS]![(p & CHUNK_MASK) * this.stride]!;
    return s < 0 ? null : this.names[s]!;
  }

  /**
   * Members that would rank above `name` for partition p but cannot be its
   * primary now (dead, left, suspect under failoverOnSuspect, or drained):
   * what a claimant must show a granter for the granter to agree it is rightful.
   */
  outranking(p: number, name: string): string[] {
    const me = this.slotOf.get(name);
    if (me === undefined || this.entries[me] === undefined) return [];
    // Made at the first member found, at its size: a claim asks this of every partition it names, mostly for one or two members.
    let out: string[] | null = null;
    for (let slot = 0; slot < this.names.length; slot++) {
      const m = this.entries[slot];
      if (slot === me || m === undefined || !this.eligibleByTags(m)) continue;
      if ((!this.eligible(m) || m.drain) && this.betterSlot(p, slot, me)) {
        if (out === null) out = [m.name];
        else out.push(m.name);
      }
    }
    return out ?? [];
  }

  private quorumOk(): boolean {
    return this.opts.quorum <= 0 || this.live >= this.opts.quorum;
  }

  private ensureEligible(): void {
    if (!this.eligibleStale) return;
    this.eligibleStale = false;
    const cap = this.names.length;
    if (this.eSlot.length < cap) {
      const size = Math.max(cap, this.eSlot.length * 2);
      this.eSlot = new Int32Array(size);
      this.eHash = new Uint32Array(size);
      this.eZone = new Int32Array(size);
      this.eDrain = new Uint8Array(size);
      this.eWeight = new Float64Array(size);
      this.keys = new Float64Array(size);
    }
    let n = 0;
    for (let slot = 0; slot < cap; slot++) {
      const m = this.entries[slot];
      if (m === undefined || !this.eligible(m)) continue;
      this.eSlot[n] = slot;
      this.eHash[n] = this.hashes[slot]!;
      this.eZone[n] = this.zoneOfSlot[slot]!;
      this.eDrain[n] = m.drain ? 1 : 0;
      this.eWeight[n] = m.weight;
      n++;
    }
    this.eCount = n;
    let zones = 0;
    const counted = ++this.rankSeq;
    for (let i = 0; i < n; i++) {
      if (this.zoneStamp[this.eZone[i]!] === counted) continue;
      this.zoneStamp[this.eZone[i]!] = counted;
      zones++;
    }
    this.eligibleZones = zones;
  }

  /** Rendezvous key of a member slot for a partition: higher wins. Weighted as −w / ln(u). */
  private keyOf(p: number, slot: number): number {
    const score = fmix32((this.hashes[slot]! ^ this.salts[p]!) >>> 0);
    if (this.weightedCount === 0) return score;
    const u = (score + 1) / 4294967297;
    return (-(this.entries[slot]?.weight ?? 1) / Math.log(u)) * 1e9;
  }

  private betterSlot(p: number, a: number, b: number): boolean {
    const ka = this.keyOf(p, a);
    const kb = this.keyOf(p, b);
    return ka > kb || (ka === kb && this.names[a]! < this.names[b]!);
  }

  /** Between eligible members i and j, ranked for the partition whose keys are in `keys`. */
  private beats(i: number, j: number): boolean {
    const ki = this.keys[i]!;
    const kj = this.keys[j]!;
    return ki > kj || (ki === kj && this.names[this.eSlot[i]!]! < this.names[this.eSlot[j]!]!);
  }

  /** A member became eligible: list it in every partition's candidates where it ranks. */
  private insertCandidate(slot: number): void {
    const K = this.candWidth;
    const cand = this.cand;
    const name = this.names[slot]!;
    for (let p = 0; p < this.opts.partitions; p++) {
      if (this.candStamp[p] !== this.candEpoch) continue;
      const base = p * K;
      let listed = false;
      for (let j = 0; j < K; j++) if (cand[base + j] === slot) listed = true;
      if (listed) continue; // ranked there already, skipped while it was not eligible
      const key = this.keyOf(p, slot);
      const lastSlot = cand[base + K - 1]!;
      if (lastSlot >= 0) {
        // Most newcomers rank below a full list: one comparison settles it.
        const kl = this.keyOf(p, lastSlot);
        if (key < kl || (key === kl && name > this.names[lastSlot]!)) continue;
      }
      let at = K;
      for (let j = 0; j < K; j++) {
        const s = cand[base + j]!;
        if (s < 0) {
          at = j;
          break;
        }
        const ks = this.keyOf(p, s);
        if (key > ks || (key === ks && name < this.names[s]!)) {
          at = j;
          break;
        }
      }
      if (at === K) continue; // below every entry: the list stays the top
      for (let j = K - 1; j > at; j--) cand[base + j] = cand[base + j - 1]!;
      cand[base + at] = slot;
    }
  }

  /**
   * Ranks p from its candidate list when that list settles every pick: the best
   * primary candidate, the top R + 1 eligible members and, with several zones,
   * the best member of every zone that has an eligible member (the first listed
   * one of a zone is that zone's best, as unlisted members rank below the list).
   * False when the list cannot tell, e.g. too many of its members died.
   */
  private rankFromCandidates(p: number, loads: Int32Array | null, cap: number, multiZone: boolean): boolean {
    const K = this.candWidth;
    const R = this.opts.replicas;
    const cand = this.cand;
    const base = p * K;
    /** List positions of the top R + 1 eligible entries; a lower position ranks higher. */
    const top = this.candTop;
    const zoneBest = this.zoneBest;
    const zoneStamp = this.zoneStamp;
    const seq = ++this.rankSeq;
    let primary = -1;
    let seen = 0;
    let topLen = 0;
    let zonesListed = 0;
    for (let j = 0; j < K; j++) {
      const s = cand[base + j]!;
      if (s < 0) break;
      if (this.eligibleSlot[s] === 0) continue;
      seen++;
      if (topLen <= R) top[topLen++] = j;
      if (primary < 0 && !this.entries[s]!.drain && !(loads !== null && loads[s]! >= cap)) primary = s;
      if (multiZone) {
        const z = this.zoneOfSlot[s]!;
        if (zoneStamp[z] !== seq) {
          zoneStamp[z] = seq;
          zoneBest[z] = j;
          zonesListed++;
        }
      }
      if (primary >= 0 && topLen > R && (!multiZone || zonesListed === this.eligibleZones)) break;
    }
    // Unlisted eligible members rank below every entry: enough only if the list found everything, or holds every eligible member.
    if (seen < this.eCount && (primary < 0 || topLen <= R || (multiZone && zonesListed < this.eligibleZones))) return false;
    if (primary >= 0 && loads !== null) loads[primary]!++;
    const chosen = this.chosen;
    const chosenZones = this.chosenZones;
    let c = 0;
    if (primary >= 0) {
      chosen[0] = primary;
      chosenZones[0] = this.zoneOfSlot[primary]!;
      c = 1;
    }
    const zoneCount = this.zoneIds.size;
    while (c < R) {
      let pick = -1; // a list position
      if (multiZone) {
        for (let z = 0; z < zoneCount; z++) {
          if (zoneStamp[z] !== seq) continue;
          const j = zoneBest[z]!;
          if (pick >= 0 && j > pick) continue;
          const s = cand[base + j]!;
          let taken = false;
          for (let x = 0; x < c; x++) if (chosenZones[x] === z || chosen[x] === s) taken = true;
          if (!taken) pick = j;
        }
      }
      if (pick < 0) {
        for (let t = 0; t < topLen && pick < 0; t++) {
          const s = cand[base + top[t]!]!;
          let taken = false;
          for (let x = 0; x < c; x++) if (chosen[x] === s) taken = true;
          if (!taken) pick = top[t]!;
        }
      }
      if (pick < 0) break;
      const s = cand[base + pick]!;
      chosen[c] = s;
      chosenZones[c] = this.zoneOfSlot[s]!;
      c++;
    }
    const row = this.row;
    row[0] = primary;
    let k = 1;
    for (let x = 0; x < c; x++) if (chosen[x] !== primary) row[k++] = chosen[x]!;
    while (k < this.stride) row[k++] = -1;
    return true;
  }

  /**
   * Could a newly eligible member displace one of partition p's holders? Yes if
   * a slot is free, if it can take a primary place left empty by drained
   * holders, if it outranks a holder, or if it brings a zone the holders lack
   * (replicas prefer unseen zones). Otherwise the greedy picks are unchanged.
   */
  private mightWin(p: number, slot: number): boolean {
    const chunk = this.chunks[p >>> CHUNK_BITS]!;
    const at = (p & CHUNK_MASK) * this.stride;
    if (chunk[at]! < 0 && this.entries[slot]?.drain === false) return true;
    const zone = this.zoneOfSlot[slot]!;
    const key = this.keyOf(p, slot);
    let holders = 0;
    let zoneHeld = false;
    for (let k = 0; k < this.stride; k++) {
      const h = chunk[at + k]!;
      if (h < 0) continue;
      holders++;
      const hm = this.entries[h];
      if (hm === undefined || !this.eligible(hm)) return true;
      const hk = this.keyOf(p, h);
      if (key > hk || (key === hk && this.names[slot]! < this.names[h]!)) return true;
      if (this.zoneOfSlot[h] === zone) zoneHeld = true;
    }
    return holders < this.opts.replicas || !zoneHeld;
  }

  /**
   * Ranks partition p into `row`: one pass computes each eligible member's key
   * once and keeps the best primary candidate, the best member of every zone and
   * the overall top R + 1 (insertion into a tiny array, no sort); the greedy
   * replica picks below need nothing else.
   */
  private rankInto(p: number, loads: Int32Array | null, cap: number): void {
    // With a single zone the zone preference cannot change any pick.
    const multiZone = this.zoneCounts.size > 1;
    if (this.candStamp[p] === this.candEpoch && this.rankFromCandidates(p, loads, cap, multiZone)) return;
    const n = this.eCount;
    const keys = this.keys;
    const eHash = this.eHash;
    const eZone = this.eZone;
    const eDrain = this.eDrain;
    const eSlot = this.eSlot;
    const salt = this.salts[p]!;
    const weighted = this.weightedCount > 0;
    const R = this.opts.replicas;
    const top = this.top;
    const zoneBest = this.zoneBest;
    const zoneStamp = this.zoneStamp;
    const seq = ++this.rankSeq;
    const last = this.candWidth - 1;
    let primary = -1;
    let primaryKey = -Infinity;
    let topLen = 0;
    /** Key of the last of the top list once it is full: most members fall below it and cost one comparison. */
    let topFloor = -Infinity;
    for (let i = 0; i < n; i++) {
      let h = (eHash[i]! ^ salt) >>> 0;
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      const score = h >>> 0;
      const key = weighted ? (-this.eWeight[i]! / Math.log((score + 1) / 4294967297)) * 1e9 : score;
      keys[i] = key;
      // Equal keys (a 2^-32 event unweighted) fall back to the name order in beats().
      if (key >= primaryKey && eDrain[i] === 0 && !(loads !== null && loads[eSlot[i]!]! >= cap) && (primary < 0 || key > primaryKey || this.beats(i, primary))) {
        primary = i;
        primaryKey = key;
      }
      if (multiZone) {
        const z = eZone[i]!;
        if (zoneStamp[z] !== seq || this.beats(i, zoneBest[z]!)) {
          zoneStamp[z] = seq;
          zoneBest[z] = i;
        }
      }
      if (key < topFloor) continue;
      let at: number;
      if (topLen <= last) at = topLen++;
      else if (key > topFloor || this.beats(i, top[last]!)) at = last;
      else continue;
      while (at > 0 && this.beats(i, top[at - 1]!)) {
        top[at] = top[at - 1]!;
        at--;
      }
      top[at] = i;
      if (topLen > last) topFloor = keys[top[last]!]!;
    }
    // This ranking saw every eligible member: its top list is the partition's candidate list from now on.
    const cbase = p * this.candWidth;
    for (let t = 0; t <= last; t++) this.cand[cbase + t] = t < topLen ? eSlot[top[t]!]! : -1;
    this.candStamp[p] = this.candEpoch;
    if (primary >= 0 && loads !== null) loads[eSlot[primary]!]!++;
    const chosen = this.chosen;
    const chosenZones = this.chosenZones;
    let c = 0;
    if (primary >= 0) {
      chosen[0] = primary;
      chosenZones[0] = eZone[primary]!;
      c = 1;
    }
    const zoneCount = this.zoneIds.size;
    while (c < R) {
      let pick = -1;
      if (multiZone) {
        for (let z = 0; z < zoneCount; z++) {
          if (zoneStamp[z] !== seq) continue;
          const i = zoneBest[z]!;
          if (pick >= 0 && !this.beats(i, pick)) continue;
          let seen = false;
          for (let j = 0; j < c; j++) if (chosenZones[j] === z || chosen[j] === i) seen = true;
          if (!seen) pick = i;
        }
      }
      if (pick < 0) {
        for (let t = 0; t < topLen && pick < 0; t++) {
          const i = top[t]!;
          let taken = false;
          for (let j = 0; j < c; j++) if (chosen[j] === i) taken = true;
          if (!taken) pick = i;
        }
      }
      if (pick < 0) break;
      chosen[c] = pick;
      chosenZones[c] = eZone[pick]!;
      c++;
    }
    const row = this.row;
    row[0] = primary >= 0 ? eSlot[primary]! : -1;
    let k = 1;
    for (let j = 0; j < c; j++) if (chosen[j] !== primary) row[k++] = eSlot[chosen[j]!]!;
    while (k < this.stride) row[k++] = -1;
  }

  private computeAll(): void {
    const P = this.opts.partitions;
    if (!this.quorumOk()) {
      this.row.fill(-1);
      for (let p = 0; p < P; p++) this.stage(p);
      return;
    }
    this.ensureEligible();
    if (this.opts.strategy === 'modulo') return this.computeModulo();
    let loads: Int32Array | null = null;
    let cap = Infinity;
    if (this.opts.boundedLoadEpsilon !== undefined) {
      loads = this.loads.fill(0);
      let primaries = 0;
      for (let i = 0; i < this.eCount; i++) if (this.eDrain[i] === 0) primaries++;
      cap = primaries > 0 ? Math.ceil(((1 + this.opts.boundedLoadEpsilon) * P) / primaries) : 0;
    }
    for (let p = 0; p < P; p++) {
      this.rankInto(p, loads, cap);
      this.stage(p);
    }
  }

  private computeModulo(): void {
    const n = this.eCount;
    const sorted = Array.from({ length: n }, (_, i) => i).sort((a, b) => (this.names[this.eSlot[a]!]! < this.names[this.eSlot[b]!]! ? -1 : 1));
    const positionOf = new Int32Array(n);
    for (let j = 0; j < n; j++) positionOf[sorted[j]!] = j;
    const primaries = sorted.filter((i) => this.eDrain[i] === 0);
    const epoch = this.view.value();
    const row = this.row;
    // The key `${p}+${epoch}` as bytes in a scratch array (no string per partition): its epoch part is written once.
    const key = this.moduloKey;
    const epochText = `+${epoch}`;
    for (let p = 0; p < this.opts.partitions; p++) {
      row.fill(-1);
      if (primaries.length > 0) {
        const len = writeDecimal(key, p, epochText);
        const primary = primaries[xxh32Bytes(key, HASH_SEED, len) % primaries.length]!;
        const start = positionOf[primary]!;
        row[0] = this.eSlot[primary]!;
        for (let i = 1, k = 1; i < n && k < this.opts.replicas; i++) row[k++] = this.eSlot[sorted[(start + i) % n]!]!;
      }
      this.stage(p);
    }
  }

  /** Writes `row` as partition p's holders in the update being built, if it differs. */
  private stage(p: number): void {
    const S = this.stride;
    const c = p >>> CHUNK_BITS;
    const at = (p & CHUNK_MASK) * S;
    const row = this.row;
    let chunk = (this.nextChunks ?? this.chunks)[c]!;
    let same = true;
    for (let k = 0; k < S; k++) {
      if (chunk[at + k] !== row[k]) {
        same = false;
        break;
      }
    }
    if (same) return;
    if (this.nextChunks === null) {
      this.nextChunks = this.chunks.slice();
      this.copier.begin();
    }
    if (this.chunkCopiedIn[c] !== this.updateSeq) {
      chunk = this.copier.copy(this.chunks[c]!);
      this.nextChunks[c] = chunk;
      this.chunkCopiedIn[c] = this.updateSeq;
    }
    this.changedIds[this.changedCount] = p;
    this.changedOldPrimary[this.changedCount++] = chunk[at]!;
    const base = p * S;
    for (let k = 0; k < S; k++) {
      const old = chunk[at + k]!;
      const now = row[k]!;
      if (old === now) continue;
      if (old >= 0) this.unhold(old, base + k);
      if (now >= 0) this.hold(now, base + k);
      chunk[at + k] = now;
    }
  }

  private hold(slot: number, pos: number): void {
    let list = this.holdLists[slot]!;
    const n = this.holdCount[slot]!;
    if (n === list.length) {
      const bigger = new Int32Array(list.length * 2);
      bigger.set(list);
      this.holdLists[slot] = list = bigger;
    }
    list[n] = pos;
    this.posIndex[pos] = n;
    this.holdCount[slot] = n + 1;
  }

  private unhold(slot: number, pos: number): void {
    const list = this.holdLists[slot]!;
    const last = this.holdCount[slot]! - 1;
    const at = this.posIndex[pos]!;
    const moved = list[last]!;
    list[at] = moved;
    this.posIndex[moved] = at;
    this.holdCount[slot] = last;
  }

  /** Ends the update: the staged rows become the published table, and the diff names only them. */
  private publish(): PartitionDiff {
    const token = this.view.value();
    const n = this.changedCount;
    if (this.nextChunks !== null) {
      this.chunks = this.nextChunks;
      this.nextChunks = null;
      this.table = new PlacementTable(this.chunks, this.names, this.stride, this.opts.partitions);
    }
    // Two copies per event, none per partition: the diff outlives the scratch lists.
    const ids = n === 0 ? NO_IDS : this.changedIds.slice(0, n);
    const oldPrimaries = n === 0 ? NO_IDS : this.changedOldPrimary.slice(0, n);
    this.changedCount = 0;
    this.updateSeq++;
    const before = this.snap;
    this.snap = this.freeze();
    const diff = new EngineDiff(token, this.snap.quorum, ids, oldPrimaries, this.table, this.names);
    if (n > 0 || before.quorum !== this.snap.quorum || before.token !== this.snap.token) {
      for (const l of this.listeners) l(this.snap, diff);
    }
    return diff;
  }

  private freeze(): PartitionSnapshot {
    const v = this.view.value();
    return Object.freeze({
      viewVersion: v,
      token: v,
      quorum: this.quorumOk() ? 'ok' : 'no-quorum',
      liveMembers: this.live,
      partitions: this.table,
    });
  }
}
