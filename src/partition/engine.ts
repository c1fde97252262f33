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
//   always recomputes in full.
import xxhash from 'xxhash-wasm';
import type { MemberEvent, MemberSnapshot } from '../core/member-types.js';
import { ViewVersion } from './fencing.js';
import { partitionMemberOf, type PartitionMember } from './members.js';

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
  readonly partitions: readonly PartitionAssignment[];
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
  viewVersion: number;
  quorum: 'ok' | 'no-quorum';
  changed: PartitionChange[];
}

export class PartitionConfigError extends Error {
  readonly code = 'PARTITION_CONFIG_INVALID';
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

/** The member-name hash rendezvous scores start from (xxhash32, loaded once). */
export async function createHasher(): Promise<Hasher> {
  const { h32 } = await xxhash();
  return (s) => h32(s, 0x5317d) >>> 0;
}

export async function createPartitionEngine(opts: PartitionOptions): Promise<PartitionEngine> {
  return new PartitionEngine(opts, await createHasher());
}

interface MemberEntry {
  m: PartitionMember;
  hash: number;
}

export class PartitionEngine {
  private readonly view = new ViewVersion();
  private readonly members = new Map<string, MemberEntry>();
  private readonly salts: Uint32Array;
  private assignment: PartitionAssignment[];
  /** Where each member holds a partition (primary or replica), for incremental failover. */
  private readonly holdings = new Map<string, Set<number>>();
  private snap: PartitionSnapshot;
  private readonly listeners = new Set<(snap: PartitionSnapshot, diff: PartitionDiff) => void>();
  private keyScratch = new Float64Array(0);
  /** Members alive or suspect, kept as events arrive (the quorum guard reads it on every event). */
  private live = 0;
  /** How many known members are in each zone. */
  private readonly zoneCounts = new Map<string, number>();
  /**
   * Known members whose weight is not 1. While there are none, keys are the raw
   * 32-bit scores (cheap); once any weight differs, every key, weight 1 included,
   * is −w / ln(u) so that weights compare on one scale. The two forms order
   * weight-1 members the same way (−1 / ln(u) rises with u).
   */
  private weightedCount = 0;

  constructor(
    readonly opts: PartitionOptions,
    private readonly hash: Hasher,
  ) {
    if (!Number.isInteger(opts.partitions) || opts.partitions < 1 || opts.partitions > 1 << 20) throw new PartitionConfigError(`partitions.count must be 1..1048576, got ${opts.partitions}`);
    if (!Number.isInteger(opts.replicas) || opts.replicas < 1) throw new PartitionConfigError(`partitions.replicas must be ≥ 1, got ${opts.replicas}`);
    this.salts = new Uint32Array(opts.partitions);
    for (let p = 0; p < opts.partitions; p++) this.salts[p] = fmix32(Math.imul(p + 1, 0x9e3779b1) >>> 0);
    this.assignment = Array.from({ length: opts.partitions }, (_, id) => Object.freeze({ id, primary: null, replicas: Object.freeze([]) as readonly string[] }));
    this.snap = this.freeze();
  }

  snapshot(): PartitionSnapshot {
    return this.snap;
  }

