// Datagrams over node:dgram. Oversized datagrams are dropped and counted; send
// errors are counted, never thrown into the core.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Address, PacketTransport } from '../base/env.js';

/** Connected sockets open at once for probes whose refusal is watched (each lives one probe window). */
const MAX_PROBE_SOCKETS = 64;

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
  private probeSockets = 0;
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
   * Sends from a short-lived socket connected to `to`: on a connected UDP
   * socket the kernel reports an ICMP port unreachable as ECONNREFUSED, which
   * an unconnected socket never sees. At most MAX_PROBE_SOCKETS are open at
   * once; beyond that the datagram goes out through the main socket.
   */
  sendProbe(to: Address, data: Uint8Array, windowMs: number, onRefused: () => void): void {
    if (this.probeSockets >= MAX_PROBE_SOCKETS) return this.sendPacket(to, data);
    this.counters.sent++;
    this.counters.bytesSent += data.length;
    this.counters.probeSockets++;
    this.probeSockets++;
    const socket = createSocket({ type: isIPv6(to.host) ? 'udp6' : 'udp4' });
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      this.probeSockets--;
      try {
        socket.close();
      } catch {
        // already closed
      }
    };
    const timer = setTimeout(close, Math.max(1, windowMs));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' && !closed) {
        this.counters.refused++;
        close();
        onRefused();
      } else {
        this.counters.sendErrors++;
        close();
      }
    });
    // Whatever the probed member answers goes to the main socket (the source address is in the message).
    socket.on('message', () => {});
    try {
      socket.connect(to.port, to.host, () => {
        if (closed) return;
        socket.send(data, (err) => {
          if (err && !closed) {
            this.counters.sendErrors++;
            close();
          }
        });
      });
    } catch {
      this.counters.sendErrors++;
      close();
    }
  }

  onPacket(handler: (from: Address, data: Uint8Array, at: number) => void): void {
    this.handler = handler;
  }

  close(): Promise<void> {
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
