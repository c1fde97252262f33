// A whole cluster in one process on virtual time: N SwimNodes over SimNetwork,
// with faults, an event log, and invariants checked as the run goes.
import type { SwimConfig } from '../base/swim-config.js';
import type { Address, CoreLogger } from '../base/env.js';
import { STATE_RANK, type MemberEvent, type MemberSnapshot } from '../core/member-types.js';
import { SeededRandom } from '../core/prng.js';
import { SwimNode } from '../core/swim-node.js';
import { MemberScheduler } from './member-scheduler.js';
import { SimNetwork } from './network.js';
import { VirtualScheduler } from './virtual-scheduler.js';

export interface SimClusterOptions {
  seed: number;
  size: number;
  config: SwimConfig;
  /** Check queue bounds every this many virtual ms. */
  invariantCheckEveryMs?: number;
  /** Keep the text event log (needed for determinism checks). */
  keepLog?: boolean;
  /** Metadata for a member, by index. */
  metaOf?: (index: number) => Uint8Array;
  /** A logger for a member's core, by name (none: silent). */
  loggerOf?: (name: string) => CoreLogger;
  /**
   * Which member events go into `events` (default: all). Thousands of members
   * see each other join N² times; a run that never reads the join events can
   * leave them out and keep its heap for the members themselves.
   */
  recordEvent?: (ev: MemberEvent) => boolean;
  /** Called for every new process of a member (first start and each restart) before it starts; attaches what runs beside the core. */
  onProcess?: (m: SimMember) => void;
}

export interface SimMember {
  readonly name: string;
  readonly index: number;
  readonly address: Address;
  node: SwimNode;
  scheduler: MemberScheduler;
  /** 'up' running, 'crashed' killed, 'left' left gracefully and stopped. */
  status: 'up' | 'crashed' | 'left';
}

export class InvariantViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantViolation';
  }
}

export class SimCluster {
  readonly clock = new VirtualScheduler();
  readonly random: SeededRandom;
  readonly network: SimNetwork;
  readonly members: SimMember[] = [];
  readonly log: string[] = [];
  /** Every member event with its observer and virtual time. */
  readonly events: { atMs: number; observer: string; ev: MemberEvent }[] = [];
  /** Per observer, per member: the last (incarnation, state rank) seen, packed as incarnation × 8 + rank (rank < 8, so the order is the same). */
  private readonly lastSeen = new Map<string, Map<string, number>>();
  private readonly byName = new Map<string, SimMember>();

  constructor(readonly opts: SimClusterOptions) {
    this.random = new SeededRandom(opts.seed);
    this.network = new SimNetwork(this.clock, this.random.fork());
    for (let i = 0; i < opts.size; i++) {
      const j = i + 1;
      const address = { host: `10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}`, port: 7946 };
      const m = this.createMember(`m${i}`, i, address);
      this.members.push(m);
      this.byName.set(m.name, m);
    }
    const every = opts.invariantCheckEveryMs ?? 500;
    const check = (): void => {
      this.checkQueueBounds();
      this.clock.setTimer(every, check);
    };
    this.clock.setTimer(every, check);
  }

  private createMember(name: string, index: number, address: Address, existing?: SimMember): SimMember {
    const scheduler = new MemberScheduler(this.clock);
    const { packets, streams } = this.network.attach(address, scheduler);
    const meta = this.opts.metaOf?.(index);
    const logger = this.opts.loggerOf?.(name);
    const node = new SwimNode({ name, advertise: address, config: this.opts.config, env: { scheduler, random: this.random.fork(), packets, streams, ...(logger ? { logger } : {}) }, ...(meta ? { meta } : {}) });
    node.on((ev) => this.onEvent(name, ev));
    let m: SimMember;
    if (existing) {
      existing.node = node;
      existing.scheduler = scheduler;
      existing.status = 'up';
      m = existing;
    } else {
      m = { name, index, address, node, scheduler, status: 'up' };
    }
    this.opts.onProcess?.(m);
    return m;
  }

  member(name: string): SimMember {
    const m = this.byName.get(name);
    if (!m) throw new Error(`no member ${name}`);
    return m;
  }

  up(): SimMember[] {
    return this.members.filter((m) => m.status === 'up');
  }

  nowMs(): number {
    return this.clock.nowMs();
  }

  startAll(): void {
    for (const m of this.members) m.node.start();
  }

  /** Every member but the first joins through the first, one every `spacingMs`. */
  joinAll(spacingMs = 10): void {
    const seed = this.members[0]!.address;
    this.members.forEach((m, i) => {
      m.node.setSeeds([seed]);
      if (i === 0) return;
      this.clock.setTimer(i * spacingMs, () => m.node.join([seed]));
    });
  }

  run(ms: number): void {
    this.clock.advance(ms);
  }

