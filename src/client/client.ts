// Typed client for the local API (used by the CLI and by applications).
import { request } from 'node:http';
import type { MemberView, PartitionsView, PartitionView, WatchFormat, WatchLine } from '../api/views.js';
import { SwimdError } from '../base/errors.js';
import { CompactLineError, decodeCompactPartitions, isCompactPartitions } from './compact.js';

/** Levels a monitor stream can ask for. */
export type MonitorLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export class ClientError extends SwimdError {
  constructor(
    message: string,
    code: string,
    readonly status?: number,
  ) {
    super(code, message);
  }
}

export interface ClientSession {
  readonly id: string;
  /** Resolves with why the session ended (closed, expired, disconnected, shutdown). */
  readonly ended: Promise<string>;
  close(): void;
}

/** How to open a watch stream. */
export interface WatchOptions {
  /**
   * `compact` (what the CLI uses): partitions lines arrive packed, a few bytes per changed
   * partition, and are decoded here into the same `partitions` lines (with `columns`, and
   * `changed` made on first read). `full` (the default): every changed partition as JSON.
   */
  format?: WatchFormat;
  signal?: AbortSignal;
}

/** Largest response body or watch line the client reads (a snapshot of 65,536 partitions is about 5 MB). */
export const CLIENT_MAX_READ_BYTES = 64 * 1024 * 1024;

export class SwimdClient {
  constructor(
    readonly socketPath: string,
    /** Bound on one response body and on one watch line, in bytes. */
    readonly maxReadBytes = CLIENT_MAX_READ_BYTES,
  ) {}

