// A swimd cluster on namespaced test hosts: one daemon per host, started with
// the CLI, observed through each daemon's watch stream and API socket (the
// filesystem is shared across namespaces, the network is not).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { SwimdClient } from '../src/client/client.js';
import type { WatchLine } from '../src/api/views.js';
import { tmp, track } from './procs.js';
import { TestHosts } from './hosts.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '..', 'src', 'cli', 'main.js');
const PORT = 7946;

export interface HostDaemon {
  index: number;
  name: string;
  ip: string;
  socket: string;
  child: ChildProcess;
  client: SwimdClient;
}

export interface ObservedEvent {
  atMs: number;
  observer: string;
  line: WatchLine;
}

export class FaultCluster {
  readonly daemons: HostDaemon[] = [];
  readonly events: ObservedEvent[] = [];
  private readonly watchers: AbortController[] = [];

  constructor(
    readonly hosts: TestHosts,
    /** behindRelay: the daemon binds PORT + 1 and advertises PORT, where a delay relay listens. */
    private readonly opts: { quorum: number; partitions: number; behindRelay?: boolean },
  ) {}

  start(i: number): HostDaemon {
    const host = this.hosts.hosts[i]!;
    const name = `h${i + 1}`;
    const socket = join(tmp, `${name}.sock`);
    const file = join(tmp, `${name}.yaml`);
    const seeds = this.hosts.hosts.slice(0, 3).map((h) => `${h.ip}:${PORT}`);
    writeFileSync(
      file,
      [
        this.opts.behindRelay
          ? `node: { name: ${name}, bind: ${host.ip}:${PORT + 1}, advertise: ${host.ip}:${PORT}, meta: { zone: z${i % 4} } }`
          : `node: { name: ${name}, bind: ${host.ip}:${PORT}, meta: { zone: z${i % 4} } }`,
        `join: [${seeds.join(', ')}]`,
        'profile: lan',
        `partitions: { count: ${this.opts.partitions}, replicas: 3, quorum: ${this.opts.quorum} }`,
        `api: { socket: ${socket} }`,
        'log: { level: warn }',
      ].join('\n'),
    );
    const child = track(this.hosts.spawnIn(i, process.execPath, [CLI, 'agent', '--config', file], { stdio: ['ignore', 'ignore', 'inherit'] }));
    const d: HostDaemon = { index: i, name, ip: host.ip, socket, child, client: new SwimdClient(socket) };
    this.daemons[i] = d;
    return d;
  }

  startAll(): void {
    for (let i = 0; i < this.hosts.hosts.length; i++) this.start(i);
  }

  /** Follows a daemon's watch stream into `events` until stopAll(). */
  watch(d: HostDaemon): void {
    const ac = new AbortController();
    this.watchers.push(ac);
    void (async () => {
      for (let attempt = 0; attempt < 50 && !ac.signal.aborted; attempt++) {
        try {
          for await (const line of d.client.watch(ac.signal)) this.events.push({ atMs: Date.now(), observer: d.name, line });
        } catch {
          // not up yet, or restarted: try again shortly
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
  }

  watchAll(): void {
    for (const d of this.daemons) this.watch(d);
  }

  stopWatching(): void {
    for (const w of this.watchers) w.abort();
    this.watchers.length = 0;
  }

  /** Member events of a kind about any member, seen by any observer since `sinceMs`. */
  memberEvents(kind: string, sinceMs: number): { observer: string; member: string }[] {
    return this.events
      .filter((e) => e.atMs >= sinceMs && e.line.type === 'member' && e.line.event === kind)
      .map((e) => ({ observer: e.observer, member: (e.line as Extract<WatchLine, { type: 'member' }>).member.name }));
  }

  names(): string[] {
    return this.daemons.map((d) => d.name);
  }

  async aliveSeenBy(d: HostDaemon): Promise<Set<string>> {
    return new Set((await d.client.members()).filter((m) => m.state === 'alive').map((m) => m.name));
  }

  /** Every listed daemon sees exactly `alive` alive. */
  async agree(on: HostDaemon[], alive: string[]): Promise<boolean> {
    for (const d of on) {
      const seen = await this.aliveSeenBy(d);
      if (seen.size !== alive.length || !alive.every((n) => seen.has(n))) return false;
    }
    return true;
  }

  killAll(): void {
    this.stopWatching();
    for (const d of this.daemons) d.child.kill('SIGKILL');
  }
}
