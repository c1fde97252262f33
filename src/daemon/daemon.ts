// The swimd daemon: an agent (the protocol over UDP/TCP), partition leadership
// fed by its member events, the local API, logs and metrics.
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { Agent } from '../agent/agent.js';
import { diffReloadable, LIVE_SWIM_KEYS, type DaemonConfig } from '../config/daemon-config.js';
import type { SwimConfig } from '../base/swim-config.js';
import { createPartitionEngine } from '../partition/engine.js';
import { eligibilityOf, Leadership } from '../partition/leadership.js';
import { FileGrantStore } from './grant-file.js';
import { wireEventPipeline } from './pipeline.js';
import { AfterTurn } from './after-turn.js';
import { startApiServer } from '../api/server.js';
import { memberView, memberViewAt, partitionsView, withDamping, type WatchLine } from '../api/views.js';
import { FlapDamping } from '../partition/flap-damping.js';
import { loadDamping, saveDamping } from './damping-file.js';
import { PrimaryBars } from '../partition/primary-bars.js';
import { WatchHub } from '../api/watch.js';
import { SessionHub } from '../api/session.js';
import { SelfTags } from './self-tags.js';
import { coreLoggerOf, createLogger, setLogLevel } from './logger.js';
import { MonitorHub } from '../api/monitor.js';
import { wireAgreement, type AgreementWiring } from './agreement-wiring.js';
import { TABLE_CONFIG_TAG, tableConfigTag } from '../partition/agreement.js';
import { createMetrics, type DaemonMetrics } from './metrics.js';
import { SeedCheck, seedCheckTimeoutMs } from './seed-check.js';
import { statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../config/errors.js';
import { KeyOps } from './keys.js';
import { SerfKeyQueries } from './serf-keys.js';
import { ClusterJoin } from './cluster-join.js';
import { familyOfBind, resolveAddressOnce, resolveSeeds, systemLookup, type Lookup } from './join-resolver.js';

/** 127.0.0.0/8 and ::1: only this machine can send to it. */
function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1' || host === 'localhost';
}

/** Throws ConfigError naming api.socket when the socket's directory is missing or is not a directory. */
export function checkSocketDirectory(cfg: DaemonConfig): void {
  const dir = dirname(cfg.api.socket);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new ConfigError(cfg.source || 'configuration', [{ field: 'api.socket', rule: `directory ${dir} does not exist; create it or choose a socket path in an existing directory`, got: cfg.api.socket }]);
  }
  if (!isDir) throw new ConfigError(cfg.source || 'configuration', [{ field: 'api.socket', rule: `${dir} is not a directory`, got: cfg.api.socket }]);
}

export class Daemon {
  private stopping = false;

  private constructor(
    public cfg: DaemonConfig,
    readonly agent: Agent,
    readonly leadership: Leadership,
    private readonly store: FileGrantStore,
    readonly tags: SelfTags,
    private readonly sessions: SessionHub,
    readonly api: Server,
    readonly watch: WatchHub,
    readonly log: Logger,
    readonly metrics: DaemonMetrics,
    readonly cluster: ClusterJoin,
    readonly agreement: AgreementWiring,
  ) {}

