// One SWIM + Lifeguard member speaking memberlist's protocol. No I/O of its
// own: packets, streams, time and randomness come through CoreEnv. This class
// is the public face and the wiring; the protocol lives in one part per
// concern (member table, state rules, probing, gossip, anti-entropy, ingress,
// outbox), each given only the parts it uses.
import type { LiveSwimField, SwimConfig } from '../base/swim-config.js';
import { decodeMessage, encodeMessage } from '../wire/codec.js';
import { Keyring } from '../wire/keyring.js';
import { openStream } from '../wire/stream.js';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from '../wire/limits.js';
import { META_MAX_BYTES, MessageType, PROTOCOL_VERSION_MAX, PROTOCOL_VERSION_MIN } from '../wire/messages.js';
import { AckTable } from './ack-table.js';
import { ipToBytes } from './addresses.js';
import { AntiEntropy, type UserStateDelegate } from './anti-entropy.js';
import { Awareness } from './awareness.js';
import type { CoreContext } from './context.js';
import { silentLogger, type Address, type CoreEnv } from '../base/env.js';
import { SwimError } from './errors.js';
import { Gossip } from './gossip.js';
import { Ingress } from './ingress.js';
import { identityRulesOf } from './identity.js';
import { ContactVerifier } from './verify.js';
import { SubjectNotifier } from './subject-notice.js';
import { Invariants } from './invariants.js';
import { snapshotOf } from './member.js';
import { MemberTable } from './member-table.js';
import type { MemberEvent, MemberSnapshot } from './member-types.js';
import { Outbox } from './outbox.js';
import { pingOf, Prober } from './probe.js';
import { Reachability } from './reachability.js';
import { StateRules } from './state-rules.js';
import { countDrop, newStats, type CoreStats } from './stats.js';
import { TimerSet } from './timer-set.js';
import { CrashWatch } from './crash-watch.js';

export type { CoreStats } from './stats.js';
export type { UserStateDelegate } from './anti-entropy.js';
export type { UserStateRefusal } from './stats.js';
export { SwimError } from './errors.js';

/** Which paths to an address answered a ping: UDP (ping → ack) and TCP (stream ping → ack). */
export interface PathCheck {
  udp: boolean;
  tcp: boolean;
}

export interface SwimNodeOptions {
  name: string;
  advertise: Address;
  meta?: Uint8Array;
  config: SwimConfig;
  env: CoreEnv;
  limits?: WireLimits;
}

export class SwimNode {
  readonly name: string;
  readonly stats: CoreStats = newStats();
  readonly keyring: Keyring | null;

  private readonly ctx: CoreContext;
  private readonly initialMeta: Uint8Array;
  private readonly timers: TimerSet;
  private readonly awareness: Awareness;
  private readonly table: MemberTable;
  private readonly outbox: Outbox;
  private readonly rules: StateRules;
  private readonly acks: AckTable;
  private readonly prober: Prober;
  private readonly gossip: Gossip;
  private readonly antiEntropy: AntiEntropy;
  private readonly ingress: Ingress;
  private readonly notifier: SubjectNotifier;
  private readonly reach: Reachability;
  private readonly crashWatch: CrashWatch;

