// One SWIM + Lifeguard member speaking memberlist's protocol. No I/O of its
// own: packets, streams, time and randomness come through CoreEnv.
import type { SwimConfig } from '../config/swim-config.js';
import { decodeMessage, encodeMessage } from '../wire/codec.js';
import { COMPOUND_HEADER_BYTES, COMPOUND_PART_OVERHEAD, makeCompound } from '../wire/compound.js';
import { Keyring } from '../wire/keyring.js';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from '../wire/limits.js';
import {
  COMPOUND_MAX_PARTS,
  META_MAX_BYTES,
  MessageType,
  PROTOCOL_VERSION_MAX,
  PROTOCOL_VERSION_MIN,
  WireState,
  type AliveMsg,
  type DeadMsg,
  type IndirectPingMsg,
  type Message,
  type PingMsg,
  type PushNodeState,
  type SuspectMsg,
} from '../wire/messages.js';
import { openPacket, packetOverheadBytes, sealPacket, type WireSecurity } from '../wire/packet.js';
import { openStream, sealStream } from '../wire/stream.js';
import { bytesToIp, ipToBytes } from './addresses.js';
import { Awareness } from './awareness.js';
import { BroadcastQueue } from './broadcast-queue.js';
import { silentLogger, type Address, type CoreEnv, type CoreLogger, type TimerHandle } from './env.js';
import { isDeadOrLeft, sameBytes, snapshotOf, type MemberRecord } from './member.js';
import type { MemberEvent, MemberSnapshot, MemberState } from './member-types.js';
import { shuffleInPlace } from './prng.js';
import { countDrop, newStats, type CoreStats } from './stats.js';
import { Suspicion } from './suspicion.js';
import { Invariants } from './invariants.js';
import { TimerSet } from './timer-set.js';
import { expectedConfirmations, pushPullScaledIntervalMs, retransmitLimit, suspicionTimeoutsMs } from './timing.js';

export type { CoreStats } from './stats.js';

export class SwimError extends Error {
  readonly code: 'META_TOO_LARGE' | 'NOT_RUNNING' | 'JOIN_FAILED' | 'PUSH_PULL_FAILED' | 'INCOMPATIBLE_PROTOCOL';
  constructor(code: SwimError['code'], message: string) {
    super(message);
    this.name = 'SwimError';
    this.code = code;
  }
}

export interface SwimNodeOptions {
  name: string;
  advertise: Address;
  meta?: Uint8Array;
  config: SwimConfig;
  env: CoreEnv;
  limits?: WireLimits;
}

type TimingKey =
  | 'probeIntervalMs'
  | 'probeTimeoutMs'
  | 'gossipIntervalMs'
  | 'pushPullIntervalMs'
  | 'suspicionMult'
  | 'suspicionMaxTimeoutMult'
  | 'retransmitMult'
  | 'gossipNodes'
  | 'indirectChecks'
  | 'awarenessMaxMultiplier'
  | 'gossipToTheDeadTimeMs';

interface AckHandler {
  onAck: () => void;
  onNack: () => void;
  timer: TimerHandle;
}

/**
 * Compress only stream messages big enough for LZW to win (push/pull state).
 * Datagrams stay uncompressed: they are at most one UDP buffer, LZW rarely
 * shrinks them and it costs CPU on every packet; peers accept both forms.
 */
const COMPRESS_MIN_BYTES = 256;

const WIRE_STATE: Record<MemberState, WireState> = { alive: WireState.Alive, suspect: WireState.Suspect, dead: WireState.Dead, left: WireState.Left };

export class SwimNode {
  readonly name: string;
  readonly stats: CoreStats = newStats();
  readonly keyring: Keyring | null;

  private readonly cfg: SwimConfig;
  private readonly env: CoreEnv;
  private readonly log: CoreLogger;
  private readonly limits: WireLimits;
  private readonly security: WireSecurity;
  private readonly advertise: Address;
  private readonly advertiseAddr: Uint8Array;
  private readonly initialMeta: Uint8Array;

  private readonly byName = new Map<string, MemberRecord>();
  /** Same records as `members`, as an array for random picks. */
  private list: MemberRecord[] = [];
  private probeList: MemberRecord[] = [];
  private probeIndex = 0;
  private estimatedMembers = 1;
  private self!: MemberRecord;

  private readonly suspicions = new Map<string, Suspicion>();
  private readonly awareness: Awareness;
  private readonly broadcasts: BroadcastQueue;
  private readonly ackHandlers = new Map<number, AckHandler>();
  private seqNo = 0;
  private readonly listeners = new Set<(ev: MemberEvent) => void>();
  private readonly probeLatenessListeners = new Set<(latenessMs: number, periodMs: number) => void>();
  /** The one user-message delegate (partition ownership); it answers whether the payload was its own. */
  private userHandler: ((from: Address, payload: Uint8Array) => boolean) | null = null;
  /** When the next protocol period is due, to measure how late it runs. */
  private probeDueAtMs = 0;
  private lastPeriodMs = 1;
  private readonly invariants: Invariants;
  /** The periodic timers (probe, gossip, push/pull, reconnect); shutdown cancels them all. */
  private readonly timers: TimerSet;
  private highPriority: Message[] = [];
  private lowPriority: Message[] = [];
  private drainScheduled = false;
  private seeds: Address[] = [];
  private pushPullsInFlight = 0;
  private refuteGossipPending = false;
  private lastReassertAtMs = -Infinity;
  private readonly corrected = new Map<string, number>();
  /** Next delay while ramping up push/pull after a start or join; null once at the full interval. */
  private pushPullRampMs: number | null = null;
  /** Every change to the member table, and when the last one happened: is the view settling? */
  private viewChanges = 0;
  private lastViewChangeAtMs = 0;
  private running = false;
  private stopped = false;
  private leaving = false;

