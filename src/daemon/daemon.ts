// The swimd daemon: an agent (the protocol over UDP/TCP), partition leadership
// fed by its member events, the local API, logs and metrics.
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { Agent } from '../agent/agent.js';
import { diffReloadable, LIVE_SWIM_KEYS, type DaemonConfig } from '../config/daemon-config.js';
import type { SwimConfig } from '../config/swim-config.js';
import { createPartitionEngine, type PartitionEngine } from '../partition/engine.js';
import { startApiServer } from '../api/server.js';
import { memberView, partitionsView, type WatchLine } from '../api/views.js';
import { WatchHub } from '../api/watch.js';
import { encodeTags } from '../wire/serf-tags.js';
import { coreLoggerOf, createLogger } from './logger.js';
import { createMetrics, type DaemonMetrics } from './metrics.js';
import { unlinkSync } from 'node:fs';

export class Daemon {
  private stopping = false;

  private constructor(
    public cfg: DaemonConfig,
    readonly agent: Agent,
    readonly engine: PartitionEngine,
    readonly api: Server,
    readonly watch: WatchHub,
    readonly log: Logger,
    readonly metrics: DaemonMetrics,
  ) {}

  static async start(cfg: DaemonConfig, onExit: (code: number) => void): Promise<Daemon> {
    const log = createLogger(cfg.log.level, cfg.node.name);
    const engine = await createPartitionEngine({
      partitions: cfg.partitions.count,
      replicas: cfg.partitions.replicas,
      strategy: cfg.partitions.strategy,
      quorum: cfg.partitions.quorum,
      failoverOnSuspect: cfg.partitions.failoverOnSuspect,
      ...(cfg.partitions.boundedLoadEpsilon !== null ? { boundedLoadEpsilon: cfg.partitions.boundedLoadEpsilon } : {}),
    });
    const agent = await Agent.start({
      name: cfg.node.name,
      bind: cfg.node.bind,
      advertise: cfg.node.advertise,
      join: cfg.join,
      config: cfg.swim,
      meta: encodeTags(cfg.node.meta),
      logger: coreLoggerOf(log),
    });
    const node = agent.node;
    const metrics = createMetrics(node, engine, () => agent.transportStats());
    const snapshotLine = (): WatchLine => ({ type: 'snapshot', members: node.members().map(memberView), partitions: partitionsView(engine.snapshot()) });
    const watch = new WatchHub(cfg.api.watchQueueDepth, snapshotLine);
    engine.applyMembers(node.members());
    node.on((ev) => {
      const t0 = performance.now();
      const diff = engine.applyEvent(ev);
      metrics.failoverCompute.observe((performance.now() - t0) / 1000);
      log.info({ event: ev.kind, member: ev.member.name, incarnation: ev.member.incarnation }, `member ${ev.kind}`);
      watch.publish({ type: 'member', event: ev.kind, member: memberView(ev.member) });
      if (diff.changed.length > 0) {
        metrics.partitionChanges.inc(diff.changed.length);
        log.info({ changed: diff.changed.length, viewVersion: diff.viewVersion, quorum: diff.quorum }, 'partitions changed');
        watch.publish({ type: 'partitions', viewVersion: diff.viewVersion, quorum: diff.quorum, changed: diff.changed.map((c) => ({ ...c, replicas: [...c.replicas] })) });
      }
    });
    let daemon: Daemon | undefined;
    const api = await startApiServer(cfg.api.socket, cfg.api.mode, cfg.api.maxConnections, {
      self: () => {
        const me = node.member(node.name)!;
        const live = node.config();
        return {
          name: node.name,
          address: agent.address.host,
          port: agent.address.port,
          incarnation: me.incarnation,
          state: me.state,
          healthScore: node.healthScore(),
          meta: memberView(me).meta,
          config: Object.fromEntries(LIVE_SWIM_KEYS.map((k) => [k, live[k]])),
        };
      },
      members: () => node.members().map(memberView),
      partitions: () => partitionsView(engine.snapshot()),
      owned: () => ({ name: node.name, token: engine.snapshot().token, quorum: engine.snapshot().quorum, ...engine.owned(node.name) }),
      health: () => {
        const snap = engine.snapshot();
        const ok = snap.quorum === 'ok';
        return { status: ok ? 'ok' : 'degraded', quorum: snap.quorum, aliveMembers: node.aliveCount(), healthScore: node.healthScore(), watchers: watch.count(), probePeriods: node.stats.probePeriods, missedProbePeriods: node.stats.missedProbePeriods, maxProbeLatenessMs: Math.round(node.stats.maxProbeLatenessMs) };
      },
      metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
      leave: () => void daemon?.stop('api').then(() => onExit(0)),
      watch,
    }).catch(async (err: unknown) => {
      // No API, no daemon: leave no half-started member behind.
      await agent.shutdown();
      throw err;
    });
    daemon = new Daemon(cfg, agent, engine, api, watch, log, metrics);
    log.info({ bind: `${agent.address.host}:${agent.address.port}`, socket: cfg.api.socket, join: cfg.join.length }, 'swimd started');
    return daemon;
  }

  /** SIGHUP: timing knobs and the log level apply live; other changes are reported as needing a restart. */
  reload(next: DaemonConfig): { live: string[]; needRestart: string[] } {
    const d = diffReloadable(this.cfg, next);
    const patch: Partial<SwimConfig> = {};
    for (const k of LIVE_SWIM_KEYS) (patch as Record<string, unknown>)[k] = next.swim[k];
    this.agent.node.updateTiming(patch);
    this.log.level = next.log.level;
    this.cfg = { ...this.cfg, swim: { ...this.cfg.swim, ...patch }, log: next.log };
    this.log.info({ applied: d.live, needRestart: d.needRestart }, 'configuration reloaded');
    if (d.needRestart.length > 0) this.log.warn({ fields: d.needRestart }, 'these changes need a restart to apply');
    return d;
  }

  /** Graceful leave (bounded by the leave timeout), then close everything. */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info({ reason }, 'leaving the cluster');
    await this.agent.leave(this.cfg.swim.leavePropagateDelayMs + 1000);
    this.watch.closeAll();
    await new Promise<void>((resolve) => {
      this.api.close(() => resolve());
      this.api.closeAllConnections();
    });
    try {
      unlinkSync(this.cfg.api.socket);
    } catch {
      // already gone
    }
    await this.agent.shutdown();
    this.log.info('stopped');
  }
}
