// Ownership under faults, end to end: swimd daemons on namespaced hosts, one
// application writer per host in that host's namespace, and a fenced storage
// service on a host of its own. Faults cut the daemons' hosts apart but never
// the storage host (partition rules name daemon addresses only), so an isolated
// primary still reaches storage, as it would a database on another network path.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { SwimdClient } from '../src/client/client.js';
import { sleep, tmp, track, waitFor } from './procs.js';
import { TestHosts, removeStaleHosts } from './hosts.js';
import { StorageAdmin, type Handover, type WriteRecord } from './storage-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '..', 'src', 'cli', 'main.js');
const STORAGE_MAIN = join(here, 'storage-server.js');
const WRITER_MAIN = join(here, 'app-writer.js');
const SWIM_PORT = 7946;
export const STORAGE_PORT = 7070;
/** Namespaces, veths and bridge of their own, so this rig and the other fault suites never remove each other's hosts. */
const HOST_PREFIX = 'swo';

/**
 * The kernel removes a deleted namespace's veths asynchronously, after the last
 * process in it has exited; a run started right after another can find them still
 * there. Waits (bounded) for the host links of an earlier run to go away.
 */
function awaitLinksGone(timeoutMs = 20_000): void {
  removeStaleHosts(HOST_PREFIX);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const links = (spawnSync('ip', ['-br', 'link'], { encoding: 'utf8' }).stdout ?? '').split('\n').map((l) => l.split(/[\s@]/)[0] ?? '');
    const left = links.filter((l) => new RegExp(`^${HOST_PREFIX}v\\d+$`).test(l));
    if (left.length === 0 || Date.now() > deadline) return;
    for (const l of left) spawnSync('ip', ['link', 'del', l]);
    spawnSync('sleep', ['0.2']);
  }
}

export interface RigOptions {
  daemons: number;
  partitions: number;
  quorum: number;
  profile?: 'local' | 'lan';
  /** Start an application writer on every daemon host (default true). */
  writers?: boolean;
  writerIntervalMs?: number;
  /** partitions.failoverOnSuspect on every daemon. */
  failoverOnSuspect?: boolean;
}

export interface RigDaemon {
  index: number;
  name: string;
  ip: string;
  socket: string;
  dataDir: string;
  client: SwimdClient;
  child: ChildProcess | null;
}

export class OwnershipRig {
  readonly daemons: RigDaemon[] = [];
  readonly storageHost: number;
  readonly storageIp: string;
  readonly admin: StorageAdmin;
  private storage: ChildProcess | null = null;
  private readonly writers: ChildProcess[] = [];
  private readonly dir: string;

  private constructor(
    readonly hosts: TestHosts,
    readonly opts: RigOptions,
  ) {
    this.storageHost = opts.daemons;
    this.storageIp = hosts.hosts[this.storageHost]!.ip;
    this.dir = join(tmp, `own-${process.pid}`);
    mkdirSync(this.dir, { recursive: true });
    this.admin = new StorageAdmin(join(this.dir, 'storage.sock'));
    for (let i = 0; i < opts.daemons; i++) {
      const name = `h${i + 1}`;
      const socket = join(this.dir, `${name}.sock`);
      this.daemons.push({ index: i, name, ip: hosts.hosts[i]!.ip, socket, dataDir: join(this.dir, `${name}-data`), client: new SwimdClient(socket), child: null });
    }
  }

  /** Hosts 1..daemons run daemons and writers; the last host runs the storage. */
  static create(opts: RigOptions): OwnershipRig {
    awaitLinksGone();
    return new OwnershipRig(TestHosts.create(opts.daemons + 1, HOST_PREFIX), opts);
  }