  constructor(opts: SwimNodeOptions) {
    this.name = opts.name;
    const meta = opts.meta ?? new Uint8Array(0);
    if (meta.length > META_MAX_BYTES) throw new SwimError('META_TOO_LARGE', `meta is ${meta.length} bytes, the limit is ${META_MAX_BYTES}`);
    this.initialMeta = meta;
    this.keyring = opts.config.keys.length > 0 ? new Keyring(opts.config.keys, opts.config.maxKeys ?? 16) : null;
    const log = opts.env.logger ?? silentLogger;
    const invariants = new Invariants(this.stats, log);
    this.ctx = {
      name: opts.name,
      cfg: { ...opts.config },
      env: opts.env,
      log,
      stats: this.stats,
      limits: { ...(opts.limits ?? DEFAULT_WIRE_LIMITS), maxPushPullNodes: opts.config.maxPushPullNodes },
      security: {
        label: opts.config.label,
        keyring: this.keyring,
        encryptOutgoing: opts.config.gossipVerifyOutgoing,
        requireEncryptedIncoming: opts.config.gossipVerifyIncoming,
      },
      invariants,
      identity: identityRulesOf({ maxNameBytes: opts.config.maxNameBytes ?? 128, memberNamePattern: opts.config.memberNamePattern ?? '' }),
      advertise: opts.advertise,
      advertiseAddr: ipToBytes(opts.advertise.host),
      life: { running: false, stopped: false, leaving: false },
    };
    const ctx = this.ctx;
    this.timers = new TimerSet(opts.env.scheduler, invariants);
    this.awareness = new Awareness(opts.config.awarenessMaxMultiplier);
    this.table = new MemberTable(ctx);
    this.outbox = new Outbox(ctx, this.table);
    this.gossip = new Gossip(ctx, this.table, this.outbox, this.timers);
    this.rules = new StateRules(ctx, this.table, this.outbox, this.awareness, () => this.gossip.tick(false));
    this.acks = new AckTable(ctx);
    this.reach = new Reachability(ctx, this.table);
    this.table.onReap = (m) => this.reach.forget(m.name);
    this.prober = new Prober({ ctx, table: this.table, outbox: this.outbox, rules: this.rules, awareness: this.awareness, acks: this.acks, reach: this.reach }, this.timers);
    this.antiEntropy = new AntiEntropy(ctx, this.table, this.outbox, this.rules, this.timers);
    this.ingress = new Ingress(ctx, this.rules, this.acks, this.prober, this.outbox, this.antiEntropy);
    const verifier = new ContactVerifier(ctx, this.acks, this.outbox, this.rules);
    this.rules.onUnverified = (m) => verifier.verify(m);
    this.notifier = new SubjectNotifier(ctx, this.outbox, this.rules, opts.config.maxMembers);
    this.rules.onUpdatedOther = (m) => this.notifier.notify(m);
    this.crashWatch = new CrashWatch(ctx, this.table, this.acks, this.outbox, this.rules, this.timers, (m) => this.prober.probeNow(m));
    this.rules.onHeardSuspicion = (m) => this.crashWatch.checkSuspect(m);
  }

  // ------------------------------------------------------------------ lifecycle

  start(): void {
    const { ctx } = this;
    if (ctx.life.running) return;
    ctx.life.running = true;
    ctx.env.packets.onPacket((from, data) => this.ingress.onPacket(from, data));
    ctx.env.streams.onRequest((from, req, reply) => this.ingress.onStream(from, req, reply));
    this.rules.aliveNode(
      { incarnation: 1, node: this.name, addr: ctx.advertiseAddr, port: ctx.advertise.port, meta: this.initialMeta, vsn: this.vsnBytes() },
      true,
    );
    // Stagger the first round so members started together do not probe in lockstep.
    this.prober.start(ctx.env.random.int(ctx.cfg.probeIntervalMs));
    this.gossip.start(ctx.env.random.int(ctx.cfg.gossipIntervalMs));
    this.crashWatch.start(ctx.env.random.int(Math.max(1, ctx.cfg.crashWatchIntervalMs)));
    this.prober.setLastPeriod(ctx.cfg.probeIntervalMs);
    this.antiEntropy.startRamp();
    this.antiEntropy.schedule();
    this.antiEntropy.scheduleReconnect();
  }

  join(seeds: Address[], done?: (err: Error | null, contacted: number) => void): void {
    const targets = seeds.filter((s) => !this.isSelfAddress(s));
    if (targets.length === 0) {
      done?.(null, 0);
      return;
    }
    // A joining member ramps its push/pull up again (see AntiEntropy.schedule).
    this.antiEntropy.startRamp();
    if (this.ctx.life.running) this.antiEntropy.schedule();
    this.antiEntropy.join(targets, done);
  }

  /** Broadcasts our own departure, gives it leavePropagateDelayMs to spread, then calls done. */
  leave(done: () => void): void {
    const { life } = this.ctx;
    if (life.leaving || life.stopped) {
      done();
      return;
    }
    life.leaving = true;
    this.rules.deadNode({ incarnation: this.table.self.incarnation, node: this.name, from: this.name });
    this.gossip.tick(false);
    this.ctx.env.scheduler.setTimer(this.ctx.cfg.leavePropagateDelayMs, done);
  }

  shutdown(): void {
    this.ctx.life.stopped = true;
    this.ctx.life.running = false;
    this.timers.cancelAll();
    this.rules.cancelAll();
    this.acks.clear();
    this.ingress.clear();
    this.notifier.cancelAll();
  }

  setMeta(meta: Uint8Array): void {
    if (meta.length > META_MAX_BYTES) throw new SwimError('META_TOO_LARGE', `meta is ${meta.length} bytes, the limit is ${META_MAX_BYTES}`);
    const inc = this.table.self.incarnation + 1;
    this.rules.aliveNode({ incarnation: inc, node: this.name, addr: this.ctx.advertiseAddr, port: this.ctx.advertise.port, meta, vsn: this.vsnBytes() }, true);
  }

