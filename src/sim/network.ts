// A simulated network on virtual time: per-link loss, delay, jitter and
// duplication (reordering follows from jitter), partitions (symmetric or one
// way), paused and crashed hosts. It moves opaque bytes; the members seal and
// open them with the real codec.
import { REFUSED_CODE, type Address, type PacketTransport, type StreamTransport } from '../base/env.js';
import type { SeededRandom } from '../core/prng.js';
import type { MemberScheduler } from './member-scheduler.js';
import type { VirtualScheduler } from './virtual-scheduler.js';

export interface LinkProfile {
  /** Probability in [0, 1] that a datagram, or one leg (request or reply) of a stream exchange, is lost. */
  loss: number;
  delayMs: number;
  /** Extra uniform random delay in [0, jitterMs). */
  jitterMs: number;
  /** Probability in [0, 1] that a datagram arrives twice. */
  duplicate: number;
}

export const DEFAULT_LINK: LinkProfile = Object.freeze({ loss: 0, delayMs: 1, jitterMs: 2, duplicate: 0 });

interface Endpoint {
  address: Address;
  key: string;
  scheduler: MemberScheduler;
  generation: number;
  crashed: boolean;
  /** Crashed process on a host that is still up: the host refuses what comes to the port. */
  refuses: boolean;
  packetHandler: ((from: Address, data: Uint8Array, at: number) => void) | null;
  streamHandler: ((from: Address, req: Uint8Array, reply: (d: Uint8Array | null) => void) => void) | null;
  heldPackets: (() => void)[];
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  lost: number;
  blocked: number;
  duplicated: number;
  overflow: number;
  /** Refusals (port unreachable) delivered back to a prober. */
  refused: number;
  bytes: number;
}

function keyOf(a: Address): string {
  return `${a.host}:${a.port}`;
}

export class SimNetwork {
  readonly stats: NetworkStats = { sent: 0, delivered: 0, lost: 0, blocked: 0, duplicated: 0, overflow: 0, refused: 0, bytes: 0 };
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly links = new Map<string, LinkProfile>();
  private readonly blocked = new Set<string>();
  /** Links that drop only datagrams, or only streams (a firewall that filters UDP and passes TCP, or the reverse). */
  private readonly blockedDatagrams = new Set<string>();
  private readonly blockedStreams = new Set<string>();
  private readonly rejecting = new Set<string>();
  private defaultLink: LinkProfile = { ...DEFAULT_LINK };
  private inFlight = 0;

  constructor(
    private readonly clock: VirtualScheduler,
    private readonly random: SeededRandom,
    /** Bound on datagrams in flight at once; more are dropped and counted. */
    readonly maxInFlight = 1_000_000,
  ) {}

  inFlightCount(): number {
    return this.inFlight;
  }

  setDefaultLink(p: Partial<LinkProfile>): void {
    this.defaultLink = { ...this.defaultLink, ...p };
  }

  setLink(from: Address, to: Address, p: Partial<LinkProfile>): void {
    this.links.set(`${keyOf(from)}>${keyOf(to)}`, { ...this.linkOf(from, to), ...p });
  }

  /** Blocks everything from any address in `from` to any in `to` (one way). */
  block(from: Address[], to: Address[]): void {
    for (const a of from) for (const b of to) this.blocked.add(`${keyOf(a)}>${keyOf(b)}`);
  }

  /** Blocks only datagrams (UDP) from `from` to `to`, one way; streams still pass. */
  blockDatagrams(from: Address[], to: Address[]): void {
    for (const a of from) for (const b of to) this.blockedDatagrams.add(`${keyOf(a)}>${keyOf(b)}`);
  }

  /** Blocks only streams (TCP) from `from` to `to`, one way (either leg of an exchange); datagrams still pass. */
  blockStreams(from: Address[], to: Address[]): void {
    for (const a of from) for (const b of to) this.blockedStreams.add(`${keyOf(a)}>${keyOf(b)}`);
  }