  /** One request; resolves with the status and the body as text. */
  private raw(method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
    const payload = body === undefined ? null : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const headers = payload === null ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
      // A fresh connection per request (cheap on a Unix socket): a kept-alive one can be closed by the
      // daemon's idle timeout just as it is reused, which fails the request with EPIPE or ECONNRESET.
      const req = request({ socketPath: this.socketPath, path, method, timeout: 10_000, headers, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
          if (body.length > this.maxReadBytes) req.destroy(new ClientError(`response over ${this.maxReadBytes} bytes`, 'RESPONSE_TOO_LARGE'));
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 500, body }));
      });
      req.on('timeout', () => req.destroy(new ClientError('request timed out', 'TIMEOUT')));
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(err instanceof ClientError ? err : new ClientError(`cannot reach swimd at ${this.socketPath}: ${err.code ?? err.message}`, 'UNREACHABLE')),
      );
      req.end(payload ?? undefined);
    });
  }

  private async call<T>(method: string, path: string, payload?: unknown): Promise<T> {
    const { status, body } = await this.raw(method, path, payload);
    let parsed: unknown;
    try {
      parsed = body ? JSON.parse(body) : null;
    } catch {
      throw new ClientError(`bad JSON from the daemon: ${body.slice(0, 200)}`, 'BAD_RESPONSE', status);
    }
    if (status >= 400 && !(path === '/v1/health')) {
      const e = parsed as { error?: string; code?: string } | null;
      throw new ClientError(e?.error ?? `HTTP ${status}`, e?.code ?? 'HTTP_ERROR', status);
    }
    return parsed as T;
  }

  /** The Prometheus text exposition from /metrics. */
  async metrics(): Promise<string> {
    const { status, body } = await this.raw('GET', '/metrics');
    if (status >= 400) throw new ClientError(`HTTP ${status} from /metrics`, 'HTTP_ERROR', status);
    return body;
  }

  /**
   * Every sample from /metrics in one scrape, keyed as exposed (`name` or
   * `name{labels}`), so related series (a histogram's buckets and count) agree.
   */
  async metricSamples(): Promise<Map<string, number>> {
    const samples = new Map<string, number>();
    for (const line of (await this.metrics()).split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const at = line.lastIndexOf(' ');
      if (at > 0) samples.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
    return samples;
  }

  self(): Promise<Record<string, unknown>> {
    return this.call('GET', '/v1/self');
  }
  async members(): Promise<MemberView[]> {
    return (await this.call<{ members: MemberView[] }>('GET', '/v1/members')).members;
  }
  partitions(): Promise<PartitionsView> {
    return this.call('GET', '/v1/partitions');
  }
  partition(id: number): Promise<PartitionView & { viewVersion: number; quorum: string }> {
    return this.call('GET', `/v1/partitions/${id}`);
  }
  owned(): Promise<{ name: string; quorum: string; primary: number[]; replica: number[]; tokens: Record<string, number> }> {
    return this.call('GET', '/v1/owned');
  }
  health(): Promise<Record<string, unknown>> {
    return this.call('GET', '/v1/health');
  }
  leave(): Promise<{ leaving: boolean }> {
    return this.call('POST', '/v1/leave');
  }
  /** This member's keyring, the primary first. */
  async keys(): Promise<{ key: string; primary: boolean }[]> {
    return (await this.call<{ keys: { key: string; primary: boolean }[] }>('GET', '/v1/keys')).keys;
  }
  /** Installs, makes primary (use) or removes one base64 key; resolves with the keyring after the change. */
  async changeKey(op: 'install' | 'use' | 'remove', key: string): Promise<{ key: string; primary: boolean }[]> {
    const method = op === 'install' ? 'POST' : op === 'use' ? 'PUT' : 'DELETE';
    return (await this.call<{ keys: { key: string; primary: boolean }[] }>(method, '/v1/keys', { key })).keys;
  }
  /** Sets and removes this member's tags in one change (spread as a new incarnation). */
  async setTags(set: Record<string, string>, unset: string[] = []): Promise<Record<string, string>> {
    return (await this.call<{ tags: Record<string, string> }>('PUT', '/v1/self/tags', { set, unset })).tags;
  }

  /**
   * Opens an application session (see src/api/session.ts): the daemon keeps this
   * member eligible for primary (with partitions.requireSession) while the
   * session lives. A byte is sent every ttl/3; close() ends the session.
   */
  session(ttlMs = 1000): Promise<ClientSession> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, path: `/v1/session?ttl=${ttlMs}ms`, method: 'POST', headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } });
      let beat: NodeJS.Timeout | null = null;
      let endedResolve!: (reason: string) => void;
      const ended = new Promise<string>((r) => (endedResolve = r));
      const stop = (reason: string): void => {
        if (beat) clearInterval(beat);
        beat = null;
        endedResolve(reason);
      };
      req.on('error', (err: NodeJS.ErrnoException) => {
        stop(`error: ${err.code ?? err.message}`);
        reject(new ClientError(`cannot open a session at ${this.socketPath}: ${err.code ?? err.message}`, 'UNREACHABLE'));
      });
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => {
            stop('refused');
            reject(new ClientError(`session refused: HTTP ${res.statusCode} ${body.slice(0, 200)}`, 'SESSION_REFUSED', res.statusCode));
          });
          return;
        }
        let buf = '';
        let opened = false;
        res.on('data', (c: Buffer) => {
          // Bounded: the daemon sends two short lines per session.
          buf = (buf + c.toString()).slice(-4096);
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = JSON.parse(buf.slice(0, nl)) as { type: string; id: string; reason?: string };
            buf = buf.slice(nl + 1);
            if (line.type === 'session' && !opened) {
              opened = true;
              resolve({ id: line.id, ended, close: () => req.end() });
            } else if (line.type === 'ended') stop(line.reason ?? 'ended');
          }
        });
        res.on('close', () => stop('disconnected'));
      });
      req.write('\n');
      beat = setInterval(() => req.write('\n'), Math.max(30, Math.floor(ttlMs / 3)));
    });
  }

  /** The watch stream: first a snapshot, then one line per change, until the signal aborts or the daemon closes it. */
  async *watch(options?: AbortSignal | WatchOptions): AsyncGenerator<WatchLine> {
    const { signal, format = 'full' } = options instanceof AbortSignal ? { signal: options } : (options ?? {});
    const path = format === 'full' ? '/v1/watch' : `/v1/watch?format=${encodeURIComponent(format)}`;
    for await (const text of this.lines(path, signal)) {
      const line = JSON.parse(text) as unknown;
      if (!isCompactPartitions(line)) {
        yield line as WatchLine;
        continue;
      }
      try {
        yield decodeCompactPartitions(line);
      } catch (err) {
        if (err instanceof CompactLineError) throw new ClientError(err.message, 'BAD_RESPONSE');
        throw err;
      }
    }
  }

  /**
   * The daemon's log from now on (GET /v1/monitor), one pino JSON line at a
   * time, at `level` and above, until `signal` aborts or the daemon closes it.
   * A reader too slow for the daemon misses lines and is told how many.
   */
  async *monitor(level: MonitorLevel = 'info', signal?: AbortSignal): AsyncGenerator<string> {
    yield* this.lines(`/v1/monitor?level=${encodeURIComponent(level)}`, signal);
  }

  /** NDJSON lines of a streaming GET, each at most maxReadBytes long. */
  private async *lines(path: string, signal?: AbortSignal): AsyncGenerator<string> {
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, path, method: 'GET', ...(signal ? { signal } : {}) }, resolve);
      req.on('error', (err: NodeJS.ErrnoException) => reject(new ClientError(`cannot reach swimd at ${this.socketPath}: ${err.code ?? err.message}`, 'UNREACHABLE')));
      req.end();
    });
    if ((res.statusCode ?? 500) >= 400) {
      let body = '';
      for await (const c of res) body = (body + c.toString()).slice(0, 4096);
      let e: { error?: string; code?: string } | null = null;
      try {
        e = JSON.parse(body) as { error?: string; code?: string };
      } catch {
        // not JSON: report the status
      }
      throw new ClientError(e?.error ?? `HTTP ${res.statusCode}`, e?.code ?? 'HTTP_ERROR', res.statusCode);
    }
    let buf = '';
    try {
      for await (const chunk of res) {
        buf += chunk.toString();
        if (buf.length > this.maxReadBytes && buf.indexOf('\n') < 0) throw new ClientError(`stream line over ${this.maxReadBytes} bytes`, 'LINE_TOO_LONG');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim()) yield line;
        }
      }
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
  }
}
