// The member table: every member this node knows (tombstones included) by
// name, the shuffled probe order, the cluster-size estimate the timing
// formulas use, and reaping of long-gone members at each new probe round.
import type { CoreContext } from './context.js';
import { isDeadOrLeft, type MemberRecord } from './member.js';
import type { MemberState } from './member-types.js';
import { shuffleInPlace } from './prng.js';

export class MemberTable {
  private readonly byName = new Map<string, MemberRecord>();
  /** Records by advertised address ("host|port"): an address belongs to one live member. */
  private readonly byAddress = new Map<string, MemberRecord[]>();
  /** Same records as `byName`, as an array for random picks. */
  private list: MemberRecord[] = [];
  private probeList: MemberRecord[] = [];
  private probeIndex = 0;
  private estimated = 1;
  private selfRecord: MemberRecord | null = null;
  /** Every change to the table, and when the last one happened: is the view settling? */
  private changes = 0;
  private lastChangeAtMs = 0;
  /** Records per state, so a pick among a rare state (the dead, for reconnection) need not search for none. */
  private readonly perState: Record<MemberState, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };

  /** Called for each member reaped, so what is kept per member elsewhere goes with it. */
  onReap: (m: MemberRecord) => void = () => {};

  constructor(private readonly ctx: CoreContext) {}

  /** This node's own record; it exists from start() on. */
  get self(): MemberRecord {
    const self = this.selfRecord;
    if (self === null) throw new Error('the member table has no record of this node before start()');
    return self;
  }

  get(name: string): MemberRecord | undefined {
    return this.byName.get(name);
  }

  size(): number {
    return this.byName.size;
  }

  isFull(): boolean {
    return this.byName.size >= this.ctx.cfg.maxMembers;
  }

  all(): readonly MemberRecord[] {
    return this.list;
  }

  /** Members that count for the timing formulas: live ones and the recently gone. */
  estimatedMembers(): number {
    return this.estimated;
  }

  viewChanges(): number {
    return this.changes;
  }

  lastViewChangeAtMs(): number {
    return this.lastChangeAtMs;
  }

  aliveCount(): number {
    let n = 0;
    for (const m of this.list) if (m.state === 'alive') n++;
    return n;
  }

  add(m: MemberRecord): void {
    this.ctx.invariants.check(!this.byName.has(m.name), 'member-added-twice');
    this.byName.set(m.name, m);
    this.indexAddress(m);
    this.list.push(m);
    this.perState[m.state]++;
    // A random place in the probe order keeps the detection bound low on average.
    this.probeList.splice(this.ctx.env.random.int(this.probeList.length + 1), 0, m);
    this.estimated++;
    if (m.name === this.ctx.name) this.selfRecord = m;
    this.ctx.invariants.check(this.byName.size <= this.ctx.cfg.maxMembers, 'members-over-bound');
  }

  /**
   * A live (alive or suspect) member other than `name` advertised at host:port,
   * if any; with `verifiedOnly`, only one this node has reached there (an
   * address is owned by the member that answers at it, not by whoever claimed it).
   */
  liveHolderOf(host: string, port: number, name: string, verifiedOnly = false): MemberRecord | undefined {
    for (const r of this.byAddress.get(`${host}|${port}`) ?? []) {
      if (r.name !== name && !isDeadOrLeft(r) && this.byName.get(r.name) === r && (!verifiedOnly || r.contacted)) return r;
    }
    return undefined;
  }

  /** Moves `m` to a new advertised address, keeping the address index right. */
  setAddress(m: MemberRecord, host: string, port: number, addr: Uint8Array): void {
    if (m.host === host && m.port === port) {
      m.addr = addr;
      return;
    }
    this.unindexAddress(m);
    m.host = host;
    m.port = port;
    m.addr = addr;
    this.indexAddress(m);
  }

  private indexAddress(m: MemberRecord): void {
    const key = `${m.host}|${m.port}`;
    const at = this.byAddress.get(key);
    if (at) at.push(m);
    else this.byAddress.set(key, [m]);
  }

  private unindexAddress(m: MemberRecord): void {
    const key = `${m.host}|${m.port}`;
    const at = this.byAddress.get(key);
    if (!at) return;
    const rest = at.filter((r) => r !== m);
    if (rest.length === 0) this.byAddress.delete(key);
    else this.byAddress.set(key, rest);
  }

  /** Records a change to `m` (and its new state, if any) for snapshots and the settling clock. */
  touch(m: MemberRecord, state?: MemberState): void {
    const now = this.ctx.env.scheduler.nowMs();
    if (state !== undefined && m.state !== state) {
      if (this.byName.get(m.name) === m) {
        this.perState[m.state]--;
        this.perState[state]++;
      }
      m.state = state;
      m.stateChangedAtMs = now;
      m.changeSeq++;
    }
    m.snapshot = null;
    this.changes++;
    this.lastChangeAtMs = now;
  }

  nextProbeTarget(): MemberRecord | undefined {
    for (let checked = 0; checked <= this.probeList.length + 1; checked++) {
      if (this.probeIndex >= this.probeList.length) {
        this.resetProbeList();
        this.probeIndex = 0;
        if (this.probeList.length === 0) return undefined;
        continue;
      }
      const m = this.probeList[this.probeIndex++]!;
      if (m === this.selfRecord || isDeadOrLeft(m) || this.byName.get(m.name) !== m) continue;
      return m;
    }
    return undefined;
  }

  /** Up to `k` distinct members that `accept` takes, picked at random (bounded tries). */
  randomMembers(k: number, accept: (m: MemberRecord) => boolean): MemberRecord[] {
    const out: MemberRecord[] = [];
    const n = this.list.length;
    for (let i = 0; i < 3 * n && out.length < k; i++) {
      const m = this.list[this.ctx.env.random.int(n)]!;
      if (accept(m) && !out.includes(m)) out.push(m);
    }
    return out;
  }

  /**
   * One member in `state` other than this node, uniformly at random, or none.
   * Counting first and walking to the chosen one costs one draw and at most
   * one pass, and nothing when no member is in that state; random tries would
   * spend three draws per member on finding that there is none.
   */
  randomMemberIn(state: MemberState): MemberRecord | undefined {
    const self = this.selfRecord;
    const n = this.perState[state] - (self !== null && self.state === state && this.byName.get(self.name) === self ? 1 : 0);
    if (n <= 0) return undefined;
    let skip = this.ctx.env.random.int(n);
    for (const m of this.list) {
      if (m.state !== state || m === self) continue;
      if (skip-- === 0) return m;
    }
    return undefined;
  }

  /** Some member is alive at host:port. */
  hasAliveAt(host: string, port: number): boolean {
    for (const r of this.byAddress.get(`${host}|${port}`) ?? []) if (r.state === 'alive' && this.byName.get(r.name) === r) return true;
    return false;
  }

  /** Start of a probe round: reap long-gone members, recount, reshuffle. */
  private resetProbeList(): void {
    const cfg = this.ctx.cfg;
    const now = this.ctx.env.scheduler.nowMs();
    let active = 0;
    const kept: MemberRecord[] = [];
    for (const m of this.list) {
      const goneFor = now - m.stateChangedAtMs;
      const reap = m !== this.selfRecord && ((m.state === 'dead' && goneFor > cfg.reconnectTimeoutMs) || (m.state === 'left' && goneFor > cfg.gossipToTheDeadTimeMs));
      if (reap) {
        this.byName.delete(m.name);
        this.perState[m.state]--;
        this.unindexAddress(m);
        this.onReap(m);
        continue;
      }
      kept.push(m);
      if (!isDeadOrLeft(m) || goneFor <= cfg.gossipToTheDeadTimeMs) active++;
    }
    this.list = kept;
    this.estimated = Math.max(1, active);
    this.probeList = shuffleInPlace(kept.slice(), this.ctx.env.random);
  }
}