  unblockAll(): void {
    this.blocked.clear();
    this.blockedDatagrams.clear();
    this.blockedStreams.clear();
    this.rejecting.clear();
  }

  /** A firewall at `to` rejects inbound datagrams (each answered with port unreachable); streams pass. */
  rejectDatagramsTo(to: Address): void {
    this.rejecting.add(keyOf(to));
  }

  /** Attaches (or re-attaches after a restart) a host; returns its transports. */
  attach(address: Address, scheduler: MemberScheduler): { packets: PacketTransport; streams: StreamTransport } {
    const key = keyOf(address);
    const prev = this.endpoints.get(key);
    const ep: Endpoint = { address, key, scheduler, generation: (prev?.generation ?? 0) + 1, crashed: false, refuses: false, packetHandler: null, streamHandler: null, heldPackets: [] };
    this.endpoints.set(key, ep);
    const packets: PacketTransport = {
      sendPacket: (to, data) => this.sendPacket(ep, to, data),
      sendProbe: (to, data, windowMs, onRefused) => this.sendPacket(ep, to, data, windowMs, onRefused),
      onPacket: (h) => {
        ep.packetHandler = h;
      },
    };
    const streams: StreamTransport = {
      request: (to, req, expectReply, timeoutMs, done) => this.request(ep, to, req, expectReply, timeoutMs, done),
      onRequest: (h) => {
        ep.streamHandler = h;
      },
    };
    return { packets, streams };
  }

  /**
   * The process at `address` stops. With `hostStaysUp` (a kill -9 on a live
   * host) the host refuses what comes to the port afterwards, as a kernel does
   * with ICMP port unreachable and TCP resets; otherwise (the host itself is
   * gone) everything sent there just vanishes.
   */
  crash(address: Address, hostStaysUp = false): void {
    const ep = this.endpoints.get(keyOf(address));
    if (ep) {
      ep.crashed = true;
      ep.refuses = hostStaysUp;
      ep.heldPackets = [];
      ep.scheduler.kill();
    }
  }

  /** Delivers the packets a paused host missed, then its due timers. */
  resume(address: Address, timersFirst = false): void {
    const ep = this.endpoints.get(keyOf(address));
    if (!ep) return;
    ep.scheduler.resume(() => {
      const held = ep.heldPackets;
      ep.heldPackets = [];
      for (const deliver of held) deliver();
    }, timersFirst);
  }

  private linkOf(from: Address, to: Address): LinkProfile {
    return this.links.get(`${keyOf(from)}>${keyOf(to)}`) ?? this.defaultLink;
  }

  private isBlocked(from: Address, to: Address, only?: Set<string>): boolean {
    if (this.blocked.size === 0 && (only === undefined || only.size === 0)) return false;
    const key = `${keyOf(from)}>${keyOf(to)}`;
    return this.blocked.has(key) || (only !== undefined && only.has(key));
  }

  private delayOf(link: LinkProfile): number {
    return link.delayMs + (link.jitterMs > 0 ? this.random.next() * link.jitterMs : 0);
  }