  async startStorage(): Promise<void> {
    const child = track(
      this.hosts.spawnIn(this.storageHost, process.execPath, [STORAGE_MAIN, '--listen', `${this.storageIp}:${STORAGE_PORT}`, '--admin', this.admin.socketPath], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    this.storage = child;
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => (out += c));
    await waitFor(() => out.includes('ready'), 10_000, 'the storage server to listen', 50);
  }

  private writeConfig(d: RigDaemon): string {
    const file = join(this.dir, `${d.name}.yaml`);
    mkdirSync(d.dataDir, { recursive: true });
    const seeds = this.daemons.slice(0, 3).map((s) => `${s.ip}:${SWIM_PORT}`);
    const node = [`name: ${d.name}`, `bind: ${d.ip}:${SWIM_PORT}`, `meta: { zone: z${d.index}, role: app }`];
    node.push(`dataDir: ${d.dataDir}`);
    const partitions = [`count: ${this.opts.partitions}`, 'replicas: 3', `quorum: ${this.opts.quorum}`];
    partitions.push('eligible: { role: app }');
    if (this.opts.failoverOnSuspect) partitions.push('failoverOnSuspect: true');
    writeFileSync(
      file,
      [
        `node: { ${node.join(', ')} }`,
        `join: [${seeds.join(', ')}]`,
        `profile: ${this.opts.profile ?? 'local'}`,
        `partitions: { ${partitions.join(', ')} }`,
        `api: { socket: ${d.socket} }`,
        'log: { level: warn }',
      ].join('\n') + '\n',
    );
    return file;
  }

  startDaemon(i: number): void {
    const d = this.daemons[i]!;
    if (d.child && d.child.exitCode === null && d.child.signalCode === null) throw new Error(`${d.name} is already running`);
    const file = this.writeConfig(d);
    d.child = track(this.hosts.spawnIn(i, process.execPath, [CLI, 'agent', '--config', file], { stdio: ['ignore', 'ignore', 'inherit'] }));
  }

  /** kill -9: the daemon gets no chance to leave or to tell anyone. */
  async killDaemon(i: number): Promise<void> {
    const d = this.daemons[i]!;
    const c = d.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await Promise.race([exited, sleep(5000)]);
  }

  running(i: number): boolean {
    const c = this.daemons[i]!.child;
    return !!c && c.exitCode === null && c.signalCode === null;
  }

  startWriters(): void {
    for (const d of this.daemons) {
      const args = [WRITER_MAIN, '--socket', d.socket, '--name', d.name, '--storage', `${this.storageIp}:${STORAGE_PORT}`, '--interval-ms', String(this.opts.writerIntervalMs ?? 10)];
      this.writers.push(track(this.hosts.spawnIn(d.index, process.execPath, args, { stdio: ['pipe', 'ignore', 'inherit'] })));
    }
  }

  /** Every daemon sees all `count` members alive (bounded by timeoutMs). */
  async waitAllAlive(timeoutMs: number): Promise<void> {
    const names = this.daemons.map((d) => d.name);
    await waitFor(
      async () => {
        for (const d of this.daemons) {
          const alive = new Set((await d.client.members()).filter((m) => m.state === 'alive').map((m) => m.name));
          if (!names.every((n) => alive.has(n))) return false;
        }
        return true;
      },
      timeoutMs,
      'every daemon to see every member alive',
      250,
    );
  }

  /**
   * Per partition, which daemons would let their application write it now:
   * the daemon names itself primary with quorum ok. Unreachable daemons count
   * as claiming nothing.
   */
  async writableClaims(): Promise<{ claims: string[][]; views: Map<string, (string | null)[]> }> {
    const claims: string[][] = Array.from({ length: this.opts.partitions }, () => []);
    const views = new Map<string, (string | null)[]>();
    await Promise.all(
      this.daemons.map(async (d) => {
        try {
          const v = await d.client.partitions();
          views.set(d.name, v.partitions.map((p) => p.primary));
          for (const p of v.partitions) {
            const q = (p as { quorum?: string }).quorum ?? v.quorum;
            if (p.primary === d.name && q === 'ok') claims[p.id]!.push(d.name);
          }
        } catch {
          // down: claims nothing
        }
      }),
    );
    return { claims, views };
  }

  /** Waits until every partition has exactly one writable primary and every daemon names the same one. */
  async waitOneWritablePrimaryEach(timeoutMs: number, what: string): Promise<number> {
    const t0 = Date.now();
    let last = '';
    await waitFor(
      async () => {
        const { claims, views } = await this.writableClaims();
        const tables = [...views.values()].map((t) => JSON.stringify(t));
        const agree = views.size === this.daemons.length && tables.every((t) => t === tables[0]);
        const bad = claims.map((c, id) => ({ id, c })).filter((x) => x.c.length !== 1);
        const table0 = [...views.values()][0] ?? [];
        const differs = table0.map((_, id) => id).filter((id) => [...views.values()].some((t) => t[id] !== table0[id])).slice(0, 4);
        const shown = differs.map((id) => `p${id}: ${[...views].map(([n, t]) => `${n}=${t[id] ?? '-'}`).join(' ')}`).join('; ');
        last = `views from ${views.size} daemons, agree=${agree}${shown ? ` (${shown})` : ''}, partitions without exactly one writable primary: ${JSON.stringify(bad.slice(0, 6))}`;
        return agree && bad.length === 0;
      },
      timeoutMs,
      what,
      200,
    ).catch(async (err: Error) => {
      // What each daemon holds about the members, for a disagreement that did not settle.
      const members = await Promise.all(this.daemons.map(async (d) => {
        try {
          const ms = await d.client.members();
          return `${d.name}: ${ms.map((m) => `${m.name}/${m.state}/${m.incarnation}${m.contacted ? '' : '/unreached'}${m.meta.role === 'app' ? '' : '/no-role'}`).join(',')}`;
        } catch {
          return `${d.name}: down`;
        }
      }));
      const first = /p(\d+):/.exec(last)?.[1];
      const detail = first === undefined ? [] : await Promise.all(this.daemons.map(async (d) => {
        try {
          return `${d.name}: ${JSON.stringify((await d.client.partition(Number(first))) as unknown as { ownership: unknown }['ownership'] ? (await d.client.partition(Number(first)) as unknown as { ownership: unknown }).ownership : null)}`;
        } catch {
          return `${d.name}: down`;
        }
      }));
      throw new Error(`${err.message}; ${last}; members ${members.join(' | ')}; p${first} ownership ${detail.join(' | ')}`);
    });
    return Date.now() - t0;
  }

  /** The daemon that names itself primary of most partitions (a victim with something to lose). */
  async primaryOf(partition: number): Promise<RigDaemon> {
    const { claims } = await this.writableClaims();
    const name = claims[partition]![0];
    const d = this.daemons.find((x) => x.name === name);
    if (!d || claims[partition]!.length !== 1) throw new Error(`partition ${partition} has claims ${JSON.stringify(claims[partition])}`);
    return d;
  }

  async partitionsOf(d: RigDaemon): Promise<number[]> {
    const { claims } = await this.writableClaims();
    return claims.flatMap((c, id) => (c.length === 1 && c[0] === d.name ? [id] : []));
  }

  /** What every other daemon believes about `partitions` and about `victim`: for a partition nobody took over. */
  async describeBeliefs(partitions: number[], victim: RigDaemon): Promise<string> {
    const views = await Promise.all(
      this.daemons
        .filter((x) => x !== victim)
        .map(async (x) => {
          const v = await x.client.partitions().catch(() => null);
          const m = (await x.client.members().catch(() => [])).find((mm) => mm.name === victim.name);
          const ps = partitions.map((p) => `p${p}=${v?.partitions[p]?.primary ?? '-'}/t${v?.partitions[p]?.token ?? '-'}`).join(' ');
          return `${x.name} sees ${victim.name} ${m?.state ?? '?'} inc ${m?.incarnation ?? '?'}, quorum ${v?.quorum ?? '?'}, ${ps}`;
        }),
    );
    return views.join('; ');
  }

  /** Cuts host `i` off from every other daemon host, both ways; storage stays reachable. */
  isolate(i: number): void {
    this.split([i], this.daemons.map((d) => d.index).filter((x) => x !== i));
  }

  /** A symmetric split between two groups of daemon hosts; storage stays reachable from both. */
  split(a: number[], b: number[]): void {
    this.hosts.partition(a, b);
  }

  /** One-way: everything the other daemons send to host `i` is dropped; what it sends still arrives. */
  dropTowards(i: number): void {
    this.hosts.blockFrom(i, this.daemons.map((d) => d.index).filter((x) => x !== i));
  }

  heal(): void {
    this.hosts.healAll();
  }

  stopWriters(): void {
    for (const w of this.writers) w.kill('SIGKILL');
    this.writers.length = 0;
  }

  async stopDaemons(): Promise<void> {
    await Promise.all(this.daemons.map((d) => this.killDaemon(d.index)));
  }

  stopAll(): void {
    for (const w of this.writers) w.kill('SIGKILL');
    for (const d of this.daemons) d.child?.kill('SIGKILL');
    this.storage?.kill('SIGKILL');
  }

  destroy(): void {
    this.stopAll();
    this.hosts.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface FailoverReport {
  partition: number;
  /** ms from the fault to the first write accepted from someone other than the old primary; null if none in the window. */
  failoverMs: number | null;
  newPrimary: string | null;
  /** Accepted writes of the old primary after the new primary's first accepted write, before `untilMs`. */
  deposedAccepted: number;
  /** Rejected writes of the new primary before its first accepted write (it believed it owned p but was outranked). */
  newPrimaryRejectedBefore: number;
}

/** Failover of one partition from the storage's record of writes. */
export function failoverOf(log: readonly WriteRecord[], partition: number, oldPrimary: string, faultAtMs: number, untilMs: number): FailoverReport {
  const mine = log.filter((r) => r.partition === partition && r.atMs >= faultAtMs);
  const first = mine.find((r) => r.accepted && r.writer !== oldPrimary && r.atMs < untilMs);
  const deposed = first ? mine.filter((r) => r.accepted && r.writer === oldPrimary && r.atMs > first.atMs && r.atMs < untilMs).length : 0;
  const candidates = new Set(mine.filter((r) => r.writer !== oldPrimary).map((r) => r.writer));
  const newPrimary = first?.writer ?? (candidates.size > 0 ? [...candidates].join('|') : null);
  const rejectedBefore = mine.filter((r) => !r.accepted && r.writer !== oldPrimary && (!first || r.atMs < first.atMs)).length;
  return { partition, failoverMs: first ? first.atMs - faultAtMs : null, newPrimary, deposedAccepted: deposed, newPrimaryRejectedBefore: rejectedBefore };
}

/** The handovers in a window, for logging. */
export function describeHandovers(h: readonly Handover[], t0: number): string {
  return h.map((x) => `p${x.partition}@${x.atMs - t0}ms ${x.from ?? '-'}→${x.to} t=${x.token}`).join('; ');
}