  on(listener: (snap: PartitionSnapshot, diff: PartitionDiff) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Partitions where `name` is primary or replica in the current snapshot. */
  owned(name: string): { primary: number[]; replica: number[] } {
    const primary: number[] = [];
    const replica: number[] = [];
    for (const p of this.snap.partitions) {
      if (p.primary === name) primary.push(p.id);
      else if (p.replicas.includes(name)) replica.push(p.id);
    }
    return { primary, replica };
  }

  /** Replaces the whole view and recomputes everything (the fallback and the test oracle). */
  applyMembers(list: readonly (MemberSnapshot | PartitionMember)[]): PartitionDiff {
    for (const x of list) this.record('zone' in x ? x : partitionMemberOf(x));
    const names = new Set(list.map((x) => x.name));
    for (const [name, e] of [...this.members]) {
      if (names.has(name)) continue;
      if (e.m.state === 'alive' || e.m.state === 'suspect') this.live--;
      if (e.m.weight !== 1) this.weightedCount--;
      this.dropZone(e.m.zone);
      this.members.delete(name);
    }
    return this.publish(this.computeAll());
  }

  /** Applies one member event, recomputing only what it can change. */
  applyEvent(ev: MemberEvent): PartitionDiff {
    const next = partitionMemberOf(ev.member);
    const before = this.members.get(next.name)?.m;
    const quorumBefore = this.quorumOk();
    const weightedBefore = this.weightedCount > 0;
    this.record(next);
    if (this.quorumOk() !== quorumBefore || weightedBefore !== this.weightedCount > 0 || this.opts.strategy === 'modulo' || this.opts.boundedLoadEpsilon !== undefined) {
      return this.publish(this.computeAll());
    }
    if (!this.quorumOk()) return this.publish(new Map());
    const wasEligible = before !== undefined && this.eligible(before);
    const isEligible = this.eligible(next);
    const rankingChanged = before !== undefined && (before.zone !== next.zone || before.weight !== next.weight || (before.drain && !next.drain) || this.eligibleByTags(before) !== this.eligibleByTags(next));
    // (A member becoming contacted is a member becoming eligible: the join path below handles it.)
    if (rankingChanged) return this.publish(this.computeAll());
    const touched = new Set<number>();
    if (wasEligible && (!isEligible || (next.drain && !before!.drain))) {
      for (const p of this.holdings.get(next.name) ?? []) touched.add(p);
    }
    if (!wasEligible && isEligible) {
      const e = this.members.get(next.name)!;
      for (let p = 0; p < this.opts.partitions; p++) if (this.mightWin(p, e)) touched.add(p);
    }
    const changes = new Map<number, PartitionAssignment>();
    for (const p of touched) changes.set(p, this.computeOne(p, this.eligibleList(), null));
    return this.publish(changes);
  }

  private record(m: PartitionMember): void {
    this.view.observe(m.name, m.incarnation, m.state);
    const prev = this.members.get(m.name);
    const isLive = (x: PartitionMember | undefined): boolean => x !== undefined && (x.state === 'alive' || x.state === 'suspect');
    this.live += (isLive(m) ? 1 : 0) - (isLive(prev?.m) ? 1 : 0);
    this.weightedCount += (m.weight !== 1 ? 1 : 0) - (prev !== undefined && prev.m.weight !== 1 ? 1 : 0);
    if (prev?.m.zone !== m.zone) {
      if (prev) this.dropZone(prev.m.zone);
      this.zoneCounts.set(m.zone, (this.zoneCounts.get(m.zone) ?? 0) + 1);
    }
    this.members.set(m.name, { m, hash: prev?.hash ?? this.hash(m.name) });
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
    return this.members.get(name)?.m;
  }

  /** Primary of p in the current snapshot. */
  primaryOf(p: number): string | null {
    return this.assignment[p]?.primary ?? null;
  }

  /**
   * Members that would rank above `name` for partition p but cannot be its
   * primary now (dead, left, suspect under failoverOnSuspect, or drained):
   * what a claimant must show a granter for the granter to agree it is rightful.
   */
  outranking(p: number, name: string): string[] {
    const me = this.members.get(name);
    if (!me) return [];
    const out: string[] = [];
    for (const e of this.members.values()) {
      if (e === me || !this.eligibleByTags(e.m)) continue;
      if ((!this.eligible(e.m) || e.m.drain) && this.better(p, e, me)) out.push(e.m.name);
    }
    return out;
  }

  private liveCount(): number {
    return this.live;
  }

  private quorumOk(): boolean {
    return this.opts.quorum <= 0 || this.liveCount() >= this.opts.quorum;
  }

  private eligibleList(): MemberEntry[] {
    const out: MemberEntry[] = [];
    for (const e of this.members.values()) if (this.eligible(e.m)) out.push(e);
    return out;
  }

  /** Rendezvous key of a member for a partition: higher wins. Weighted as −w / ln(u). */
  private key(p: number, e: MemberEntry): number {
    const score = fmix32((e.hash ^ this.salts[p]!) >>> 0);
    if (this.weightedCount === 0) return score;
    const u = (score + 1) / 4294967297;
    return (-e.m.weight / Math.log(u)) * 1e9;
  }

  private better(p: number, a: MemberEntry, b: MemberEntry): boolean {
    const ka = this.key(p, a);
    const kb = this.key(p, b);
    return ka > kb || (ka === kb && a.m.name < b.m.name);
  }

  /**
   * Could a newly eligible member displace one of partition p's holders? Yes if
   * a slot is free, if it outranks a holder, or if it brings a zone the holders
   * lack (replicas prefer unseen zones). Otherwise the greedy picks are unchanged.
   */
  private mightWin(p: number, e: MemberEntry): boolean {
    const cur = this.assignment[p]!;
    const holders = [cur.primary, ...cur.replicas].filter((n): n is string => n !== null);
    if (holders.length < this.opts.replicas) return true;
    const zones = new Set<string>();
    for (const h of holders) {
      const he = this.members.get(h);
      if (!he || this.better(p, e, he)) return true;
      zones.add(he.m.zone);
    }
    return !zones.has(e.m.zone);
  }

  private computeAll(): Map<number, PartitionAssignment> {
    const out = new Map<number, PartitionAssignment>();
    if (!this.quorumOk()) {
      for (let p = 0; p < this.opts.partitions; p++) out.set(p, Object.freeze({ id: p, primary: null, replicas: Object.freeze([]) as readonly string[] }));
      return out;
    }
    const list = this.eligibleList();
    if (this.opts.strategy === 'modulo') return this.computeModulo(list);
    let loads: Map<string, number> | null = null;
    if (this.opts.boundedLoadEpsilon !== undefined) loads = new Map();
    for (let p = 0; p < this.opts.partitions; p++) out.set(p, this.computeOne(p, list, loads));
    return out;
  }

  private computeOne(p: number, list: MemberEntry[], loads: Map<string, number> | null): PartitionAssignment {
    let cap = Infinity;
    if (loads) {
      let primaries = 0;
      for (const e of list) if (!e.m.drain) primaries++;
      cap = primaries > 0 ? Math.ceil(((1 + this.opts.boundedLoadEpsilon!) * this.opts.partitions) / primaries) : 0;
    }
    // One pass: each member's key once, the best primary candidate, the best
    // member of every zone, and the overall top R; the greedy replica picks
    // below need nothing else.
    const n = list.length;
    const keys = this.keyScratch.length >= n ? this.keyScratch : (this.keyScratch = new Float64Array(n * 2));
    const beats = (i: number, j: number): boolean => keys[i]! > keys[j]! || (keys[i] === keys[j] && list[i]!.m.name < list[j]!.m.name);
    const R = this.opts.replicas;
    let primary = -1;
    const top: number[] = [];
    const zoneBest = new Map<string, number>();
    // With a single zone the zone preference cannot change any pick.
    const multiZone = this.zoneCounts.size > 1;
    for (let i = 0; i < n; i++) {
      const e = list[i]!;
      keys[i] = this.key(p, e);
      if (!e.m.drain && !(loads && (loads.get(e.m.name) ?? 0) >= cap) && (primary < 0 || beats(i, primary))) primary = i;
      if (multiZone) {
        const zb = zoneBest.get(e.m.zone);
        if (zb === undefined || beats(i, zb)) zoneBest.set(e.m.zone, i);
      }
      if (top.length <= R || beats(i, top[top.length - 1]!)) {
        let at = top.length;
        while (at > 0 && beats(i, top[at - 1]!)) at--;
        top.splice(at, 0, i);
        if (top.length > R + 1) top.pop();
      }
    }
    if (primary >= 0 && loads) loads.set(list[primary]!.m.name, (loads.get(list[primary]!.m.name) ?? 0) + 1);
    const chosen: number[] = primary >= 0 ? [primary] : [];
    const zones = new Set(primary >= 0 ? [list[primary]!.m.zone] : []);
    while (chosen.length < R) {
      let pick = -1;
      for (const [zone, i] of zoneBest) if (!zones.has(zone) && !chosen.includes(i) && (pick < 0 || beats(i, pick))) pick = i;
      if (pick < 0) for (const i of top) if (!chosen.includes(i)) { pick = i; break; }
      if (pick < 0) break;
      chosen.push(pick);
      zones.add(list[pick]!.m.zone);
    }
    const replicas = chosen.filter((i) => i !== primary).map((i) => list[i]!.m.name);
    return Object.freeze({ id: p, primary: primary >= 0 ? list[primary]!.m.name : null, replicas: Object.freeze(replicas) });
  }

  private computeModulo(list: MemberEntry[]): Map<number, PartitionAssignment> {
    const out = new Map<number, PartitionAssignment>();
    const sorted = list.slice().sort((a, b) => (a.m.name < b.m.name ? -1 : 1));
    const primaries = sorted.filter((e) => !e.m.drain);
    const epoch = this.view.value();
    for (let p = 0; p < this.opts.partitions; p++) {
      if (primaries.length === 0) {
        out.set(p, Object.freeze({ id: p, primary: null, replicas: Object.freeze([]) as readonly string[] }));
        continue;
      }
      const idx = this.hash(`${p}+${epoch}`) % primaries.length;
      const primary = primaries[idx]!;
      const start = sorted.indexOf(primary);
      const replicas: string[] = [];
      for (let i = 1; i < sorted.length && replicas.length < this.opts.replicas - 1; i++) replicas.push(sorted[(start + i) % sorted.length]!.m.name);
      out.set(p, Object.freeze({ id: p, primary: primary.m.name, replicas: Object.freeze(replicas) }));
    }
    return out;
  }

  private publish(changes: Map<number, PartitionAssignment>): PartitionDiff {
    const token = this.view.value();
    const changed: PartitionChange[] = [];
    if (changes.size > 0) {
      const next = this.assignment.slice();
      for (const [p, a] of changes) {
        const old = next[p]!;
        if (old.primary === a.primary && old.replicas.length === a.replicas.length && old.replicas.every((r, i) => r === a.replicas[i])) continue;
        for (const n of [old.primary, ...old.replicas]) if (n !== null) this.holdings.get(n)?.delete(p);
        for (const n of [a.primary, ...a.replicas]) {
          if (n === null) continue;
          let s = this.holdings.get(n);
          if (!s) this.holdings.set(n, (s = new Set()));
          s.add(p);
        }
        next[p] = a;
        changed.push({ id: p, oldPrimary: old.primary, newPrimary: a.primary, replicas: a.replicas, token });
      }
      this.assignment = next;
    }
    const before = this.snap;
    this.snap = this.freeze();
    const diff: PartitionDiff = { viewVersion: token, quorum: this.snap.quorum, changed };
    if (changed.length > 0 || before.quorum !== this.snap.quorum || before.token !== this.snap.token) {
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
      liveMembers: this.liveCount(),
      // Copy-on-write: publish() replaces the array, never mutates a published one. Each
      // entry is frozen; the array is not, as freezing P entries would cost O(P) per event.
      partitions: this.assignment,
    });
  }
}