  private sendPacket(src: Endpoint, to: Address, data: Uint8Array, windowMs = 0, onRefused?: () => void): void {
    if (src.crashed) return;
    this.stats.sent++;
    this.stats.bytes += data.length;
    if (this.isBlocked(src.address, to, this.blockedDatagrams)) {
      this.stats.blocked++;
      return;
    }
    const link = this.linkOf(src.address, to);
    const copies = link.duplicate > 0 && this.random.next() < link.duplicate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      if (link.loss > 0 && this.random.next() < link.loss) {
        this.stats.lost++;
        continue;
      }
      if (this.inFlight >= this.maxInFlight) {
        this.stats.overflow++;
        continue;
      }
      this.inFlight++;
      const from = src.address;
      this.clock.setTimer(this.delayOf(link), () => {
        this.inFlight--;
        const dst = this.endpoints.get(keyOf(to));
        if (this.rejecting.size > 0 && this.rejecting.has(keyOf(to))) {
          this.stats.blocked++;
          if (onRefused) this.refuse(to, src, windowMs, onRefused);
          return;
        }
        if (dst && dst.crashed && dst.refuses && onRefused) return this.refuse(to, src, windowMs, onRefused);
        if (!dst || dst.crashed || !dst.packetHandler) return;
        const deliver = (): void => {
          this.stats.delivered++;
          dst.packetHandler?.(from, data, this.clock.nowMs());
        };
        if (dst.scheduler.isPaused()) dst.heldPackets.push(deliver);
        else deliver();
      });
    }
  }

  /** The refusal travels back like a datagram (loss, delay, partitions) and counts only within the window. */
  private refuse(host: Address, src: Endpoint, windowMs: number, onRefused: () => void): void {
    if (!this.streamLegPasses(host, src.address)) return;
    const sentAt = this.clock.nowMs();
    this.clock.setTimer(this.delayOf(this.linkOf(host, src.address)), () => {
      if (src.crashed || this.isBlocked(host, src.address) || this.clock.nowMs() - sentAt > windowMs) return;
      this.stats.refused++;
      src.scheduler.setTimer(0, onRefused);
    });
  }

  /** Counts one stream leg and decides whether it gets through (not blocked, not lost). */
  private streamLegPasses(from: Address, to: Address): boolean {
    this.stats.sent++;
    if (this.isBlocked(from, to, this.blockedStreams)) {
      this.stats.blocked++;
      return false;
    }
    const link = this.linkOf(from, to);
    if (link.loss > 0 && this.random.next() < link.loss) {
      this.stats.lost++;
      return false;
    }
    return true;
  }

  private request(src: Endpoint, to: Address, req: Uint8Array, expectReply: boolean, timeoutMs: number, done: (err: Error | null, reply: Uint8Array | null) => void): void {
    let finished = false;
    const finish = (err: Error | null, reply: Uint8Array | null): void => {
      if (finished) return;
      finished = true;
      timer.cancel();
      // The caller's callbacks run on its own (pausable) clock.
      src.scheduler.setTimer(0, () => done(err, reply));
    };
    const timer = this.clock.setTimer(timeoutMs, () => finish(new Error('stream timeout'), null));
    if (src.crashed) return;
    // Each leg of the exchange (request, reply) meets the link's partition and
    // loss like a datagram: a connection that cannot get through is, to the
    // caller, one that times out.
    if (!this.streamLegPasses(src.address, to)) return;
    const link = this.linkOf(src.address, to);
    this.clock.setTimer(this.delayOf(link), () => {
      if (finished) return;
      const dst = this.endpoints.get(keyOf(to));
      if (this.isBlocked(src.address, to, this.blockedStreams)) return; // blocked while connecting: the timeout decides
      if (!dst || dst.crashed || !dst.streamHandler) {
        // Only a host known to be up (the process crashed, or never listened)
        // says so with a refusal code; otherwise the stream just fails.
        const err = new Error('connection refused');
        finish(dst && (dst.refuses || !dst.crashed) ? Object.assign(err, { code: REFUSED_CODE }) : err, null);
        return;
      }
      const generation = dst.generation;
      const handle = (): void => {
        let replied = false;
        dst.streamHandler?.(src.address, req, (data) => {
          if (replied) return;
          replied = true;
          if (!expectReply) return finish(null, new Uint8Array(0));
          if (data === null) return finish(new Error('stream closed without a reply'), null);
          if (!this.streamLegPasses(to, src.address)) return;
          this.clock.setTimer(this.delayOf(this.linkOf(to, src.address)), () => {
            if (this.isBlocked(to, src.address, this.blockedStreams)) return;
            const cur = this.endpoints.get(keyOf(to));
            if (!cur || cur.generation !== generation || cur.crashed) return finish(new Error('connection reset'), null);
            finish(null, data);
          });
        });
      };
      if (dst.scheduler.isPaused()) dst.heldPackets.push(handle);
      else handle();
    });
  }
}