  constructor(opts: SwimNodeOptions) {
    this.name = opts.name;
    this.cfg = { ...opts.config };
    this.env = opts.env;
    this.log = opts.env.logger ?? silentLogger;
    this.limits = { ...(opts.limits ?? DEFAULT_WIRE_LIMITS), maxPushPullNodes: opts.config.maxPushPullNodes };
    this.advertise = opts.advertise;
    this.advertiseAddr = ipToBytes(opts.advertise.host);
    const meta = opts.meta ?? new Uint8Array(0);
    if (meta.length > META_MAX_BYTES) throw new SwimError('META_TOO_LARGE', `meta is ${meta.length} bytes, the limit is ${META_MAX_BYTES}`);
    this.initialMeta = meta;
    this.keyring = opts.config.keys.length > 0 ? new Keyring(opts.config.keys) : null;
    this.security = {
      label: opts.config.label,
      keyring: this.keyring,
      encryptOutgoing: opts.config.gossipVerifyOutgoing,
      requireEncryptedIncoming: opts.config.gossipVerifyIncoming,
    };
    this.awareness = new Awareness(opts.config.awarenessMaxMultiplier);
    this.broadcasts = new BroadcastQueue(opts.config.maxBroadcasts);
    this.invariants = new Invariants(this.stats, this.log);
    this.timers = new TimerSet(opts.env.scheduler, this.invariants);
  }

  // ------------------------------------------------------------------ lifecycle

  start(): void {
    if (this.running) return;
    this.running = true;
    this.env.packets.onPacket((from, data) => this.onPacket(from, data));
    this.env.streams.onRequest((from, req, reply) => this.onStream(from, req, reply));
    this.aliveNode(
      { incarnation: 1, node: this.name, addr: this.advertiseAddr, port: this.advertise.port, meta: this.initialMeta, vsn: this.vsnBytes() },
      true,
    );
    // Stagger the first round so members started together do not probe in lockstep.
    const firstProbeMs = this.env.random.int(this.cfg.probeIntervalMs);
    this.probeDueAtMs = this.env.scheduler.nowMs() + firstProbeMs;
    this.timers.arm('probe', firstProbeMs, () => this.probeTick());
    this.timers.arm('gossip', this.env.random.int(this.cfg.gossipIntervalMs), () => this.gossipTick());
    this.lastPeriodMs = this.cfg.probeIntervalMs;
    this.pushPullRampMs = this.cfg.probeIntervalMs;
    this.schedulePushPull();
    this.scheduleReconnect();
  }

  join(seeds: Address[], done?: (err: Error | null, contacted: number) => void): void {
    const targets = seeds.filter((s) => !(s.host === this.advertise.host && s.port === this.advertise.port));
    if (targets.length === 0) {
      done?.(null, 0);
      return;
    }
    // A joining member ramps its push/pull up again (see schedulePushPull).
    this.pushPullRampMs = this.cfg.probeIntervalMs;
    if (this.running) this.schedulePushPull();
    let pending = targets.length;
    let contacted = 0;
    let lastErr: Error | null = null;
    for (const seed of targets) {
      this.pushPullWith(seed, true, (err) => {
        if (err) lastErr = err;
        else contacted++;
        if (--pending === 0) done?.(contacted > 0 ? null : new SwimError('JOIN_FAILED', `no seed answered: ${lastErr?.message ?? 'unknown'}`), contacted);
      });
    }
  }

  /** Broadcasts our own departure, gives it leavePropagateDelayMs to spread, then calls done. */
  leave(done: () => void): void {
    if (this.leaving || this.stopped) {
      done();
      return;
    }
    this.leaving = true;
    this.deadNode({ incarnation: this.self.incarnation, node: this.name, from: this.name });
    this.gossipTick(false);
    this.env.scheduler.setTimer(this.cfg.leavePropagateDelayMs, done);
  }

  shutdown(): void {
    this.stopped = true;
    this.running = false;
    this.timers.cancelAll();
    for (const s of this.suspicions.values()) s.cancel();
    this.suspicions.clear();
    for (const h of this.ackHandlers.values()) h.timer.cancel();
    this.ackHandlers.clear();
    this.highPriority = [];
    this.lowPriority = [];
  }

  setMeta(meta: Uint8Array): void {
    if (meta.length > META_MAX_BYTES) throw new SwimError('META_TOO_LARGE', `meta is ${meta.length} bytes, the limit is ${META_MAX_BYTES}`);
    const inc = this.self.incarnation + 1;
    this.aliveNode({ incarnation: inc, node: this.name, addr: this.advertiseAddr, port: this.advertise.port, meta, vsn: this.vsnBytes() }, true);
  }

  setSeeds(seeds: Address[]): void {
    this.seeds = seeds.filter((s) => !(s.host === this.advertise.host && s.port === this.advertise.port));
  }

  updateTiming(patch: Partial<Pick<SwimConfig, TimingKey>>): void {
    const pushPullChanged = patch.pushPullIntervalMs !== undefined && patch.pushPullIntervalMs !== this.cfg.pushPullIntervalMs;
    Object.assign(this.cfg, patch);
    if (patch.awarenessMaxMultiplier !== undefined) this.awareness.setMax(patch.awarenessMaxMultiplier);
    // The pending push/pull was armed for the old interval (or not at all when
    // it was 0): arm it for the new one now, or stop it, rather than at a
    // next exchange that may never come. Straight to the interval, no ramp.
    if (pushPullChanged && this.running) {
      this.timers.cancel('push-pull');
      this.pushPullRampMs = null;
      this.schedulePushPull();
    }
  }

  /** The knobs in force now (after live updates). */
  config(): Readonly<SwimConfig> {
    return this.cfg;
  }

  // ------------------------------------------------------------------ queries

  members(): MemberSnapshot[] {
    return this.list.map(snapshotOf);
  }

  member(name: string): MemberSnapshot | undefined {
    const m = this.byName.get(name);
    return m ? snapshotOf(m) : undefined;
  }

  aliveCount(): number {
    let n = 0;
    for (const m of this.list) if (m.state === 'alive') n++;
    return n;
  }

