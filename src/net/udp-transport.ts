// Datagrams over node:dgram. Oversized datagrams are dropped and counted; send
// errors are counted, never thrown into the core.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Address, PacketTransport } from '../base/env.js';

/** Connected probe sockets open at once, one per probed peer; beyond that the least recently used is closed. */
const MAX_PROBE_SOCKETS = 64;
/** A probe socket unused this long is closed at the next probe (a peer probed again opens a new one). */
const PROBE_SOCKET_IDLE_MS = 120_000;
/** Datagrams held while a probe socket connects. */
const MAX_PENDING_PER_SOCKET = 8;

/** A socket connected to one peer: its refusals (ECONNREFUSED) answer the probes whose window is still open. */
interface ProbeSocket {
  readonly socket: Socket;
  connected: boolean;
  closed: boolean;
  lastUsedMs: number;
  /** Datagrams sent before the connect finished. */
  readonly pending: Uint8Array[];
  /** The last probe sent on it: a refusal is the answer to the latest datagram, an earlier probe's is never guessed. */
  watch: { untilMs: number; onRefused: () => void } | null;
}

export interface UdpOptions {
  bind: Address;
  /** Largest datagram accepted; bigger ones are dropped as 'oversized'. */
  maxPacketBytes: number;
  recvBufferBytes?: number;
  sendBufferBytes?: number;
  now: () => number;
}

export class UdpTransport implements PacketTransport {
  readonly counters = { sent: 0, sendErrors: 0, received: 0, oversized: 0, bytesSent: 0, bytesReceived: 0, probeSockets: 0, refused: 0 };
  private readonly probeSockets = new Map<string, ProbeSocket>();
  private handler: ((from: Address, data: Uint8Array, at: number) => void) | null = null;
  private constructor(
    private readonly socket: Socket,
    private readonly opts: UdpOptions,
  ) {}

  static open(opts: UdpOptions): Promise<UdpTransport> {
    const socket = createSocket({ type: isIPv6(opts.bind.host) ? 'udp6' : 'udp4', reuseAddr: false });
    const t = new UdpTransport(socket, opts);
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(opts.bind.port, opts.bind.host, () => {
        socket.removeListener('error', reject);
        socket.on('error', () => t.counters.sendErrors++);
        if (opts.recvBufferBytes) socket.setRecvBufferSize(opts.recvBufferBytes);
        if (opts.sendBufferBytes) socket.setSendBufferSize(opts.sendBufferBytes);
        socket.on('message', (msg, rinfo) => t.receive(msg, rinfo.address, rinfo.port));
        resolve(t);
      });
    });
  }

  /** The bound address (the port is the real one when 0 was asked for). */
  address(): Address {
    const a = this.socket.address();
    return { host: a.address, port: a.port };
  }

  sendPacket(to: Address, data: Uint8Array): void {
    this.counters.sent++;
    this.counters.bytesSent += data.length;
    try {
      this.socket.send(data, to.port, to.host, (err) => {
        if (err) this.counters.sendErrors++;
      });
    } catch {
      this.counters.sendErrors++;
    }
  }

  /**
   * Sends from a socket connected to `to`: on a connected UDP socket the
   * kernel reports an ICMP port unreachable as ECONNREFUSED, which an
   * unconnected socket never sees. The socket is kept for the next probe of
   * the same peer (opening, connecting and closing one per probe cost
   * syscalls and a timer wake-up each time); a refusal answers the last
   * probe sent on it, if its window is still open, and closes it.
   */
  sendProbe(to: Address, data: Uint8Array, windowMs: number, onRefused: () => void): void {
    const nowMs = this.opts.now();
    this.closeIdleProbeSockets(nowMs);
    const key = `${to.host}|${to.port}`;
    let ps = this.probeSockets.get(key);
    if (ps === undefined) {
      if (this.probeSockets.size >= MAX_PROBE_SOCKETS) this.closeProbeSocket(this.probeSockets.keys().next().value!);
      try {
        ps = this.openProbeSocket(key, to);
      } catch {
        return this.sendPacket(to, data);
      }
    } else {
      // Map order is use order: the first entry is the least recently used.
      this.probeSockets.delete(key);
      this.probeSockets.set(key, ps);
    }
    ps.lastUsedMs = nowMs;
    ps.watch = { untilMs: nowMs + Math.max(1, windowMs), onRefused };
    this.counters.sent++;
    this.counters.bytesSent += data.length;
    if (ps.connected) this.sendOn(key, ps, data);
    else if (ps.pending.length < MAX_PENDING_PER_SOCKET) ps.pending.push(data);
    else this.counters.sendErrors++;
  }

  private openProbeSocket(key: string, to: Address): ProbeSocket {
    const socket = createSocket({ type: isIPv6(to.host) ? 'udp6' : 'udp4' });
    const ps: ProbeSocket = { socket, connected: false, closed: false, lastUsedMs: 0, pending: [], watch: null };
    this.probeSockets.set(key, ps);
    this.counters.probeSockets++;
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (ps.closed) return;
      if (err.code === 'ECONNREFUSED') {
        const w = ps.watch;
        this.closeProbeSocket(key);
        if (w !== null && w.untilMs >= this.opts.now()) {
          this.counters.refused++;
          w.onRefused();
        }
      } else {
        this.counters.sendErrors++;
        this.closeProbeSocket(key);
      }
    });
    // Whatever the probed member answers goes to the main socket (the source address is in the message).
    socket.on('message', () => {});
    try {
      socket.connect(to.port, to.host, () => {
        if (ps.closed) return;
        ps.connected = true;
        for (const d of ps.pending.splice(0)) this.sendOn(key, ps, d);
      });
    } catch (err) {
      this.closeProbeSocket(key);
      throw err;
    }
    return ps;
  }

  private sendOn(key: string, ps: ProbeSocket, data: Uint8Array): void {
    try {
      ps.socket.send(data, (err) => {
        if (err && !ps.closed) {
          this.counters.sendErrors++;
          this.closeProbeSocket(key);
        }
      });
    } catch {
      this.counters.sendErrors++;
      this.closeProbeSocket(key);
    }
  }

  private closeProbeSocket(key: string): void {
    const ps = this.probeSockets.get(key);
    if (ps === undefined) return;
    this.probeSockets.delete(key);
    ps.closed = true;
    try {
      ps.socket.close();
    } catch {
      // already closed
    }
  }

  private closeIdleProbeSockets(nowMs: number): void {
    for (const [key, ps] of this.probeSockets) {
      if (nowMs - ps.lastUsedMs < PROBE_SOCKET_IDLE_MS) break;
      this.closeProbeSocket(key);
    }
  }

  /** Probe sockets open now (one per recently probed peer). */
  openProbeSockets(): number {
    return this.probeSockets.size;
  }

  onPacket(handler: (from: Address, data: Uint8Array, at: number) => void): void {
    this.handler = handler;
  }

  close(): Promise<void> {
    for (const key of [...this.probeSockets.keys()]) this.closeProbeSocket(key);
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  private receive(msg: Buffer, host: string, port: number): void {
    this.counters.received++;
    this.counters.bytesReceived += msg.length;
    if (msg.length > this.opts.maxPacketBytes) {
      this.counters.oversized++;
      return;
    }
    this.handler?.({ host: host.startsWith('::ffff:') ? host.slice(7) : host, port }, new Uint8Array(msg.buffer, msg.byteOffset, msg.length), this.opts.now());
  }
}