  static async start(cfg: DaemonConfig, onExit: (code: number) => void, opts: { lookup?: Lookup } = {}): Promise<Daemon> {
    const monitor = new MonitorHub(cfg.api.monitorQueueBytes);
    const log = createLogger(cfg.log.level, cfg.node.name, { format: cfg.log.format, tap: monitor });
    const lookup = opts.lookup ?? systemLookup;
    // Before anything binds: a socket path that cannot be created is a config problem, not an ENOENT later.
    checkSocketDirectory(cfg);
    // Host names in bind and advertise are resolved once, before anything binds.
    const bind = await resolveAddressOnce(cfg.node.bind, 'node.bind', lookup);
    const advertise = cfg.node.advertise === null ? null : await resolveAddressOnce(cfg.node.advertise, 'node.advertise', lookup);
    const tableConfig = { partitions: cfg.partitions.count, replicas: cfg.partitions.replicas, strategy: cfg.partitions.strategy };
    const eligibility = eligibilityOf({ fencing: 'granted', eligibleTags: cfg.partitions.eligible });
    // Every member's damped tag is honoured, whether or not this member damps itself.
    const bars = new PrimaryBars(eligibility, cfg.swim.maxMembers);
    const engine = await createPartitionEngine({
      partitions: cfg.partitions.count,
      replicas: cfg.partitions.replicas,
      strategy: cfg.partitions.strategy,
      // Ownership applies the quorum; the engine ranks whoever is eligible.
      quorum: 0,
      failoverOnSuspect: cfg.partitions.failoverOnSuspect,
      eligible: eligibility,
      suppressed: (name) => bars.suppressed(name),
      ...(cfg.partitions.boundedLoadEpsilon !== null ? { boundedLoadEpsilon: cfg.partitions.boundedLoadEpsilon } : {}),
    });
    // Grants are durable before they are sent; a directory in use by another daemon stops this one here.
    const store = new FileGrantStore(cfg.node.dataDir);
    const dampingWarn = (msg: string): void => log.warn(msg);
    // This member's own score, carried on from the previous process (a crash loop is damped like a stall loop).
    const damping = new FlapDamping(
      { penalty: cfg.partitions.flapPenalty, suppressAbove: cfg.partitions.flapSuppressAbove, reuseBelow: cfg.partitions.flapReuseBelow, halfLifeMs: cfg.partitions.flapHalfLifeMs },
      cfg.partitions.flapPenalty > 0 ? loadDamping(cfg.node.dataDir, dampingWarn) : null,
    );
    let agent: Agent;
    // Tags are validated before anything binds; the node is set once the agent exists.
    let applyMeta: (meta: Uint8Array) => void = () => {};
    let tags: SelfTags;
    try {
      tags = new SelfTags(cfg.node.meta, cfg.partitions.requireSession, (meta) => applyMeta(meta), { [TABLE_CONFIG_TAG]: tableConfigTag(tableConfig) }, damping.isSuppressed());
    } catch (err) {
      store.close();
      throw err;
    }
    try {
      agent = await Agent.start({
        name: cfg.node.name,
        bind,
        advertise,
        // Joining (names, retries, the snapshot) is ClusterJoin's.
        join: [],
        config: cfg.swim,
        meta: tags.meta(),
        logger: coreLoggerOf(log),
      });
    } catch (err) {
      store.close();
      throw err;
    }
    const node = agent.node;
    applyMeta = (meta) => node.setMeta(meta);
    const ownAddress = (a: { host: string; port: number }): boolean => a.host === agent.address.host && a.port === agent.address.port;
    // The path check runs on the seeds' addresses: names are resolved once for it (joining resolves them again on each attempt).
    let seedCheck: SeedCheck | null = null;
    void resolveSeeds(cfg.join, lookup, familyOfBind(bind.host)).then((r) => {
      seedCheck = new SeedCheck(node, r.addresses.filter((a) => !ownAddress(a)), seedCheckTimeoutMs(cfg.swim), (level, fields, msg) => log[level](fields, msg));
    });
    const cluster = new ClusterJoin({
      node,
      seeds: cfg.join,
      dataDir: cfg.node.dataDir,
      lookup,
      family: familyOfBind(bind.host),
      retryIntervalMs: cfg.joinRetry.intervalMs,
      retryMax: cfg.joinRetry.max,
      log: (level, msg, fields) => log[level](fields, msg),
    });
    // Claims and answers first in each turn; what only reports them follows (watch, logs, metrics).
    const afterTurn = new AfterTurn(cfg.api.watchQueueDepth);
    const leadership = new Leadership(
      {
        fencing: 'granted',
        quorum: cfg.partitions.quorum,
        eligibleTags: cfg.partitions.eligible,
        claimTimeoutMs: cfg.partitions.claimTimeoutMs,
        claimBackoffMaxMs: cfg.partitions.claimTimeoutMs * 4,
        syncIntervalMs: cfg.partitions.syncIntervalMs,
        heartbeatIntervalMs: cfg.partitions.heartbeatIntervalMs,
        heartbeatTimeoutMs: cfg.partitions.heartbeatTimeoutMs,
      },
      engine,
      node,
      {
        scheduler: agent.env.scheduler,
        random: agent.env.random,
        store,
        log: (level, msg, fields) => log[level](fields ?? {}, msg),
        observeClaimMs: (ms) => metrics.claimRound.observe(ms / 1000),
        damping,
        // Wall clock: the score a previous process saved decays across the restart.
        dampingClockMs: () => Date.now(),
        dampedTag: { stage: (on) => tags.stageDamped(on), apply: (on) => tags.setDamped(on) },
        bars,
        saveDamping: (s) => saveDamping(cfg.node.dataDir, s, dampingWarn),
        defer: (fn) => afterTurn.first(fn),
        later: (fn) => afterTurn.later(fn),
      },
    );
    const keys = new KeyOps(node.keyring, (op, count) => log.info({ op, keys: count }, `keyring: ${op} done`));
    const serfKeys = new SerfKeyQueries(node, keys, (level, msg, fields) => log[level](fields, msg));
    node.onUserMessage(serfKeys.onUserMessage);
    let watchRef: WatchHub | null = null;
    const metrics = createMetrics(node, leadership, () => agent.transportStats(), () => watchRef?.resyncs ?? 0, () => monitor.dropped, () => serfKeys.counters);
    const snapshotLine = (): WatchLine => ({ type: 'snapshot', members: node.members().map(memberView), partitions: partitionsView(leadership.snapshot()) });
    const watch = new WatchHub(cfg.api.watchQueueDepth, snapshotLine, cfg.api.watchQueueBytes, () => afterTurn.drain());
    watchRef = watch;
    const sessions = new SessionHub(cfg.api.maxSessions, (live, why, id) => {
      log.info({ session: id, live, why }, why === 'opened' ? 'application session opened' : 'application session ended');
      // The member gives up (or may take) primaries through a tag change every member sees.
      tags.setAppUp(live > 0);
    });
    wireEventPipeline(node, leadership, watch, log, metrics, (fn) => afterTurn.later(fn));
    leadership.start();
    // Tables at rest for two anti-entropy syncs of committed epochs are compared; see partition/agreement.ts.
    const agreement = wireAgreement(node, leadership, { config: tableConfig, settleMs: 2 * cfg.partitions.syncIntervalMs, warnAfterMs: cfg.partitions.disagreementWarnAfterMs, maxPeers: cfg.swim.maxMembers }, agent.env.scheduler, log, metrics.registry);
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
      members: () => node.members().map((m) => withDamping(memberViewAt(agent.env.scheduler)(m), m.name === node.name ? leadership.ownDamping() : damping.enabled ? { suppressed: bars.dampingBars(m.name) } : null)),
      partitions: () => ({ ...partitionsView(leadership.snapshot()), agreement: agreement.report(), configMismatches: agreement.agreement.configMismatches() }),
      partitionDetail: (id) => ({ ...leadership.ownership!.detail(id), rightful: engine.primaryOf(id) }),
      owned: () => {
        const snap = leadership.snapshot();
        const owned = leadership.owned(node.name);
        return { name: node.name, quorum: snap.quorum, ...owned, tokens: Object.fromEntries(owned.primary.map((id) => [id, snap.partitions.get(id).token])) };
      },
      health: () => {
        const snap = leadership.snapshot();
        const joined = cluster.health();
        const ok = snap.quorum === 'ok';
        const reasons = [...(ok ? [] : ['no quorum of eligible members in view']), ...(joined.ok ? [] : ['joined no seed']), ...agreement.mismatchReasons()];
        const seeds = seedCheck?.view() ?? { state: cfg.join.length > 0 ? 'checking' : 'none', seeds: [] };
        return { status: reasons.length === 0 ? 'ok' : 'degraded', reasons, quorum: snap.quorum, join: joined.join, aliveMembers: node.aliveCount(), healthScore: node.healthScore(), watchers: watch.count(), probePeriods: node.stats.probePeriods, missedProbePeriods: node.stats.missedProbePeriods, maxProbeLatenessMs: Math.round(node.stats.maxProbeLatenessMs), tcpOnlyMembers: node.tcpOnlyMembers(), seeds };
      },
      metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
      leave: () => void daemon?.stop('api').then(() => onExit(0)),
      setTags: (set, unset) => {
        const all = tags.update(set, unset);
        log.info({ tags: all }, 'tags changed');
        return all;
      },
      keys,
      watch,
      sessions,
      monitor,
    }).catch(async (err: unknown) => {
      // No API, no daemon: leave no half-started member behind.
      agreement.stop();
      leadership.stop();
      await agent.shutdown();
      store.close();
      throw err;
    });
    daemon = new Daemon(cfg, agent, leadership, store, tags, sessions, api, watch, log, metrics, cluster, agreement);
    cluster.start();
    if (cfg.swim.keys.length === 0 && !isLoopback(bind.host)) {
      log.warn({ bind: bind.host }, 'gossip is not encrypted (security.keys is empty) on a non-loopback address: any host that can reach this port can forge members, tags and deaths; see `swimd keygen`');
    }
    log.info({ bind: `${agent.address.host}:${agent.address.port}`, socket: cfg.api.socket, join: cfg.join.length }, 'swimd started');
    return daemon;
  }

  /** SIGHUP: timing knobs and the log level apply live; other changes are reported as needing a restart. */
  reload(next: DaemonConfig): { live: string[]; needRestart: string[] } {
    const d = diffReloadable(this.cfg, next);
    const patch: Partial<SwimConfig> = {};
    for (const k of LIVE_SWIM_KEYS) (patch as Record<string, unknown>)[k] = next.swim[k];
    this.agent.node.updateTiming(patch);
    setLogLevel(this.log, next.log.level);
    this.cfg = { ...this.cfg, swim: { ...this.cfg.swim, ...patch }, log: { ...next.log, format: this.cfg.log.format } };
    this.log.info({ applied: d.live, needRestart: d.needRestart }, 'configuration reloaded');
    if (d.needRestart.length > 0) this.log.warn({ fields: d.needRestart }, 'these changes need a restart to apply');
    return d;
  }

  /**
   * A planned stop first drains: the member advertises drain, its partitions'
   * successors claim them (with this member's drained state as evidence), and
   * it waits, at most partitions.handoffTimeout, until it sees every one of
   * them held by another member. Only then does it leave, so the gap an
   * application sees is one claim round rather than a failure detection.
   */
  private async handOff(): Promise<void> {
    const self = this.agent.node.name;
    const held = this.leadership.owned(self).primary;
    const timeoutMs = this.cfg.partitions.handoffTimeoutMs;
    if (held.length === 0 || timeoutMs === 0) return;
    const t0 = Date.now();
    try {
      this.tags.update({ drain: 'true' }, []);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot drain before leaving');
      return;
    }
    let left = held;
    while (Date.now() - t0 < timeoutMs) {
      const snap = this.leadership.snapshot();
      left = left.filter((p) => {
        const e = snap.partitions.get(p);
        return e.primary === null || e.primary === self;
      });
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const fields = { partitions: held.length, notHandedOff: left.length, ms: Date.now() - t0 };
    if (left.length === 0) this.log.info(fields, 'partitions handed off before leaving');
    else this.log.warn(fields, 'leaving before every partition was taken over (partitions.handoffTimeout)');
  }

  /** Graceful leave (bounded by the leave timeout), then close everything. */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.handOff();
    this.log.info({ reason }, 'leaving the cluster');
    // Only `swimd leave` is remembered: a restart after a signal rejoins the snapshot's members.
    await this.cluster.beforeLeave(reason === 'api');
    await this.agent.leave(this.cfg.swim.leavePropagateDelayMs + 1000);
    this.sessions.closeAll();
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
    this.agreement.stop();
    this.leadership.stop();
    await this.cluster.stop();
    await this.agent.shutdown();
    this.store.close();
    this.log.info('stopped');
  }
}
