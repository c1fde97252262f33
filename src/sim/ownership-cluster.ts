// A simulated cluster in which every member runs partition leadership beside
// its core, and an application that writes to a shared fenced storage through
// its own daemon's answers every 10 ms of virtual time. The history checker
// (history.ts) judges what storage accepted.
import type { SwimConfig } from '../base/swim-config.js';
import { SeededRandom } from '../core/prng.js';
import { PartitionEngine, type Hasher } from '../partition/engine.js';
import { FlapDamping, type FlapDampingOptions, type SavedDamping } from '../partition/flap-damping.js';
import { MemoryGrantStore } from '../partition/grant-store.js';
import { eligibilityOf, Leadership, OWNERSHIP_TAG, OWNERSHIP_TAG_VALUE } from '../partition/leadership.js';
import { DAMPED_TAG } from '../partition/members.js';
import { PrimaryBars } from '../partition/primary-bars.js';
import { encodeTags } from '../wire/serf-tags.js';
import { SimCluster, type SimMember } from './cluster.js';
import { HistoryChecker } from './history.js';

export interface OwnershipClusterOptions {
  seed: number;
  size: number;
  config: SwimConfig;
  fencing: 'granted' | 'view';
  quorum: number;
  partitions: number;
  replicas?: number;
  /** Application write period in virtual ms. */
  writeEveryMs?: number;
  claimTimeoutMs?: number;
  failoverOnSuspect?: boolean;
  /** Heartbeats among eligible members (heartbeats.ts); off when absent or 0. */
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  /** Flap damping on every member (off when absent); ticks follow the shared virtual clock. */
  damping?: Omit<FlapDampingOptions, 'maxMembers'>;
}

interface Proc {
  leadership: Leadership;
  id: string;
}

export class OwnershipCluster {
  private static readonly TAGS = { [OWNERSHIP_TAG]: OWNERSHIP_TAG_VALUE, role: 'app' };
  readonly cluster: SimCluster;
  readonly checker = new HistoryChecker();
  private readonly procs = new Map<string, Proc>();
  private readonly stores = new Map<string, MemoryGrantStore>();
  private readonly savedDamping = new Map<string, SavedDamping>();
  private readonly processCount = new Map<string, number>();
  /** Per member: extra delay its application adds between reading its daemon and the write reaching storage. */
  private readonly appStallUntil = new Map<string, number>();
  writes = 0;
  /** Randomness for the ownership layers, apart from the cluster's so the core's draws stay as they were. */
  private readonly random: SeededRandom;

  constructor(
    readonly opts: OwnershipClusterOptions,
    private readonly hasher: Hasher,
  ) {
    this.random = new SeededRandom((opts.seed ^ 0x6f776e) >>> 0);
    const meta = encodeTags(OwnershipCluster.TAGS);
    this.cluster = new SimCluster({
      seed: opts.seed,
      size: opts.size,
      config: opts.config,
      metaOf: () => meta,
      onProcess: (m) => this.attach(m),
    });
    const every = opts.writeEveryMs ?? 10;
    const tick = (): void => {
      this.writeRound();
      this.cluster.clock.setTimer(every, tick);
    };
    this.cluster.clock.setTimer(every, tick);
  }

  /** Starts and joins every member, runs until views converge and every partition is writable, then `settleMs` more. */
  form(settleMs = 3_000): this {
    const c = this.cluster;
    c.startAll();
    c.joinAll();
    c.runUntil(() => c.converged(), 30_000, 50, 'convergence');
    c.runUntil(() => this.unwritable().length === 0, 30_000, 50, 'every partition owned');
    c.run(settleMs);
    return this;
  }

  leadership(name: string): Leadership {
    const p = this.procs.get(name);
    if (!p) throw new Error(`no process for ${name}`);
    return p.leadership;
  }

  /** The member whose own daemon names it primary of p with quorum, if exactly one does; else null. */
  primaryOf(p: number): string | null {
    let found: string | null = null;
    for (const m of this.cluster.up()) {
      const s = this.procs.get(m.name)?.leadership.snapshot();
      if (s && s.quorum === 'ok' && s.partitions.get(p).primary === m.name) {
        if (found !== null) return null;
        found = m.name;
      }
    }
    return found;
  }

  /** Partitions without a member that could write now (its daemon says primary with quorum, and storage would accept its token). */
  unwritable(): number[] {
    const out: number[] = [];
    for (let p = 0; p < this.opts.partitions; p++) {
      let ok = false;
      for (const m of this.cluster.up()) {
        if (m.scheduler.isPaused()) continue;
        const s = this.procs.get(m.name)?.leadership.snapshot();
        if (s && s.quorum === 'ok' && s.partitions.get(p).primary === m.name && s.partitions.get(p).token >= this.checker.storage.highestToken(p)) {
          ok = true;
          break;
        }
      }
      if (!ok) out.push(p);
    }
    return out;
  }

