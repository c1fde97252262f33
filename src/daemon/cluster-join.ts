// How a daemon finds its cluster and how it leaves it: seeds by name with
// retries, the member snapshot in node.dataDir to rejoin from, and the leave
// intent Serf agents need to record this member as left.
import type { Address } from '../base/env.js';
import type { SwimNode } from '../core/swim-node.js';
import { JoinRetry, type Family, type JoinStatus, type Lookup } from './join-resolver.js';
import { MemberSnapshotWriter, readSnapshot, rejoinAddresses } from './member-snapshot.js';
import { SerfLeave } from './serf-leave.js';

type Log = (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>) => void;

export interface ClusterJoinOptions {
  node: SwimNode;
  seeds: readonly Address[];
  dataDir: string;
  lookup: Lookup;
  family: Family;
  retryIntervalMs: number;
  retryMax: number;
  log: Log;
  snapshotIntervalMs?: number;
}

export class ClusterJoin {
  readonly joiner: JoinRetry;
  readonly snapshot: MemberSnapshotWriter;
  readonly serf: SerfLeave;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly o: ClusterJoinOptions) {
    const { node, log } = o;
    const { content, problem } = readSnapshot(o.dataDir);
    if (problem !== null) log('warn', 'ignoring the member snapshot', { problem });
    if (content?.left) log('info', o.seeds.length > 0 ? 'this member left the cluster (swimd leave) before its last stop: joining the seeds only, not the snapshot' : 'this member left the cluster (swimd leave) before its last stop and has no seeds: not rejoining', { dataDir: o.dataDir });
    const fallback = rejoinAddresses(content);
    this.serf = new SerfLeave(node, content?.serfLamportTime ?? 0);
    this.snapshot = new MemberSnapshotWriter(
      { dir: o.dataDir, selfName: node.name, members: () => node.members(), serfLamportTime: () => this.serf.lamport(), log },
      content,
      o.snapshotIntervalMs,
    );
    this.joiner = new JoinRetry({
      seeds: o.seeds,
      lookup: o.lookup,
      family: o.family,
      retryIntervalMs: o.retryIntervalMs,
      retryMax: o.retryMax,
      join: (addresses) =>
        new Promise((resolve) => node.join(addresses, (err, contacted) => resolve({ contacted, error: err ? err.message : null }))),
      setSeeds: (addresses) => node.setSeeds(addresses),
      fallback: () => fallback,
      aliveOthers: () => node.aliveCount() - 1,
      setTimer: (ms, fn) => {
        const t = setTimeout(fn, ms);
        return () => clearTimeout(t);
      },
      log,
    });
  }

  start(): void {
    const { node } = this.o;
    this.unsubscribe.push(node.onUserMessage(this.serf.onUserMessage));
    this.unsubscribe.push(
      node.on((ev) => {
        this.snapshot.changed();
        if (ev.kind === 'join' || ev.kind === 'alive-again') this.snapshot.joined();
      }),
    );
    this.snapshot.start();
    this.joiner.start();
  }

  /** The join's part of /v1/health: degraded once the last attempt reached nobody. */
  health(): { ok: boolean; join: JoinStatus } {
    const join = this.joiner.status();
    return { ok: join.state !== 'failed', join };
  }

  /**
   * Just before the memberlist leave: record a `swimd leave` in the snapshot and
   * tell the Serf agents, then give the intents a moment to arrive first.
   */
  async beforeLeave(recordLeave: boolean): Promise<void> {
    this.joiner.stop();
    if (recordLeave) await this.snapshot.recordLeave();
    let told = { agents: 0, lamportTime: 0 };
    try {
      told = this.serf.announce();
    } catch (err) {
      // Never in the way of the leave itself.
      this.o.log('warn', 'cannot send the leave intent to the Serf agents', { err: (err as Error).message });
    }
    if (told.agents > 0) {
      this.o.log('info', 'leave intent sent to the Serf agents', told);
      // The Lamport time just used must be on disk before a restart could reuse it.
      await Promise.all([this.snapshot.flush(), new Promise((r) => setTimeout(r, 50))]);
    }
  }

  async stop(): Promise<void> {
    this.joiner.stop();
    for (const u of this.unsubscribe.splice(0)) u();
    await this.snapshot.stop();
  }
}
