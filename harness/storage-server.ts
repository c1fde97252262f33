// A fenced storage service for ownership tests, run as its own process on a
// namespaced host so applications reach it over the bridge network, as they
// would a database. Per partition it keeps the highest token accepted; a write
// (partition, writer, token) is accepted iff token >= that high-water mark, and
// the check and the update happen in one synchronous step of the event loop, so
// no two writes interleave between them.
//
//   node storage-server.js --listen 10.77.0.6:7070 --admin /tmp/x/storage.sock
//
// Writers use TCP on --listen (POST /write?p=&w=&t=). The test process, in the
// root namespace where the bridge has no address, reads the record through the
// Unix socket --admin (the filesystem is shared across namespaces).
// Without --listen the file does nothing, so a test runner that loads every
// file of this folder runs it harmlessly.
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync, unlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface WriteRecord {
  atMs: number;
  partition: number;
  writer: string;
  token: number;
  accepted: boolean;
}

/** A change of the accepted writer of a partition. */
export interface Handover {
  atMs: number;
  partition: number;
  from: string | null;
  to: string;
  token: number;
}

/** Two different writers accepted with the same token for a partition: fencing failed. */
export interface StaleWrite {
  atMs: number;
  partition: number;
  writer: string;
  token: number;
  /** The other writer already accepted with this token. */
  firstWriter: string;
}

export interface StoreStats {
  accepted: number;
  rejected: number;
  stale: number;
  /** Accepted below the high-water mark; impossible by construction, reported to prove it. */
  belowMark: number;
  partitions: number;
  perWriter: Record<string, { accepted: number; rejected: number }>;
}

/** The storage's logic, separate from its transport so unit code can use it in-process. */
export class FencedStore {
  private readonly mark = new Map<number, number>();
  /** Per partition: the first writer accepted with each token. */
  private readonly tokenOwner = new Map<number, Map<number, string>>();
  private readonly lastWriter = new Map<number, string>();
  readonly log: WriteRecord[] = [];
  readonly handovers: Handover[] = [];
  readonly stale: StaleWrite[] = [];
  private stats: StoreStats = FencedStore.emptyStats();
  /** Bounds memory on long runs: past this the oldest records are dropped (counts stay exact). */
  constructor(private readonly maxLog = 2_000_000) {}

  private static emptyStats(): StoreStats {
    return { accepted: 0, rejected: 0, stale: 0, belowMark: 0, partitions: 0, perWriter: {} };
  }

  write(partition: number, writer: string, token: number, atMs = Date.now()): { accepted: boolean; mark: number } {
    const mark = this.mark.get(partition) ?? Number.NEGATIVE_INFINITY;
    const accepted = token >= mark;
    const w = (this.stats.perWriter[writer] ??= { accepted: 0, rejected: 0 });
    if (accepted) {
      if (!this.mark.has(partition)) this.stats.partitions++;
      this.mark.set(partition, token);
      this.stats.accepted++;
      w.accepted++;
      let owners = this.tokenOwner.get(partition);
      if (!owners) this.tokenOwner.set(partition, (owners = new Map()));
      const first = owners.get(token);
      if (first === undefined) owners.set(token, writer);
      else if (first !== writer) {
        this.stale.push({ atMs, partition, writer, token, firstWriter: first });
        this.stats.stale++;
      }
      const last = this.lastWriter.get(partition) ?? null;
      if (last !== writer) {
        this.handovers.push({ atMs, partition, from: last, to: writer, token });
        this.lastWriter.set(partition, writer);
      }
    } else {
      this.stats.rejected++;
      w.rejected++;
    }
    this.log.push({ atMs, partition, writer, token, accepted });
    if (this.log.length > this.maxLog) this.log.splice(0, this.log.length - this.maxLog);
    return { accepted, mark: accepted ? token : mark };
  }

  /** Recomputes the invariants from the raw log (a check on the incremental bookkeeping). */
  static audit(log: readonly WriteRecord[]): { stale: number; belowMark: number } {
    const mark = new Map<number, number>();
    const owners = new Map<string, string>();
    let stale = 0;
    let belowMark = 0;
    for (const r of log) {
      if (!r.accepted) continue;
      if (r.token < (mark.get(r.partition) ?? Number.NEGATIVE_INFINITY)) belowMark++;
      mark.set(r.partition, Math.max(r.token, mark.get(r.partition) ?? r.token));
      const key = `${r.partition}/${r.token}`;
      const first = owners.get(key);
      if (first === undefined) owners.set(key, r.writer);
      else if (first !== r.writer) stale++;
    }
    return { stale, belowMark };
  }