  /** Kills a member's process; with `hostStaysUp` its host refuses what is sent to it (the crash fast path). */
  crash(name: string, hostStaysUp = false): void {
    this.procs.get(name)?.leadership.stop();
    this.cluster.crash(name, hostStaysUp);
  }

  restart(name: string): void {
    this.procs.get(name)?.leadership.stop();
    this.cluster.restart(name);
  }

  leave(name: string): void {
    const proc = this.procs.get(name);
    this.cluster.leave(name, () => proc?.leadership.stop());
  }

  /** The application of `name` holds what it reads from its daemon for `ms` before writing (a GC pause, a slow request). */
  stallApp(name: string, ms: number): void {
    const proc = this.procs.get(name);
    const m = this.cluster.member(name);
    if (!proc || m.status !== 'up') return;
    const now = this.cluster.nowMs();
    this.appStallUntil.set(name, now + ms);
    const snap = proc.leadership.snapshot();
    if (snap.quorum !== 'ok') return;
    const held = [...snap.partitions].filter((p) => p.primary === name).map((p) => [p.id, p.token] as const);
    // It read "primary with token t" before the stall and writes with it after, whatever happened meanwhile.
    this.cluster.clock.setTimer(ms, () => {
      for (const [id, token] of held) this.checker.storage.write(this.cluster.nowMs(), id, name, token);
    });
  }

  private attach(m: SimMember): void {
    const n = (this.processCount.get(m.name) ?? 0) + 1;
    this.processCount.set(m.name, n);
    let store = this.stores.get(m.name);
    if (store) store.reopen();
    else this.stores.set(m.name, (store = new MemoryGrantStore()));
    const fencing = this.opts.fencing;
    const eligibleTags = { role: 'app' };
    // A restarted process carries on from the score its predecessor saved, as the daemon's node.dataDir does.
    const damping = this.opts.damping ? new FlapDamping(this.opts.damping, this.savedDamping.get(m.name) ?? null) : undefined;
    // What the member advertises: it starts with the plain tags (leadership sets the damped tag from the saved score at start).
    let damped = false;
    const metaWith = (on: boolean): Uint8Array => encodeTags({ ...OwnershipCluster.TAGS, ...(on ? { [DAMPED_TAG]: '1' } : {}) });
    const eligible = eligibilityOf({ fencing, eligibleTags });
    const bars = new PrimaryBars(eligible, this.opts.config.maxMembers);
    const engine = new PartitionEngine(
      {
        partitions: this.opts.partitions,
        replicas: this.opts.replicas ?? 2,
        strategy: 'rendezvous',
        quorum: fencing === 'view' ? this.opts.quorum : 0,
        failoverOnSuspect: this.opts.failoverOnSuspect ?? false,
        eligible,
        suppressed: (name: string) => bars.suppressed(name),
      },
      this.hasher,
    );
    const claimTimeoutMs = this.opts.claimTimeoutMs ?? Math.max(50, this.opts.config.probeTimeoutMs);
    const leadership = new Leadership(
      { fencing, quorum: this.opts.quorum, eligibleTags, claimTimeoutMs, claimBackoffMaxMs: claimTimeoutMs * 4, syncIntervalMs: this.opts.config.probeIntervalMs * 2, ...(this.opts.heartbeatIntervalMs ? { heartbeatIntervalMs: this.opts.heartbeatIntervalMs, ...(this.opts.heartbeatTimeoutMs ? { heartbeatTimeoutMs: this.opts.heartbeatTimeoutMs } : {}) } : {}) },
      engine,
      m.node,
      {
        scheduler: m.scheduler,
        random: this.random.fork(),
        store,
        bars,
        ...(damping
          ? {
              damping,
              dampingClockMs: () => m.scheduler.nowMs(),
              dampedTag: {
                stage: (on: boolean) => {
                  damped = on;
                  return metaWith(on);
                },
                apply: (on: boolean) => {
                  if (on === damped) return;
                  damped = on;
                  m.node.setMeta(metaWith(on));
                },
              },
              saveDamping: (saved: SavedDamping) => this.savedDamping.set(m.name, saved),
            }
          : {}),
      },
    );
    m.node.on((ev) => leadership.applyEvent(ev));
    leadership.start();
    this.procs.set(m.name, { leadership, id: `${m.name}#${n}` });
  }

  private writeRound(): void {
    const now = this.cluster.nowMs();
    for (const m of this.cluster.members) {
      if (m.status !== 'up' || m.scheduler.isPaused()) continue;
      const proc = this.procs.get(m.name);
      if (!proc) continue;
      const snap = proc.leadership.snapshot();
      if (snap.quorum !== 'ok') continue;
      if ((this.appStallUntil.get(m.name) ?? 0) > now) continue;
      for (const p of snap.partitions) {
        if (p.primary !== m.name) continue;
        this.checker.answered(now, proc.id, p.id, p.token);
        this.writes++;
        this.checker.storage.write(now, p.id, m.name, p.token);
      }
    }
  }
}
