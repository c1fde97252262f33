// Streams over node:net: connect, write one framed message, optionally read one
// back, close. Message boundaries come from the wire layer (streamFrameLength),
// since plaintext memberlist streams have no length prefix. Bounded: concurrent
// inbound connections, bytes per connection, and time per connection.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Address, StreamTransport } from '../base/env.js';
import type { WireLimits } from '../wire/limits.js';
import { PLAINTEXT } from '../wire/packet.js';
import { streamFrameLength } from '../wire/stream.js';

export interface TcpOptions {
  bind: Address;
  limits: WireLimits;
  /** Inbound connections served at once; more are closed at accept and counted. */
  maxInboundStreams: number;
  /** Time an inbound connection may take to deliver its message. */
  inboundTimeoutMs: number;
}

export class TcpTransport implements StreamTransport {
  readonly counters = { inbound: 0, inboundRejected: 0, inboundBad: 0, inboundTimeouts: 0, outbound: 0, outboundErrors: 0, bytesSent: 0, bytesReceived: 0 };
  private handler: ((from: Address, req: Uint8Array, reply: (d: Uint8Array | null) => void) => void) | null = null;
  private active = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly opts: TcpOptions,
  ) {}

  static open(opts: TcpOptions): Promise<TcpTransport> {
    const server = createServer();
    const t = new TcpTransport(server, opts);
    server.on('connection', (s) => t.accept(s));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.bind.port, opts.bind.host, () => {
        server.removeListener('error', reject);
        server.on('error', () => {});
        resolve(t);
      });
    });
  }

  /** The bound address (the port is the real one when 0 was asked for). */
  address(): Address {
    const a = this.server.address();
    if (a === null || typeof a === 'string') return this.opts.bind;
    return { host: a.address, port: a.port };
  }

  onRequest(handler: (from: Address, req: Uint8Array, reply: (d: Uint8Array | null) => void) => void): void {
    this.handler = handler;
  }

  request(to: Address, request: Uint8Array, expectReply: boolean, timeoutMs: number, done: (err: Error | null, reply: Uint8Array | null) => void): void {
    this.counters.outbound++;
    let finished = false;
    const socket = connect({ host: to.host, port: to.port });
    this.sockets.add(socket);
    const finish = (err: Error | null, reply: Uint8Array | null): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      this.sockets.delete(socket);
      if (err) this.counters.outboundErrors++;
      done(err, reply);
    };
    const timer = setTimeout(() => finish(new Error(`stream to ${to.host}:${to.port} timed out after ${timeoutMs} ms`), null), Math.max(1, timeoutMs));
    socket.on('error', (err) => finish(err, null));
    socket.on('connect', () => {
      this.counters.bytesSent += request.length;
      socket.write(request);
      if (!expectReply) {
        socket.end(() => finish(null, new Uint8Array(0)));
      }
    });
    if (expectReply) {
      this.readOne(socket, (err, msg) => finish(err, msg));
      socket.on('end', () => finish(new Error('stream closed before a full reply'), null));
    }
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    if (this.active >= this.opts.maxInboundStreams) {
      this.counters.inboundRejected++;
      socket.destroy();
      return;
    }
    this.active++;
    this.counters.inbound++;
    this.sockets.add(socket);
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      this.active--;
      clearTimeout(timer);
      this.sockets.delete(socket);
      socket.destroy();
    };
    const timer = setTimeout(() => {
      this.counters.inboundTimeouts++;
      close();
    }, this.opts.inboundTimeoutMs);
    socket.on('error', close);
    socket.on('close', close);
    const from: Address = { host: (socket.remoteAddress ?? '').replace(/^::ffff:/, ''), port: socket.remotePort ?? 0 };
    this.readOne(socket, (err, msg) => {
      if (err || !msg || !this.handler) {
        this.counters.inboundBad++;
        return close();
      }
      let replied = false;
      this.handler(from, msg, (data) => {
        if (replied || closed) return;
        replied = true;
        if (data === null) return close();
        this.counters.bytesSent += data.length;
        socket.end(data, () => close());
      });
    });
  }

  /** Reads until one framed message is complete; errors on garbage or oversize. */
  private readOne(socket: Socket, cb: (err: Error | null, msg: Uint8Array | null) => void): void {
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      this.counters.bytesReceived += chunk.length;
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      // The label header and encryption are checked by the core; framing only needs their shape.
      const probe = streamFrameLength(buf, PLAINTEXT, this.opts.limits);
      if ('incomplete' in probe) return;
      done = true;
      if ('error' in probe) return cb(new Error(`bad stream: ${probe.error} (${probe.detail})`), null);
      cb(null, new Uint8Array(buf.buffer, buf.byteOffset, probe.complete));
    });
  }
}