  snapshotStats(): StoreStats {
    return JSON.parse(JSON.stringify(this.stats)) as StoreStats;
  }

  marks(): Record<number, number> {
    return Object.fromEntries(this.mark);
  }

  /** Forgets everything, so one process can serve several independent runs. */
  reset(): void {
    this.mark.clear();
    this.tokenOwner.clear();
    this.lastWriter.clear();
    this.log.length = 0;
    this.handovers.length = 0;
    this.stale.length = 0;
    this.stats = FencedStore.emptyStats();
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    req.resume();
    req.on('end', resolve);
    req.on('error', () => resolve());
  });
}

function serve(store: FencedStore, listen: { host: string; port: number }, admin: string): void {
  const writes = createServer((req, res) => {
    void drain(req).then(() => {
      const url = new URL(req.url ?? '/', 'http://storage');
      if (req.method !== 'POST' || url.pathname !== '/write') return send(res, 404, { error: 'POST /write?p=&w=&t=' });
      const p = Number(url.searchParams.get('p'));
      const t = Number(url.searchParams.get('t'));
      const w = url.searchParams.get('w') ?? '';
      if (!Number.isInteger(p) || p < 0 || !Number.isFinite(t) || w === '') return send(res, 400, { error: 'bad write' });
      const r = store.write(p, w, t);
      send(res, r.accepted ? 200 : 409, r);
    });
  });
  writes.keepAliveTimeout = 30_000;
  writes.listen(listen.port, listen.host);

  if (existsSync(admin)) unlinkSync(admin);
  const adminServer = createServer((req, res) => {
    void drain(req).then(() => {
      const url = new URL(req.url ?? '/', 'http://storage');
      const since = Number(url.searchParams.get('since') ?? 0);
      const part = url.searchParams.get('partition');
      switch (url.pathname) {
        case '/stats':
          return send(res, 200, { stats: store.snapshotStats(), marks: store.marks(), audit: FencedStore.audit(store.log) });
        case '/handovers':
          return send(res, 200, store.handovers.filter((h) => h.atMs >= since && (part === null || h.partition === Number(part))));
        case '/stale':
          return send(res, 200, store.stale.filter((s) => s.atMs >= since));
        case '/log':
          return send(res, 200, store.log.filter((r) => r.atMs >= since && (part === null || r.partition === Number(part))));
        case '/reset':
          store.reset();
          return send(res, 200, { reset: true });
        default:
          return send(res, 404, { error: 'unknown path' });
      }
    });
  });
  adminServer.listen(admin);
  let up = 0;
  const ready = (): void => {
    if (++up === 2) process.stdout.write('ready\n');
  };
  writes.once('listening', ready);
  adminServer.once('listening', ready);
  // The parent holds our stdin: when it goes away, so do we (no orphan servers).
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

/** The test side's view of a running storage server, through its admin socket. */
export class StorageAdmin {
  constructor(readonly socketPath: string) {}

  private get<T>(path: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, path, method: 'GET', timeout: 10_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(body) as T);
          } catch (err) {
            reject(err as Error);
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error('storage admin request timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  stats(): Promise<{ stats: StoreStats; marks: Record<string, number>; audit: { stale: number; belowMark: number } }> {
    return this.get('/stats');
  }
  handovers(sinceMs = 0, partition?: number): Promise<Handover[]> {
    return this.get(`/handovers?since=${sinceMs}${partition === undefined ? '' : `&partition=${partition}`}`);
  }
  stale(sinceMs = 0): Promise<StaleWrite[]> {
    return this.get(`/stale?since=${sinceMs}`);
  }
  log(sinceMs = 0, partition?: number): Promise<WriteRecord[]> {
    return this.get(`/log?since=${sinceMs}${partition === undefined ? '' : `&partition=${partition}`}`);
  }
  reset(): Promise<{ reset: boolean }> {
    return this.get('/reset');
  }
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && arg('--listen')) {
  const listen = arg('--listen')!;
  const admin = arg('--admin');
  const at = listen.lastIndexOf(':');
  if (!admin || at < 0) {
    process.stderr.write('usage: storage-server --listen HOST:PORT --admin SOCKET\n');
    process.exit(2);
  }
  serve(new FencedStore(), { host: listen.slice(0, at), port: Number(listen.slice(at + 1)) }, admin);
}