  setSeeds(seeds: Address[]): void {
    this.antiEntropy.setSeeds(seeds.filter((s) => !this.isSelfAddress(s)));
  }

  updateTiming(patch: Partial<Pick<SwimConfig, LiveSwimField>>): void {
    const cfg = this.ctx.cfg;
    const pushPullChanged = patch.pushPullIntervalMs !== undefined && patch.pushPullIntervalMs !== cfg.pushPullIntervalMs;
    Object.assign(cfg, patch);
    if (patch.awarenessMaxMultiplier !== undefined) this.awareness.setMax(patch.awarenessMaxMultiplier);
    // The pending push/pull was armed for the old interval (or not at all when
    // it was 0): arm it for the new one now, or stop it, rather than at a
    // next exchange that may never come.
    if (pushPullChanged && this.ctx.life.running) this.antiEntropy.intervalChanged();
  }

  /** The knobs in force now (after live updates). */
  config(): Readonly<SwimConfig> {
    return this.ctx.cfg;
  }

  // ------------------------------------------------------------------ queries

  members(): MemberSnapshot[] {
    return this.table.all().map(snapshotOf);
  }

  member(name: string): MemberSnapshot | undefined {
    const m = this.table.get(name);
    return m ? snapshotOf(m) : undefined;
  }

  aliveCount(): number {
    return this.table.aliveCount();
  }

  on(listener: (ev: MemberEvent) => void): () => void {
    return this.rules.on(listener);
  }

  /** A probe of this member was refused over UDP and TCP: its process is gone (see StateRules.onRefusalBacked). */
  onRefusalBacked(listener: (name: string, incarnation: number) => void): () => void {
    return this.rules.onRefusalBacked(listener);
  }

  /** Called before this node refutes a suspect or dead message about itself; metadata returned goes out with the refutation. */
  onSelfAccused(listener: () => Uint8Array | null): () => void {
    return this.rules.onSelfAccused(listener);
  }

  /**
   * Called at the start of every protocol period with how late it started
   * (a busy event loop delays the probe timer) and the period it was due after.
   */
  onProbePeriod(listener: (latenessMs: number, periodMs: number) => void): () => void {
    return this.prober.onPeriod(listener);
  }

  /** Members alive or suspect that answer only over TCP (for udpBlockedAfterProbes rounds or more, no UDP ack since). */
  tcpOnlyMembers(): number {
    return this.reach.tcpOnlyCount();
  }

  /**
   * Checks both paths to an address (a seed, whose name is not known yet): a
   * UDP ping naming no one (sent up to three times within the time) and a TCP
   * ping. `done` runs once, within `timeoutMs`, with which of the two answered.
   */
  checkPath(to: Address, timeoutMs: number, done: (result: PathCheck) => void): void {
    const { ctx, acks, outbox } = this;
    let pending = 2;
    const result = { udp: false, tcp: false };
    const settle = (): void => {
      if (--pending === 0) done(result);
    };
    if (ctx.life.stopped) {
      done(result);
      return;
    }
    const udpSeq = acks.nextSeq();
    const udpPing = encodeMessage({ type: MessageType.Ping, body: pingOf(ctx, udpSeq, '') });
    let udpSettled = false;
    const settleUdp = (answered: boolean): void => {
      if (udpSettled) return;
      udpSettled = true;
      result.udp = answered;
      settle();
    };
    // Our own deadline too: a shutdown clears the ack table without running its expiries.
    ctx.env.scheduler.setTimer(timeoutMs, () => settleUdp(false));
    const waiting = acks.expect(udpSeq, () => settleUdp(true), () => {}, timeoutMs, () => settleUdp(false));
    if (waiting) {
      // A lost datagram is not a filter: resend while no answer came.
      const tries = 3;
      const send = (i: number): void => {
        if (udpSettled || ctx.life.stopped || i >= tries) return;
        outbox.sendRaw(to, udpPing);
        ctx.env.scheduler.setTimer(timeoutMs / tries, () => send(i + 1));
      };
      send(0);
    } else settleUdp(false);
    const tcpSeq = acks.nextSeq();
    const tcpPing = encodeMessage({ type: MessageType.Ping, body: pingOf(ctx, tcpSeq, '') });
    ctx.env.streams.request(to, outbox.sealForStream(tcpPing), true, timeoutMs, (err, reply) => {
      if (!err && reply) {
        const r = openStream(reply, ctx.security, ctx.limits);
        result.tcp = r.ok && r.value.type === MessageType.AckResp && r.value.body.seqNo === tcpSeq;
      }
      settle();
    });
  }