  /** Runs in steps until `done()` holds; returns the virtual ms it took, or throws after `maxMs`. */
  runUntil(done: () => boolean, maxMs: number, stepMs = 50, what = 'condition'): number {
    const start = this.clock.nowMs();
    while (!done()) {
      if (this.clock.nowMs() - start >= maxMs) throw new Error(`${what} not reached within ${maxMs} virtual ms (seed ${this.opts.seed})`);
      this.clock.advance(stepMs);
    }
    return this.clock.nowMs() - start;
  }

  /** The member's process stops; with `hostStaysUp` its host refuses probes afterwards (kill -9 on a live host). */
  crash(name: string, hostStaysUp = false): void {
    const m = this.member(name);
    m.node.shutdown();
    this.network.crash(m.address, hostStaysUp);
    m.status = 'crashed';
  }

  /** A new process under the same name and address, joining through the first member. */
  restart(name: string): void {
    const m = this.member(name);
    if (m.status === 'up') this.crash(name);
    this.createMember(name, m.index, m.address, m);
    m.node.start();
    const seeds = this.members.filter((x) => x !== m && x.status === 'up').slice(0, 3).map((x) => x.address);
    m.node.setSeeds(seeds);
    m.node.join(seeds);
  }

  /**
   * Stalls a member (like a long GC or SIGSTOP); it resumes after `ms`, or at resume(). On resume
   * the packets that arrived meanwhile are read before its due timers run, or after them with
   * `timersFirst` (node's order: expired timers, then the sockets).
   */
  pause(name: string, ms?: number, timersFirst = false): void {
    const m = this.member(name);
    m.scheduler.pause();
    if (ms !== undefined) this.clock.setTimer(ms, () => this.network.resume(m.address, timersFirst));
  }

  resume(name: string): void {
    this.network.resume(this.member(name).address);
  }

  leave(name: string, done?: () => void): void {
    const m = this.member(name);
    m.node.leave(() => {
      m.node.shutdown();
      this.network.crash(m.address);
      m.status = 'left';
      done?.();
    });
  }

  partition(groupA: string[], groupB: string[], oneWay = false): void {
    const a = groupA.map((n) => this.member(n).address);
    const b = groupB.map((n) => this.member(n).address);
    this.network.block(a, b);
    if (!oneWay) this.network.block(b, a);
  }

  heal(): void {
    this.network.unblockAll();
  }

  setLoss(loss: number): void {
    this.network.setDefaultLink({ loss });
  }

  view(observer: string): Map<string, MemberSnapshot> {
    return new Map(this.member(observer).node.members().map((s) => [s.name, s]));
  }

  /** Every running member sees every running member alive and no other member alive. */
  converged(): boolean {
    const up = this.up();
    const upNames = new Set(up.map((m) => m.name));
    for (const o of up) {
      const view = o.node.members();
      let alive = 0;
      for (const s of view) {
        if (s.state === 'alive') {
          if (!upNames.has(s.name)) return false;
          alive++;
        }
      }
      if (alive !== up.length) return false;
    }
    return true;
  }

  /** Events of one kind about one member, per observer: first time each observer saw it. */
  firstEventTimes(kind: MemberEvent['kind'], about: string, sinceMs: number): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of this.events) {
      if (e.atMs >= sinceMs && e.ev.kind === kind && e.ev.member.name === about && !out.has(e.observer)) out.set(e.observer, e.atMs);
    }
    return out;
  }

  private onEvent(observer: string, ev: MemberEvent): void {
    const now = this.clock.nowMs();
    if (this.opts.recordEvent?.(ev) ?? true) this.events.push({ atMs: now, observer, ev });
    if (this.opts.keepLog) this.log.push(`${now.toFixed(3)} ${observer} ${ev.kind} ${ev.member.name} ${ev.member.incarnation}`);
    // Invariant: what an observer sees of a member never goes backwards in (incarnation, state rank).
    // A join starts a fresh record (first sight, or after the old one was reaped).
    let seen = this.lastSeen.get(observer);
    if (seen === undefined) {
      seen = new Map();
      this.lastSeen.set(observer, seen);
    }
    const next = ev.member.incarnation * 8 + STATE_RANK[ev.member.state];
    const prev = seen.get(ev.member.name);
    if (prev !== undefined && ev.kind !== 'join' && next < prev) {
      throw new InvariantViolation(
        `seed ${this.opts.seed} t=${now}ms: ${observer} saw ${ev.member.name} go from (inc ${Math.floor(prev / 8)}, rank ${prev % 8}) to (inc ${ev.member.incarnation}, rank ${STATE_RANK[ev.member.state]}) on ${ev.kind}`,
      );
    }
    seen.set(ev.member.name, next);
  }

  private checkQueueBounds(): void {
    for (const m of this.members) {
      if (m.status !== 'up') continue;
      for (const [what, [size, bound]] of Object.entries(m.node.queueBounds())) {
        if (size > bound) throw new InvariantViolation(`seed ${this.opts.seed} t=${this.clock.nowMs()}ms: ${m.name} ${what} ${size} > bound ${bound}`);
      }
    }
    if (this.network.inFlightCount() > this.network.maxInFlight) throw new InvariantViolation(`seed ${this.opts.seed}: network in-flight over bound`);
  }
}