  on(listener: (ev: MemberEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Called at the start of every protocol period with how late it started
   * (a busy event loop delays the probe timer) and the period it was due after.
   */
  onProbePeriod(listener: (latenessMs: number, periodMs: number) => void): () => void {
    this.probeLatenessListeners.add(listener);
    return () => this.probeLatenessListeners.delete(listener);
  }

  healthScore(): number {
    return this.awareness.healthScore();
  }

  // ------------------------------------------------------------------ user messages and evidence

  /** Registers the user-message delegate (one at most); it returns false for payloads that are not its own. */
  onUserMessage(handler: (from: Address, payload: Uint8Array) => boolean): () => void {
    this.userHandler = handler;
    return () => {
      if (this.userHandler === handler) this.userHandler = null;
    };
  }

  /** Largest user-message payload that fits one datagram after framing and security overhead. */
  userMessageBudgetBytes(): number {
    return this.cfg.udpBufferSize - 1 - packetOverheadBytes(this.security);
  }

  /** Sends one user message (memberlist type 8) as its own datagram; false if it is too large or the node is stopped. */
  sendUserMessage(to: Address, payload: Uint8Array): boolean {
    if (this.stopped || payload.length > this.userMessageBudgetBytes()) return false;
    this.sendRaw(to, encodeMessage({ type: MessageType.User, body: { payload } }));
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
      const m = this.byName.get(name);
      if (!m) continue;
      switch (m.state) {
        case 'alive':
          out.push(encodeMessage(this.aliveOf(m)));
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
    if (this.stopped) return;
    for (const raw of messages) {
      const d = decodeMessage(raw, this.limits);
      if (!d.ok) {
        countDrop(this.stats, d.reason);
        continue;
      }
      const msg = d.value;
      if (msg.type === MessageType.Alive) this.aliveNode(msg.body, false);
      else if (msg.type === MessageType.Suspect) this.suspectNode(msg.body);
      else if (msg.type === MessageType.Dead) this.deadNode(msg.body);
      else countDrop(this.stats, 'unexpected-evidence');
    }
  }

  broadcastQueueDepth(): number {
    return this.broadcasts.size();
  }

  /** Bounds of the queues fed from the network, for invariant checks. */
  queueBounds(): { broadcasts: [number, number]; handoff: [number, number]; ackHandlers: [number, number]; members: [number, number] } {
    return {
      broadcasts: [this.broadcasts.size(), this.cfg.maxBroadcasts],
      handoff: [Math.max(this.highPriority.length, this.lowPriority.length), this.cfg.handoffQueueDepth],
      ackHandlers: [this.ackHandlers.size, this.cfg.maxAckHandlers],
      members: [this.byName.size, this.cfg.maxMembers],
    };
  }

  // ------------------------------------------------------------------ sending

  private vsnBytes(): Uint8Array {
    return Uint8Array.from([
      PROTOCOL_VERSION_MIN,
      PROTOCOL_VERSION_MAX,
      this.cfg.protocolVersion,
      this.cfg.delegateProtocolMin,
      this.cfg.delegateProtocolMax,
      this.cfg.delegateProtocolVersion,
    ]);
  }

  private nextSeq(): number {
    this.seqNo = (this.seqNo + 1) >>> 0;
    return this.seqNo;
  }

  private retransmitLimit(): number {
    return retransmitLimit(this.cfg.retransmitMult, this.estimatedMembers);
  }

  /**
   * Seals and sends one payload. CRC framing goes only on gossip and buddy
   * packets to peers that speak protocol ≥ 5: that is what memberlist does in
   * practice (its pings, acks and nacks are sent without a known peer and so
   * without CRC), and it keeps those small, frequent packets 5 bytes shorter.
   */
  private sendRaw(to: Address, payload: Uint8Array, crcPeer?: MemberRecord): void {
    if (this.stopped) return;
    const crc = crcPeer !== undefined && (crcPeer.vsn[1] ?? 0) >= 5;
    const data = sealPacket(payload, {
      crc,
      compress: false,
      security: this.security,
      random: this.env.random,
    });
    this.stats.packetsOut++;
    this.stats.bytesOut += data.length;
    this.env.packets.sendPacket(to, data);
  }

  /** Sends a message with as many queued broadcasts piggybacked as fit the packet budget. */
  private sendWithPiggyback(to: Address, msg: Uint8Array): void {
    const budget = this.cfg.udpBufferSize - msg.length - COMPOUND_HEADER_BYTES - packetOverheadBytes(this.security);
    // Take no more than the compound can carry beside `msg`: whatever is taken is counted as sent.
    const extra = budget > 0 ? this.broadcasts.take(COMPOUND_PART_OVERHEAD, budget, this.retransmitLimit(), COMPOUND_MAX_PARTS - 1) : [];
    this.sendRaw(to, extra.length === 0 ? msg : makeCompound([msg, ...extra]));
  }

  private queueBroadcast(node: string, msg: Message, onDone?: () => void): void {
    this.broadcasts.queue({ key: node, message: encodeMessage(msg), ...(onDone ? { onDone } : {}) });
  }

  private addressOf(m: MemberRecord): Address {
    return { host: m.host, port: m.port };
  }

  private replyAddress(from: Address, sourceAddr: Uint8Array | undefined, sourcePort: number | undefined): Address {
    if (sourceAddr && sourcePort) {
      const host = bytesToIp(sourceAddr);
      if (host) return { host, port: sourcePort };
    }
    return from;
  }

  // ------------------------------------------------------------------ receiving

  private onPacket(from: Address, data: Uint8Array): void {
    if (this.stopped) return;
    this.stats.packetsIn++;
    this.stats.bytesIn += data.length;
    try {
      const opened = openPacket(data, this.security, this.limits);
      if (!opened.ok) {
        countDrop(this.stats, opened.reason);
        if (this.log.isLevelEnabled('debug')) this.log.log('debug', 'packet dropped', { reason: opened.reason, detail: opened.detail });
        return;
      }
      for (const d of opened.value.drops) countDrop(this.stats, d);
      for (const msg of opened.value.messages) this.handlePacketMessage(msg, from);
    } catch (err) {
      countDrop(this.stats, 'internal-error');
      this.log.log('error', 'packet handler failed', { err: String(err) });
    }
  }

  private handlePacketMessage(msg: Message, from: Address): void {
    switch (msg.type) {
      case MessageType.Ping:
        return this.handlePing(msg.body, from);
      case MessageType.IndirectPing:
        return this.handleIndirectPing(msg.body, from);
      case MessageType.AckResp: {
        const h = this.ackHandlers.get(msg.body.seqNo);
        if (!h) return countDrop(this.stats, 'unknown-ack');
        this.ackHandlers.delete(msg.body.seqNo);
        h.timer.cancel();
        h.onAck();
        return;
      }
      case MessageType.NackResp: {
        const h = this.ackHandlers.get(msg.body.seqNo);
        if (!h) return countDrop(this.stats, 'unknown-nack');
        h.onNack();
        return;
      }
      case MessageType.Alive:
        return this.handoff(msg, true);
      case MessageType.Suspect:
      case MessageType.Dead:
        return this.handoff(msg, false);
      case MessageType.User:
        // The delegate bounds its own work; Serf's messages (not ours) are counted and dropped.
        if (this.userHandler === null || !this.userHandler(from, msg.body.payload)) countDrop(this.stats, 'user-message-ignored');
        return;
      default:
        countDrop(this.stats, 'unexpected-packet-message');
    }
  }

  /** Bounded queues between receipt and state changes; alive messages go first (they refute). */
  private handoff(msg: Message, high: boolean): void {
    const q = high ? this.highPriority : this.lowPriority;
    if (q.length >= this.cfg.handoffQueueDepth) return countDrop(this.stats, 'queue-full');
    q.push(msg);
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      this.env.scheduler.setTimer(0, () => this.drainHandoff());
    }
  }

  private drainHandoff(): void {
    this.drainScheduled = false;
    let budget = this.cfg.handoffQueueDepth * 2;
    while (!this.stopped && budget-- > 0) {
      const msg = this.highPriority.shift() ?? this.lowPriority.shift();
      if (!msg) return;
      switch (msg.type) {
        case MessageType.Alive:
          this.aliveNode(msg.body, false);
          break;
        case MessageType.Suspect:
          this.suspectNode(msg.body);
          break;
        case MessageType.Dead:
          this.deadNode(msg.body);
          break;
        default:
          break;
      }
    }
  }

  private handlePing(p: PingMsg, from: Address): void {
    if (p.node !== '' && p.node !== this.name) return countDrop(this.stats, 'wrong-node');
    const ack = encodeMessage({ type: MessageType.AckResp, body: { seqNo: p.seqNo, payload: null } });
    const to = this.replyAddress(from, p.sourceAddr, p.sourcePort);
    this.sendWithPiggyback(to, ack);
  }

  private handleIndirectPing(ind: IndirectPingMsg, from: Address): void {
    const targetHost = bytesToIp(ind.target);
    if (targetHost === null) return countDrop(this.stats, 'bad-address');
    const requester = this.replyAddress(from, ind.sourceAddr, ind.sourcePort);
    const localSeq = this.nextSeq();
    let answered = false;
    const registered = this.setAckHandler(
      localSeq,
      () => {
        answered = true;
        this.sendWithPiggyback(requester, encodeMessage({ type: MessageType.AckResp, body: { seqNo: ind.seqNo, payload: null } }));
      },
      () => {},
      this.cfg.probeTimeoutMs,
    );
    if (!registered) return;
    const ping: PingMsg = { seqNo: localSeq, node: ind.node, sourceAddr: this.advertiseAddr, sourcePort: this.advertise.port, sourceNode: this.name };
    this.sendWithPiggyback({ host: targetHost, port: ind.port }, encodeMessage({ type: MessageType.Ping, body: ping }));
    if (ind.nack) {
      this.env.scheduler.setTimer(this.cfg.probeTimeoutMs, () => {
        if (answered || this.stopped) return;
        this.sendWithPiggyback(requester, encodeMessage({ type: MessageType.NackResp, body: { seqNo: ind.seqNo } }));
      });
    }
  }

  private setAckHandler(seq: number, onAck: () => void, onNack: () => void, timeoutMs: number): boolean {
    if (this.ackHandlers.size >= this.cfg.maxAckHandlers) {
      countDrop(this.stats, 'ack-handlers-full');
      return false;
    }
    const timer = this.env.scheduler.setTimer(timeoutMs, () => this.ackHandlers.delete(seq));
    this.ackHandlers.set(seq, { onAck, onNack, timer });
    return true;
  }

  // ------------------------------------------------------------------ streams

  private onStream(from: Address, request: Uint8Array, reply: (data: Uint8Array | null) => void): void {
    if (this.stopped) return reply(null);
    const opened = openStream(request, this.security, this.limits);
    if (!opened.ok) {
      countDrop(this.stats, `stream-${opened.reason}`);
      return reply(null);
    }
    const msg = opened.value;
    switch (msg.type) {
      case MessageType.PushPull: {
        if (this.pushPullsInFlight >= this.cfg.maxConcurrentPushPulls) {
          countDrop(this.stats, 'push-pull-busy');
          return reply(this.sealForStream(encodeMessage({ type: MessageType.Err, body: { error: 'too many pending push/pull requests' } })));
        }
        const problem = this.incompatibility(msg.body.nodes);
        if (problem) {
          countDrop(this.stats, 'incompatible-protocol');
          return reply(this.sealForStream(encodeMessage({ type: MessageType.Err, body: { error: problem } })));
        }
        this.stats.pushPulls++;
        // Merging before answering puts any refutation in the reply itself, so
        // one exchange is enough to re-merge the two sides of a healed partition.
        this.mergeRemoteState(msg.body.nodes);
        return reply(this.sealForStream(this.localState(msg.body.join)));
      }
      case MessageType.Ping: {
        if (msg.body.node !== '' && msg.body.node !== this.name) {
          countDrop(this.stats, 'wrong-node');
          return reply(null);
        }
        return reply(this.sealForStream(encodeMessage({ type: MessageType.AckResp, body: { seqNo: msg.body.seqNo, payload: null } })));
      }
      case MessageType.User:
        countDrop(this.stats, 'user-message-ignored');
        return reply(null);
      default:
        countDrop(this.stats, 'unexpected-stream-message');
        return reply(null);
    }
  }

  private sealForStream(msg: Uint8Array): Uint8Array {
    return sealStream(msg, { crc: false, compress: this.cfg.enableCompression && msg.length >= COMPRESS_MIN_BYTES, security: this.security, random: this.env.random });
  }

  private localState(join: boolean): Uint8Array {
    const nodes: PushNodeState[] = [];
    for (const m of this.list) {
      if (nodes.length >= this.cfg.maxPushPullNodes) break;
      nodes.push({ name: m.name, addr: m.addr, port: m.port, meta: m.meta, incarnation: m.incarnation, state: WIRE_STATE[m.state], vsn: Uint8Array.from(m.vsn) });
    }
    return encodeMessage({ type: MessageType.PushPull, body: { join, nodes, userState: new Uint8Array(0) } });
  }

  private pushPullWith(to: Address, join: boolean, done?: (err: Error | null) => void): void {
    if (this.stopped) return done?.(new SwimError('NOT_RUNNING', 'node is shut down'));
    if (this.pushPullsInFlight >= this.cfg.maxConcurrentPushPulls) {
      countDrop(this.stats, 'push-pull-busy');
      return done?.(new SwimError('PUSH_PULL_FAILED', 'too many push/pulls in flight'));
    }
    this.pushPullsInFlight++;
    this.env.streams.request(to, this.sealForStream(this.localState(join)), true, this.cfg.tcpTimeoutMs, (err, reply) => {
      this.pushPullsInFlight--;
      if (this.stopped) return done?.(new SwimError('NOT_RUNNING', 'node is shut down'));
      if (err || !reply) {
        this.stats.pushPullFailures++;
        return done?.(err ?? new SwimError('PUSH_PULL_FAILED', 'no reply'));
      }
      const opened = openStream(reply, this.security, this.limits);
      if (!opened.ok) {
        this.stats.pushPullFailures++;
        countDrop(this.stats, `stream-${opened.reason}`);
        return done?.(new SwimError('PUSH_PULL_FAILED', `bad reply: ${opened.reason}`));
      }
      const msg = opened.value;
      if (msg.type === MessageType.Err) {
        this.stats.pushPullFailures++;
        return done?.(new SwimError('PUSH_PULL_FAILED', `remote error: ${msg.body.error}`));
      }
      if (msg.type !== MessageType.PushPull) {
        this.stats.pushPullFailures++;
        return done?.(new SwimError('PUSH_PULL_FAILED', `unexpected reply type ${msg.type}`));
      }
      const problem = this.incompatibility(msg.body.nodes);
      if (problem) {
        this.stats.pushPullFailures++;
        return done?.(new SwimError('INCOMPATIBLE_PROTOCOL', problem));
      }
      this.stats.pushPulls++;
      this.mergeRemoteState(msg.body.nodes);
      done?.(null);
    });
  }

  /** memberlist's verifyProtocol: every alive member's current versions must lie in the common range. */
  private incompatibility(remote: PushNodeState[]): string | null {
    const ranges: number[][] = [];
    for (const m of this.list) if (m.state === 'alive' && m.vsn.length >= 6) ranges.push(m.vsn);
    for (const r of remote) if (r.state === WireState.Alive && r.vsn.length >= 6) ranges.push(Array.from(r.vsn));
    if (ranges.length === 0) return null;
    const maxPMin = Math.max(...ranges.map((v) => v[0]!));
    const minPMax = Math.min(...ranges.map((v) => v[1]!));
    const maxDMin = Math.max(...ranges.map((v) => v[3]!));
    const minDMax = Math.min(...ranges.map((v) => v[4]!));
    for (const v of ranges) {
      if (v[2]! < maxPMin || v[2]! > minPMax) return `protocol version ${v[2]} outside the common range ${maxPMin}..${minPMax}`;
      if (v[5]! < maxDMin || v[5]! > minDMax) return `delegate version ${v[5]} outside the common range ${maxDMin}..${minDMax}`;
    }
    return null;
  }

  private mergeRemoteState(nodes: PushNodeState[]): void {
    for (const r of nodes) {
      switch (r.state) {
        case WireState.Alive:
          this.aliveNode({ incarnation: r.incarnation, node: r.name, addr: r.addr, port: r.port, meta: r.meta, vsn: r.vsn }, false);
          break;
        case WireState.Left:
          this.deadNode({ incarnation: r.incarnation, node: r.name, from: r.name });
          break;
        default:
          // A remote "dead" is only a suspicion here: the member gets a chance to refute.
          this.suspectNode({ incarnation: r.incarnation, node: r.name, from: this.name });
      }
    }
  }

  // ------------------------------------------------------------------ state machine (memberlist's precedence rules)

  private emit(ev: MemberEvent): void {
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (err) {
        countDrop(this.stats, 'listener-error');
        this.log.log('error', 'member event listener failed', { err: String(err) });
      }
    }
  }

  private touch(m: MemberRecord, state?: MemberState): void {
    if (state !== undefined && m.state !== state) {
      m.state = state;
      m.stateChangedAtMs = this.env.scheduler.nowMs();
      m.changeSeq++;
    }
    m.snapshot = null;
    this.viewChanges++;
    this.lastViewChangeAtMs = this.env.scheduler.nowMs();
  }

  private aliveNode(a: AliveMsg, bootstrap: boolean): void {
    if (this.leaving && a.node === this.name) return;
    if (a.vsn.length >= 3 && (a.vsn[0] === 0 || a.vsn[1] === 0 || a.vsn[0]! > a.vsn[1]!)) return countDrop(this.stats, 'bad-version');
    const host = bytesToIp(a.addr);
    if (host === null) return countDrop(this.stats, 'bad-address');
    let m = this.byName.get(a.node);
    const isLocal = a.node === this.name;
    let isNew = false;
    let updatesAddress = false;
    if (m === undefined) {
      if (this.byName.size >= this.cfg.maxMembers) return countDrop(this.stats, 'members-full');
      isNew = true;
      m = { name: a.node, host, port: a.port, addr: a.addr, meta: a.meta ?? new Uint8Array(0), incarnation: a.incarnation, state: 'dead', stateChangedAtMs: this.env.scheduler.nowMs(), vsn: Array.from(a.vsn), changeSeq: 0, snapshot: null };
      this.byName.set(a.node, m);
      this.list.push(m);
      // A random place in the probe order keeps the detection bound low on average.
      this.probeList.splice(this.env.random.int(this.probeList.length + 1), 0, m);
      this.estimatedMembers++;
      if (isLocal) this.self = m;
    } else if (!isLocal && (m.host !== host || m.port !== a.port)) {
      // Another process claims the name from another address: accept only if the old one is gone.
      if (!isDeadOrLeft(m)) return countDrop(this.stats, 'address-conflict');
      updatesAddress = true;
    }
    if (!isNew) {
      if (isLocal && a.incarnation < m.incarnation) return;
      if (!isLocal && a.incarnation <= m.incarnation && !updatesAddress) return;
    }
    this.suspicions.get(a.node)?.cancel();
    this.suspicions.delete(a.node);
    const oldState: MemberState = isNew ? 'dead' : m.state;
    const oldMeta = m.meta;
    const oldIncarnation = m.incarnation;
    if (!bootstrap && isLocal) {
      if (a.incarnation === m.incarnation && sameBytes(a.meta, m.meta) && a.vsn.length === m.vsn.length && a.vsn.every((v, i) => v === m.vsn[i])) return;
      this.refute(a.incarnation);
      return;
    }
    this.queueBroadcast(a.node, { type: MessageType.Alive, body: a });
    m.incarnation = a.incarnation;
    m.meta = a.meta ?? new Uint8Array(0);
    m.addr = a.addr;
    m.host = host;
    m.port = a.port;
    if (a.vsn.length >= 6) m.vsn = Array.from(a.vsn);
    this.touch(m, 'alive');
    const snap = snapshotOf(m);
    if (isNew || oldState === 'left') {
      this.stats.joins++;
      this.emit({ kind: 'join', member: snap });
    } else if (oldState !== 'alive') {
      this.emit({ kind: 'alive-again', member: snap });
    } else if (!sameBytes(oldMeta, m.meta) || updatesAddress || m.incarnation > oldIncarnation) {
      // Incarnation bumps are updates too: observers that derive values from the
      // whole view (the partition view version) must see every change.
      this.emit({ kind: 'update', member: snap });
    }
  }

  /** The alive message that states what this node holds about `m` (for itself: its own advertisement). */
  private aliveOf(m: MemberRecord): Message {
    return { type: MessageType.Alive, body: { incarnation: m.incarnation, node: m.name, addr: m.addr, port: m.port, meta: m.meta, vsn: Uint8Array.from(m.vsn) } };
  }

  private refute(accusedIncarnation: number): void {
    let inc = this.self.incarnation + 1;
    if (accusedIncarnation >= inc) inc = accusedIncarnation + 1;
    this.self.incarnation = inc;
    this.touch(this.self);
    this.stats.refutes++;
    this.emit({ kind: 'update', member: snapshotOf(this.self) });
    this.awareness.applyDelta(1);
    this.queueBroadcast(this.name, this.aliveOf(this.self));
    // A refutation races suspicion timers all over the cluster: send it now
    // rather than at the next gossip tick.
    if (this.running && !this.refuteGossipPending) {
      this.refuteGossipPending = true;
      this.env.scheduler.setTimer(0, () => {
        this.refuteGossipPending = false;
        this.gossipTick(false);
      });
    }
  }

  /**
   * A suspect or dead message older than what this node knows about an alive
   * member: the accuser missed a refutation (easy among the many broadcasts a
   * healed partition produces) and would keep its suspicion until it times
   * out, then declare a death nobody else believes. Send the accuser the alive
   * this node holds; if the member is this node, also re-announce it through
   * gossip (no new incarnation). memberlist ignores such messages; this only
   * repeats a fact, so it cannot move any view backwards. Bounded: one reply
   * per (accuser, member) and one re-announcement per probe interval,
   * remembered for at most 256 pairs.
   */
  private correctStaleAccusation(m: MemberRecord, accuser: string): void {
    if (m.state !== 'alive') return;
    const isSelf = m === this.self;
    if (isSelf) this.stats.staleAccusations++;
    const now = this.env.scheduler.nowMs();
    const alive = this.aliveOf(m);
    const peer = this.byName.get(accuser);
    const key = `${accuser}\u0000${m.name}`;
    const last = this.corrected.get(key) ?? -Infinity;
    if (peer && peer !== this.self && !isDeadOrLeft(peer) && now - last >= this.cfg.probeIntervalMs) {
      if (this.corrected.size >= 256) this.corrected.clear();
      this.corrected.set(key, now);
      this.sendRaw(this.addressOf(peer), encodeMessage(alive), peer);
    }
    if (isSelf && now - this.lastReassertAtMs >= this.cfg.probeIntervalMs) {
      this.lastReassertAtMs = now;
      this.queueBroadcast(this.name, alive);
    }
  }

  private suspectNode(s: SuspectMsg): void {
    const m = this.byName.get(s.node);
    if (m && s.incarnation < m.incarnation && !this.leaving) {
      this.correctStaleAccusation(m, s.from);
      return;
    }
    if (!m || s.incarnation < m.incarnation) return;
    const existing = this.suspicions.get(s.node);
    if (existing) {
      if (existing.confirm(s.from)) this.queueBroadcast(s.node, { type: MessageType.Suspect, body: s });
      return;
    }
    if (m.state !== 'alive') return;
    if (s.node === this.name) {
      this.refute(s.incarnation);
      return;
    }
    this.queueBroadcast(s.node, { type: MessageType.Suspect, body: s });
    m.incarnation = s.incarnation;
    this.touch(m, 'suspect');
    this.stats.suspicions++;
    const n = this.estimatedMembers;
    const k = expectedConfirmations(this.cfg.suspicionMult, n);
    const { minMs, maxMs } = suspicionTimeoutsMs(n, this.cfg.suspicionMult, this.cfg.suspicionMaxTimeoutMult, this.cfg.probeIntervalMs);
    const seq = m.changeSeq;
    const name = s.node;
    this.suspicions.set(
      name,
      new Suspicion(this.env.scheduler, s.from, k, minMs, maxMs, () => {
        if (this.stopped) return;
        const cur = this.byName.get(name);
        if (cur && cur.state === 'suspect' && cur.changeSeq === seq) this.deadNode({ incarnation: cur.incarnation, node: name, from: this.name });
      }),
    );
    this.emit({ kind: 'suspect', member: snapshotOf(m), from: s.from });
  }

  private deadNode(d: DeadMsg): void {
    const m = this.byName.get(d.node);
    if (m && d.incarnation < m.incarnation && d.node !== d.from && !this.leaving) {
      this.correctStaleAccusation(m, d.from);
      return;
    }
    if (!m || d.incarnation < m.incarnation) return;
    this.suspicions.get(d.node)?.cancel();
    this.suspicions.delete(d.node);
    if (isDeadOrLeft(m)) return;
    if (d.node === this.name && !this.leaving) {
      this.refute(d.incarnation);
      return;
    }
    this.queueBroadcast(d.node, { type: MessageType.Dead, body: d });
    m.incarnation = d.incarnation;
    const left = d.node === d.from;
    this.touch(m, left ? 'left' : 'dead');
    if (left) {
      this.stats.leaves++;
      this.emit({ kind: 'left', member: snapshotOf(m) });
    } else {
      this.stats.deaths++;
      this.emit({ kind: 'dead', member: snapshotOf(m), from: d.from });
    }
  }

  // ------------------------------------------------------------------ probing

  private probeTick(): void {
    if (this.stopped) return;
    const now = this.env.scheduler.nowMs();
    const latenessMs = Math.max(0, now - this.probeDueAtMs);
    const periodMs = this.awareness.scaleTimeoutMs(this.cfg.probeIntervalMs);
    this.timers.arm('probe', periodMs, () => this.probeTick());
    this.stats.probePeriods++;
    if (latenessMs > this.stats.maxProbeLatenessMs) this.stats.maxProbeLatenessMs = latenessMs;
    if (latenessMs >= this.lastPeriodMs) this.stats.missedProbePeriods += Math.floor(latenessMs / this.lastPeriodMs);
    for (const l of this.probeLatenessListeners) l(latenessMs, this.lastPeriodMs);
    this.probeDueAtMs = now + periodMs;
    this.lastPeriodMs = periodMs;
    const target = this.nextProbeTarget();
    if (target) this.probeNode(target, periodMs);
  }

  private nextProbeTarget(): MemberRecord | undefined {
    for (let checked = 0; checked <= this.probeList.length + 1; checked++) {
      if (this.probeIndex >= this.probeList.length) {
        this.resetProbeList();
        this.probeIndex = 0;
        if (this.probeList.length === 0) return undefined;
        continue;
      }
      const m = this.probeList[this.probeIndex++]!;
      if (m === this.self || isDeadOrLeft(m) || this.byName.get(m.name) !== m) continue;
      return m;
    }
    return undefined;
  }

  /** Start of a probe round: reap long-gone members, recount, reshuffle. */
  private resetProbeList(): void {
    const now = this.env.scheduler.nowMs();
    let active = 0;
    const kept: MemberRecord[] = [];
    for (const m of this.list) {
      const goneFor = now - m.stateChangedAtMs;
      const reap = m !== this.self && ((m.state === 'dead' && goneFor > this.cfg.reconnectTimeoutMs) || (m.state === 'left' && goneFor > this.cfg.gossipToTheDeadTimeMs));
      if (reap) {
        this.byName.delete(m.name);
        continue;
      }
      kept.push(m);
      if (!isDeadOrLeft(m) || goneFor <= this.cfg.gossipToTheDeadTimeMs) active++;
    }
    this.list = kept;
    this.estimatedMembers = Math.max(1, active);
    this.probeList = shuffleInPlace(kept.slice(), this.env.random);
  }

  private probeNode(target: MemberRecord, periodMs: number): void {
    const seq = this.nextSeq();
    this.stats.probes++;
    const sched = this.env.scheduler;
    const startMs = sched.nowMs();
    let acked = false;
    let nacks = 0;
    let expectedNacks = 0;
    let tcpPending = false;
    let tcpContact = false;
    let concluded = false;
    const conclude = (): void => {
      if (concluded || this.stopped) return;
      concluded = true;
      if (acked) return;
      if (tcpContact) {
        this.log.log('warn', 'reached member over TCP but not UDP; the network may be misconfigured', { member: target.name });
        this.awareness.applyDelta(-1);
        return;
      }
      this.awareness.applyDelta(expectedNacks > 0 ? Math.max(0, expectedNacks - nacks) : 1);
      this.stats.failedProbes++;
      const cur = this.byName.get(target.name);
      if (cur) this.suspectNode({ incarnation: cur.incarnation, node: cur.name, from: this.name });
    };
    const registered = this.setAckHandler(
      seq,
      () => {
        acked = true;
        this.stats.acks++;
        if (!concluded) {
          concluded = true;
          this.awareness.applyDelta(-1);
        }
      },
      () => {
        nacks++;
        this.stats.nacks++;
      },
      periodMs,
    );
    if (!registered) return;
    const ping: PingMsg = { seqNo: seq, node: target.name, sourceAddr: this.advertiseAddr, sourcePort: this.advertise.port, sourceNode: this.name };
    const pingBytes = encodeMessage({ type: MessageType.Ping, body: ping });
    if (target.state === 'alive') this.sendWithPiggyback(this.addressOf(target), pingBytes);
    else {
      // Buddy system: tell a suspect member it is suspected, so it can refute at once.
      const suspect = encodeMessage({ type: MessageType.Suspect, body: { incarnation: target.incarnation, node: target.name, from: this.name } });
      this.sendRaw(this.addressOf(target), makeCompound([pingBytes, suspect]), target);
    }
    sched.setTimer(this.cfg.probeTimeoutMs, () => {
      if (acked || concluded || this.stopped) return;
      const helpers = this.randomMembers(this.cfg.indirectChecks, (m) => m !== this.self && m !== target && m.state === 'alive');
      for (const peer of helpers) {
        const nack = (peer.vsn[1] ?? 0) >= 4;
        if (nack) expectedNacks++;
        const ind: IndirectPingMsg = { seqNo: seq, target: target.addr, port: target.port, node: target.name, nack, sourceAddr: this.advertiseAddr, sourcePort: this.advertise.port, sourceNode: this.name };
        this.stats.indirectProbes++;
        this.sendWithPiggyback(this.addressOf(peer), encodeMessage({ type: MessageType.IndirectPing, body: ind }));
      }
      if (!this.cfg.disableTcpPings && (target.vsn[1] ?? 0) >= 3) {
        const remaining = Math.max(1, startMs + periodMs - sched.nowMs());
        tcpPending = true;
        this.stats.tcpFallbackProbes++;
        this.env.streams.request(this.addressOf(target), this.sealForStream(pingBytes), true, remaining, (err, reply) => {
          tcpPending = false;
          if (!err && reply) {
            const r = openStream(reply, this.security, this.limits);
            if (r.ok && r.value.type === MessageType.AckResp && r.value.body.seqNo === seq) tcpContact = true;
          }
          if (deadlinePassed) conclude();
        });
      }
    });
    let deadlinePassed = false;
    sched.setTimer(periodMs, () => {
      deadlinePassed = true;
      // A TCP fallback still in flight decides; its own timeout ends at this deadline.
      if (!tcpPending) conclude();
    });
  }

  private randomMembers(k: number, accept: (m: MemberRecord) => boolean): MemberRecord[] {
    const out: MemberRecord[] = [];
    const n = this.list.length;
    for (let i = 0; i < 3 * n && out.length < k; i++) {
      const m = this.list[this.env.random.int(n)]!;
      if (accept(m) && !out.includes(m)) out.push(m);
    }
    return out;
  }

  // ------------------------------------------------------------------ gossip, push/pull, reconnect

  private gossipTick(reschedule = true): void {
    if (this.stopped) return;
    if (reschedule) this.timers.arm('gossip', this.cfg.gossipIntervalMs, () => this.gossipTick());
    if (this.broadcasts.size() === 0) return;
    const now = this.env.scheduler.nowMs();
    const targets = this.randomMembers(this.cfg.gossipNodes, (m) => {
      if (m === this.self) return false;
      if (m.state === 'alive' || m.state === 'suspect') return true;
      return m.state === 'dead' && now - m.stateChangedAtMs <= this.cfg.gossipToTheDeadTimeMs;
    });
    const budget = this.cfg.udpBufferSize - COMPOUND_HEADER_BYTES - packetOverheadBytes(this.security);
    for (const peer of targets) {
      const msgs = this.broadcasts.take(COMPOUND_PART_OVERHEAD, budget, this.retransmitLimit(), COMPOUND_MAX_PARTS);
      if (msgs.length === 0) return;
      this.sendRaw(this.addressOf(peer), msgs.length === 1 ? msgs[0]! : makeCompound(msgs), peer);
    }
  }

  /**
   * Push/pull runs every pushPullScaledIntervalMs, but a member that has just
   * started or joined ramps up to that from one probe interval, doubling each
   * time: a few early full-state exchanges with random members merge every
   * view within seconds instead of waiting a whole interval for gossip misses.
   * The ramp ends early once an exchange teaches nothing after a quiet ramp step.
   */
  private schedulePushPull(): void {
    if (this.stopped || this.cfg.pushPullIntervalMs <= 0) return;
    const interval = pushPullScaledIntervalMs(this.cfg.pushPullIntervalMs, this.estimatedMembers);
    let delay = interval;
    if (this.pushPullRampMs !== null && this.pushPullRampMs < interval) {
      delay = this.pushPullRampMs + this.env.random.int(Math.max(1, Math.floor(this.pushPullRampMs / 2)));
      this.pushPullRampMs *= 2;
    } else this.pushPullRampMs = null;
    this.timers.rearm('push-pull', delay, () => {
      if (this.stopped) return;
      const [peer] = this.randomMembers(1, (m) => m !== this.self && m.state === 'alive');
      if (peer) {
        const changesBefore = this.viewChanges;
        const quietForMs = delay;
        this.pushPullWith(this.addressOf(peer), false, (err) => {
          // The ramp exists to converge quickly after start and join. Once an
          // exchange teaches nothing and the view has not changed for a whole
          // ramp step, the cluster has settled around this member: go back to
          // the normal interval rather than keep exchanging full state. While
          // members are still joining the view keeps changing and the ramp
          // goes on.
          const quiet = this.env.scheduler.nowMs() - this.lastViewChangeAtMs >= quietForMs;
          if (err || this.viewChanges !== changesBefore || !quiet || this.pushPullRampMs === null) return;
          this.pushPullRampMs = null;
          this.schedulePushPull();
        });
      }
      this.schedulePushPull();
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.cfg.reconnectIntervalMs <= 0) return;
    this.timers.arm('reconnect', this.cfg.reconnectIntervalMs, () => {
      if (this.stopped) return;
      this.reconnectTick();
      this.scheduleReconnect();
    });
  }

  /** Serf-style: retry one dead member and any seed that is not an alive member, so split halves merge again. */
  private reconnectTick(): void {
    if (this.leaving) return;
    const [dead] = this.randomMembers(1, (m) => m.state === 'dead' && m !== this.self);
    if (dead) {
      this.stats.reconnects++;
      this.pushPullWith(this.addressOf(dead), false);
    }
    if (this.seeds.length > 0) {
      const missing = this.seeds.filter((s) => !this.list.some((m) => m.state === 'alive' && m.host === s.host && m.port === s.port));
      if (missing.length > 0) {
        this.stats.reconnects++;
        this.pushPullWith(missing[this.env.random.int(missing.length)]!, true);
      }
    }
  }
}