  healthScore(): number {
    return this.awareness.healthScore();
  }

  // ------------------------------------------------------------------ user messages and evidence

  /** Registers a user-message delegate; it returns false for payloads that are not its own, and the next one is asked. */
  onUserMessage(handler: (from: Address, payload: Uint8Array) => boolean): () => void {
    this.ingress.addUserHandler(handler);
    return () => this.ingress.removeUserHandler(handler);
  }

  /**
   * Registers what push/pull carries as its user state (one delegate at most;
   * null removes it). States a delegate refuses are counted as drops.
   */
  setUserState(delegate: UserStateDelegate | null): void {
    this.antiEntropy.setUserState(delegate);
  }

  /** Largest user-message payload that fits one datagram after framing and security overhead. */
  userMessageBudgetBytes(): number {
    return this.outbox.datagramBudgetBytes();
  }

  /** Sends one user message (memberlist type 8) as its own datagram; false if it is too large or the node is stopped. */
  sendUserMessage(to: Address, payload: Uint8Array): boolean {
    if (this.ctx.life.stopped || payload.length > this.userMessageBudgetBytes()) return false;
    this.outbox.sendRaw(to, encodeMessage({ type: MessageType.User, body: { payload } }));
    return true;
  }

  /**
   * What this node holds about each named member, as the memberlist messages
   * gossip would carry (alive, suspect, dead, or dead-from-itself for left), so
   * another member can merge it by the same rules. Unknown names are skipped.
   */
  evidenceOf(names: Iterable<string>): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const name of names) {
      const m = this.table.get(name);
      if (!m) continue;
      switch (m.state) {
        case 'alive':
          out.push(encodeMessage(this.rules.aliveOf(m)));
          break;
        case 'suspect':
          out.push(encodeMessage({ type: MessageType.Suspect, body: { incarnation: m.incarnation, node: m.name, from: this.name } }));
          break;
        case 'dead':
          out.push(encodeMessage({ type: MessageType.Dead, body: { incarnation: m.incarnation, node: m.name, from: this.name } }));
          break;
        case 'left':
          out.push(encodeMessage({ type: MessageType.Dead, body: { incarnation: m.incarnation, node: m.name, from: m.name } }));
          break;
      }
    }
    return out;
  }

  /** Merges evidence from evidenceOf() at once, by memberlist's precedence rules (as if it arrived by gossip). */
  mergeEvidence(messages: readonly Uint8Array[]): void {
    if (this.ctx.life.stopped) return;
    for (const raw of messages) {
      const d = decodeMessage(raw, this.ctx.limits);
      if (!d.ok) {
        countDrop(this.stats, d.reason);
        continue;
      }
      const msg = d.value;
      if (msg.type === MessageType.Alive) this.rules.aliveNode(msg.body, false);
      else if (msg.type === MessageType.Suspect) this.rules.suspectNode(msg.body);
      else if (msg.type === MessageType.Dead) this.rules.deadNode(msg.body);
      else countDrop(this.stats, 'unexpected-evidence');
    }
  }

  /** Updates dropped because the broadcast queue was full (the most-sent first). */
  broadcastsDropped(): number {
    return this.outbox.broadcastsDropped();
  }

  broadcastQueueDepth(): number {
    return this.outbox.broadcastQueueDepth();
  }

  /** Bounds of the queues fed from the network, for invariant checks. */
  queueBounds(): { broadcasts: [number, number]; handoff: [number, number]; ackHandlers: [number, number]; members: [number, number] } {
    const cfg = this.ctx.cfg;
    return {
      broadcasts: [this.outbox.broadcastQueueDepth(), cfg.maxBroadcasts],
      handoff: [this.ingress.handoffDepth(), cfg.handoffQueueDepth],
      ackHandlers: [this.acks.size(), cfg.maxAckHandlers],
      members: [this.table.size(), cfg.maxMembers],
    };
  }

  // ------------------------------------------------------------------ helpers

  private isSelfAddress(a: Address): boolean {
    return a.host === this.ctx.advertise.host && a.port === this.ctx.advertise.port;
  }

  private vsnBytes(): Uint8Array {
    const cfg = this.ctx.cfg;
    return Uint8Array.from([PROTOCOL_VERSION_MIN, PROTOCOL_VERSION_MAX, cfg.protocolVersion, cfg.delegateProtocolMin, cfg.delegateProtocolMax, cfg.delegateProtocolVersion]);
  }
}
