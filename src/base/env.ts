// The protocol core does no I/O of its own and reads no clock or global
// randomness. Everything it needs from the outside world comes through these
// interfaces, so the same code runs over real sockets (src/net) and inside the
// seeded, virtual-time simulator (src/sim).

/** A network endpoint. `host` is an IPv4 dotted quad or an IPv6 address without brackets. */
export interface Address {
  readonly host: string;
  readonly port: number;
}

export interface TimerHandle {
  /** Cancels the timer; calling it after the timer fired or twice is harmless. */
  cancel(): void;
}

/** Monotonic time and one-shot timers. Real: performance.now()/setTimeout. Simulated: virtual time. */
export interface Scheduler {
  /** Milliseconds on a monotonic clock (only differences are meaningful). */
  nowMs(): number;
  /** Runs `fn` once after `delayMs` (≥ 0). Timers due at the same instant run in the order they were set. */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
}

/** The single source of randomness the core may use. Always seeded in the simulator. */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n) for n ≥ 1. */
  int(n: number): number;
  /** Fills `out` with random bytes (AES-GCM nonces). */
  fill(out: Uint8Array): void;
}

/** Best-effort datagrams (UDP in production). Bytes are fully framed wire packets. */
export interface PacketTransport {
  /** Sends one datagram; never throws (failures are counted by the transport). */
  sendPacket(to: Address, data: Uint8Array): void;
  /** Registers the single receive handler. `receivedAtMs` is on the Scheduler's clock. */
  onPacket(handler: (from: Address, data: Uint8Array, receivedAtMs: number) => void): void;
  /**
   * Optional. Sends one datagram as sendPacket does, from a socket on which the
   * destination host's refusal (ICMP port unreachable: nothing listens on that
   * port) is reported: `onRefused` runs at most once, within `windowMs`. A
   * transport without it is used through sendPacket and reports no refusals.
   * Replies still come to the main socket: the messages sent this way carry
   * their source address.
   */
  sendProbe?(to: Address, data: Uint8Array, windowMs: number, onRefused: () => void): void;
}

/** The error code a transport gives a stream the destination host refused (nothing listens on the port). */
export const REFUSED_CODE = 'ECONNREFUSED';

/** True when a stream failed because the destination host refused the connection. */
export function isRefusal(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === REFUSED_CODE;
}

/**
 * Reliable request/response exchanges (TCP in production). memberlist's stream
 * protocol is "connect, write one message, optionally read one message, close",
 * so the core sees it as a request with an optional single reply.
 * The transport finds message boundaries with wire/stream-frame.ts.
 */
export interface StreamTransport {
  /**
   * Opens a stream to `to`, writes `request`, and if `expectReply` reads exactly one
   * framed message back. `done` is called exactly once: with the reply bytes
   * (empty when no reply was expected) or with an Error (timeout, refused, reset,
   * oversized, malformed). Never throws synchronously.
   */
  request(
    to: Address,
    request: Uint8Array,
    expectReply: boolean,
    timeoutMs: number,
    done: (err: Error | null, reply: Uint8Array | null) => void,
  ): void;
  /**
   * Registers the single handler for inbound streams. The handler gets the one
   * framed request and calls `reply` once: with bytes to write back, or null to
   * just close the stream.
   */
  onRequest(handler: (from: Address, request: Uint8Array, reply: (data: Uint8Array | null) => void) => void): void;
}

/** Structured logging hook; the core never formats strings on hot paths unless the level is enabled. */
export interface CoreLogger {
  isLevelEnabled(level: 'trace' | 'debug' | 'info' | 'warn' | 'error'): boolean;
  log(level: 'trace' | 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: CoreLogger = {
  isLevelEnabled: () => false,
  log: () => {},
};

/** Everything the core needs from the world. */
export interface CoreEnv {
  scheduler: Scheduler;
  random: Random;
  packets: PacketTransport;
  streams: StreamTransport;
  logger?: CoreLogger;
}

export function formatAddress(a: Address): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
