// The local API: HTTP/1.1 + JSON on a Unix socket. Bad requests get a 4xx with
// { error, code } and the daemon keeps serving.
import { existsSync, chmodSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { parseDurationMs } from '../config/duration.js';
import { SESSION_TTL_MAX_MS, SESSION_TTL_MIN_MS, type SessionHub } from './session.js';
import type { WatchHub } from './watch.js';
import type { MonitorHub } from './monitor.js';
import { LOG_LEVEL_VALUES } from '../daemon/logger.js';
import { WATCH_FORMATS, type MemberView, type PartitionsView, type PartitionView, type WatchFormat } from './views.js';
import { SwimdError } from '../base/errors.js';
import { KeyringError } from '../wire/keyring.js';
import { parseKey, type KeyOps } from '../daemon/keys.js';

export interface ApiDeps {
  self(): object;
  members(): MemberView[];
  partitions(): PartitionsView;
  /** Ownership state of one partition as this daemon holds it (known owner and epoch, promises, claims). */
  partitionDetail(id: number): object;
  owned(): object;
  health(): { status: 'ok' | 'degraded' } & Record<string, unknown>;
  metrics(): Promise<{ contentType: string; body: string }>;
  leave(): void;
  /** Sets and removes this member's tags; throws an error with a `code` for a bad change. */
  setTags(set: Record<string, unknown>, unset: unknown[]): object;
  /** This member's keyring (GET lists, POST installs, PUT makes primary, DELETE removes). */
  keys: KeyOps;
  watch: WatchHub;
  sessions: SessionHub;
  monitor: MonitorHub;
}

/** Largest request body read (tag changes); anything larger is refused with 413. */
const MAX_BODY_BYTES = 16 * 1024;
const BODY_TIMEOUT_MS = 5_000;

function readJsonBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      reject(new ApiError(408, 'BODY_TIMEOUT', `request body not received within ${BODY_TIMEOUT_MS} ms`));
      req.destroy();
    }, BODY_TIMEOUT_MS);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        clearTimeout(timer);
        reject(new ApiError(413, 'BODY_TOO_LARGE', `request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new ApiError(400, 'BAD_REQUEST', 'request body is not JSON'));
      }
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(new ApiError(400, 'BAD_REQUEST', `request body: ${err.message}`));
    });
  });
}

export class ApiError extends SwimdError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message);
  }
}

export class SocketInUseError extends SwimdError {
  constructor(message: string) {
    super('SOCKET_IN_USE', message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The request target as a URL; a target that is no URL path (`//[`, say) is a 400, not a 500. */
function requestUrl(target: string): URL {
  try {
    return new URL(target, 'http://swimd');
  } catch {
    throw new ApiError(400, 'BAD_REQUEST', `malformed request target ${JSON.stringify(target.slice(0, 80))}`);
  }
}

/** One optional query parameter from a closed set: given twice or outside the set is a 400 naming it. */
function choiceParam<T extends string>(url: URL, name: string, allowed: readonly T[], dflt: T): T {
  const given = url.searchParams.getAll(name);
  if (given.length === 0) return dflt;
  if (given.length > 1) throw new ApiError(400, 'BAD_REQUEST', `${name}: given ${given.length} times; give it once`);
  const v = given[0]!;
  if (!(allowed as readonly string[]).includes(v)) throw new ApiError(400, 'BAD_REQUEST', `${name}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(v.slice(0, 40))}`);
  return v as T;
}

function route(req: IncomingMessage, res: ServerResponse, deps: ApiDeps): void | Promise<void> {
  const url = requestUrl(req.url ?? '/');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  const only = (m: string): void => {
    if (method !== m) throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; use ${m}`);
  };
  if (path === '/v1/self') return only('GET'), send(res, 200, deps.self());
  if (path === '/v1/members') return only('GET'), send(res, 200, { members: deps.members() });
  if (path === '/v1/partitions') return only('GET'), send(res, 200, deps.partitions());
  if (path.startsWith('/v1/partitions/')) {
    only('GET');
    const idText = path.slice('/v1/partitions/'.length);
    const all = deps.partitions();
    if (!/^\d+$/.test(idText) || Number(idText) >= all.partitions.length) {
      throw new ApiError(404, 'PARTITION_NOT_FOUND', `partition "${idText}" does not exist; ids are 0..${all.partitions.length - 1}`);
    }
    const p: PartitionView = all.partitions[Number(idText)]!;
    return send(res, 200, { ...p, viewVersion: all.viewVersion, quorum: all.quorum, ownership: deps.partitionDetail(p.id) });
  }
  if (path === '/v1/owned') return only('GET'), send(res, 200, deps.owned());
  if (path === '/v1/health') {
    only('GET');
    const h = deps.health();
    return send(res, h.status === 'ok' ? 200 : 503, h);
  }
  if (path === '/v1/self/tags') {
    only('PUT');
    return readJsonBody(req).then((body) => {
      const b = body as { set?: unknown; unset?: unknown } | null;
      const set = b?.set ?? {};
      const unset = b?.unset ?? [];
      if (b === null || typeof b !== 'object' || Array.isArray(b) || typeof set !== 'object' || set === null || Array.isArray(set) || !Array.isArray(unset)) {
        throw new ApiError(400, 'BAD_REQUEST', 'expected {"set": {"tag": "value"}, "unset": ["tag"]}');
      }
      try {
        send(res, 200, { tags: deps.setTags(set as Record<string, unknown>, unset) });
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'string' && code.startsWith('TAG_') || code === 'META_TOO_LARGE') throw new ApiError(400, code as string, (err as Error).message);
        throw err;
      }
    });
  }
  if (path === '/v1/keys') {
    if (method === 'GET') return keysAnswer(res, deps.keys, () => {});
    const op = method === 'POST' ? 'install' : method === 'PUT' ? 'use' : method === 'DELETE' ? 'remove' : null;
    if (op === null) throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; use GET, POST, PUT or DELETE`);
    return readJsonBody(req).then((body) => {
      const b = body as { key?: unknown } | null;
      if (b === null || typeof b !== 'object' || Array.isArray(b) || typeof b.key !== 'string') throw new ApiError(400, 'BAD_REQUEST', 'expected {"key": "<base64 key>"}');
      const key = b.key;
      keysAnswer(res, deps.keys, () => deps.keys.apply(op, parseKey(key)));
    });
  }
  if (path === '/v1/session') {
    if (method === 'GET') return send(res, 200, { sessions: deps.sessions.list() });
    only('POST');
    const ttlText = url.searchParams.get('ttl') ?? '1s';
    const ttlMs = parseDurationMs(ttlText);
    if (ttlMs === null || ttlMs < SESSION_TTL_MIN_MS || ttlMs > SESSION_TTL_MAX_MS) {
      throw new ApiError(400, 'BAD_REQUEST', `ttl: expected a duration from ${SESSION_TTL_MIN_MS}ms to ${SESSION_TTL_MAX_MS / 1000}s, got ${JSON.stringify(ttlText.slice(0, 40))}`);
    }
    if (!deps.sessions.open(req, res, ttlMs)) throw new ApiError(429, 'SESSION_LIMIT', `at most ${deps.sessions.maxSessions} sessions at once (limits.maxSessions)`);
    return;
  }
  if (path === '/v1/leave') {
    only('POST');
    send(res, 202, { leaving: true });
    deps.leave();
    return;
  }
  if (path === '/v1/watch') {
    only('GET');
    const format: WatchFormat = choiceParam(url, 'format', WATCH_FORMATS, 'full');
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
    deps.watch.add(res, format);
    return;
  }
  if (path === '/v1/monitor') {
    only('GET');
    const level = url.searchParams.get('level') ?? 'info';
    if (!Object.hasOwn(LOG_LEVEL_VALUES, level)) {
      throw new ApiError(400, 'BAD_REQUEST', `level: expected one of ${Object.keys(LOG_LEVEL_VALUES).join(', ')}, got ${JSON.stringify(level.slice(0, 40))}`);
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
    // The headers go out now, so a client knows the stream is open before the first line.
    res.flushHeaders();
    deps.monitor.add(res, LOG_LEVEL_VALUES[level as keyof typeof LOG_LEVEL_VALUES]);
    return;
  }
  if (path === '/metrics') {
    only('GET');
    return deps.metrics().then(({ contentType, body }) => {
      res.writeHead(200, { 'content-type': contentType });
      res.end(body);
    });
  }
  throw new ApiError(404, 'NOT_FOUND', `no route ${method} ${path}`);
}

const KEYRING_STATUS: Record<KeyringError['code'], number> = {
  KEY_INVALID_LENGTH: 400,
  KEY_NOT_BASE64: 400,
  KEY_NOT_INSTALLED: 404,
  KEY_IS_PRIMARY: 409,
  KEYRING_FULL: 409,
  KEYRING_EMPTY: 409,
  ENCRYPTION_DISABLED: 409,
};

/** Runs a key operation, then answers with the keyring as it is; a refused operation is a 4xx with the KeyringError code. */
function keysAnswer(res: ServerResponse, keys: KeyOps, op: () => void): void {
  try {
    op();
    send(res, 200, { keys: keys.list() });
  } catch (err) {
    if (err instanceof KeyringError) throw new ApiError(KEYRING_STATUS[err.code], err.code, err.message);
    throw err;
  }
}

/** Is a live server answering on this socket path? */
function socketIsLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startApiServer(socketPath: string, mode: number, maxConnections: number, deps: ApiDeps): Promise<Server> {
  if (existsSync(socketPath)) {
    if (await socketIsLive(socketPath)) throw new SocketInUseError(`another daemon is serving on ${socketPath}`);
    unlinkSync(socketPath); // stale file from a daemon that died
  }
  // No whole-request timeout: a session's body is held open by design. Headers
  // must still arrive within 10 s, and bodies that are read have their own bound.
  const server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 0, headersTimeout: 10_000 }, (req, res) => {
    try {
      const r = route(req, res, deps);
      if (r instanceof Promise) r.catch((err) => fail(res, err));
    } catch (err) {
      fail(res, err);
    }
  });
  server.maxConnections = maxConnections;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const body = JSON.stringify({ error: `malformed HTTP request: ${err.code ?? err.message}`, code: 'BAD_REQUEST' });
    socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  chmodSync(socketPath, mode);
  return server;
}

function fail(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof ApiError) return send(res, err.status, { error: err.message, code: err.code });
  send(res, 500, { error: err instanceof Error ? err.message : String(err), code: 'INTERNAL' });
}
