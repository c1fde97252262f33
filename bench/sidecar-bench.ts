// What a sidecar costs beside every instance: N separate swimd daemons
// (`bin/swimd agent`, one config each) and N separate serf agents
// (/usr/bin/serf), one system after the other in one invocation, on loopback
// with OS-picked ports. The machine's other load hits both systems alike.
//   node dist/bench/sidecar-bench.js [--n 16,32] [--profile lan,local] [--kills 2] [--steady 20]
//     [--systems swimd,serf] [--swimd-node-flags "--max-semi-space-size=1"] [--swimd-partitions "syncInterval: 1h"]
// Per process: RSS (VmRSS, and its anonymous part), CPU (utime+stime over the
// steady window, % of one core), CPU spent starting (to convergence). Per
// member: bytes sent per second over the steady window (nftables counters on
// the members' source ports; IP and UDP/TCP headers included; n/a without
// root or nft). Convergence: from the last start (and from the last member's
// own view coming up) until every member sees N alive; swimd from each
// daemon's watch stream, serf from each agent's log lines (EventMemberJoin),
// both timed on arrival here. Detection after kill -9: first and last
// survivor to record the victim dead (swimd `dead` member line, serf
// EventMemberFailed). Reconvergence: from restarting the victim until all see
// N alive. Both systems join member 0 only (serf's -join needs a live peer).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwimdClient } from '../src/client/client.js';
import { freePorts } from '../harness/procs.js';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', '..', 'bin', 'swimd');
const SERF = '/usr/bin/serf';
const CLK_TCK = 100;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const SIZES = arg('n', '16').split(',').map(Number);
const PROFILES = arg('profile', 'lan').split(',');
const KILLS = Number(arg('kills', '2'));
const STEADY_S = Number(arg('steady', '20'));
const SYSTEMS = arg('systems', 'swimd,serf').split(',');
// Given, swimd runs as `node <flags> bin/swimd` instead of through the launcher's own line
// (`none`: plain node, the full compiler).
const SWIMD_NODE_FLAGS = arg('swimd-node-flags', '');
// Extra keys for swimd's partitions section, e.g. "syncInterval: 1h" to see what the epoch sync costs.
const SWIMD_PARTITIONS = arg('swimd-partitions', '');
const CONVERGE_TIMEOUT_MS = 120_000;
const dir = mkdtempSync(join(tmpdir(), 'swimd-sidecar-'));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => performance.now();

/** One member's process and what it sees: name → alive or not. */
interface Member {
  readonly name: string;
  readonly port: number;
  proc: ChildProcess | null;
  /** performance.now() when this member's own view came up (swimd: watch snapshot, serf: its own join line). */
  readyAt: number;
  view: Map<string, boolean>;
  /** victim name → when this member first recorded it dead since the kill. */
  deadAt: Map<string, number>;
}

interface System {
  readonly label: string;
  start(m: Member, seed: Member | null): void;
  /** Stops following a member's output before its process is killed. */
  forget(m: Member): void;
}

// Every change to any view re-evaluates the waiters, so a condition's time is
// the arrival time of the line that made it true, not a polling tick.
const waiters = new Set<() => void>();
function changed(): void {
  for (const w of [...waiters]) w();
}
function when(cond: () => boolean, timeoutMs: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!cond()) return;
      waiters.delete(check);
      clearTimeout(timer);
      resolve(now());
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    waiters.add(check);
    check();
  });
}

function aliveCount(m: Member): number {
  let n = 0;
  for (const up of m.view.values()) if (up) n++;
  return n;
}

function swimdSystem(profile: string, n: number): System {
  const aborts = new Map<string, AbortController>();
  const sock = (m: Member): string => join(dir, `${m.name}.sock`);
  async function follow(m: Member, ac: AbortController): Promise<void> {
    // As long as convergence may take: on a loaded machine a daemon's API can take tens of seconds to come up.
    const deadline = Date.now() + CONVERGE_TIMEOUT_MS;
    while (!ac.signal.aborted && Date.now() < deadline) {
      if (!existsSync(sock(m))) {
        await sleep(20);
        continue;
      }
      try {
        for await (const line of new SwimdClient(sock(m)).watch(ac.signal)) {
          if (line.type === 'snapshot') {
            m.view = new Map(line.members.map((x) => [x.name, x.state === 'alive' || x.state === 'suspect']));
            if (m.readyAt === 0) m.readyAt = now();
          } else if (line.type === 'member') {
            const up = line.member.state === 'alive' || line.member.state === 'suspect';
            m.view.set(line.member.name, up);
            if (line.member.state === 'dead' && !m.deadAt.has(line.member.name)) m.deadAt.set(line.member.name, now());
          } else continue;
          changed();
        }
        return;
      } catch {
        await sleep(20);
      }
    }
  }
  return {
    label: 'swimd',
    start(m, seed) {
      const file = join(dir, `${m.name}.yaml`);
      writeFileSync(
        file,
        [
          `node: { name: ${m.name}, bind: 127.0.0.1:${m.port}, dataDir: ${join(dir, `${m.name}-data`)} }`,
          `join: [${seed ? `127.0.0.1:${seed.port}` : ''}]`,
          `profile: ${profile}`,
          `partitions: { count: 256, replicas: 3, quorum: ${Math.floor(n / 2) + 1}${SWIMD_PARTITIONS ? `, ${SWIMD_PARTITIONS}` : ''} }`,
          `api: { socket: ${sock(m)} }`,
        ].join('\n'),
      );
      const args = ['agent', '--config', file];
      // The launcher as users start it: its first line runs node, with its flags, in the same process.
      m.proc = SWIMD_NODE_FLAGS
        ? spawn(process.execPath, [...SWIMD_NODE_FLAGS.split(' ').filter((f) => f && f !== 'none'), BIN, ...args], { stdio: ['ignore', 'ignore', 'inherit'] })
        : spawn(BIN, args, { stdio: ['ignore', 'ignore', 'inherit'] });
      const ac = new AbortController();
      aborts.set(m.name, ac);
      void follow(m, ac);
    },
    forget(m) {
      aborts.get(m.name)?.abort();
    },
  };
}

function serfSystem(profile: string): System {
  return {
    label: 'serf',
    start(m, seed) {
      const args = ['agent', `-node=${m.name}`, `-bind=127.0.0.1:${m.port}`, `-rpc-addr=127.0.0.1:${rpcPort(m)}`, `-profile=${profile}`];
      if (seed) args.push(`-join=127.0.0.1:${seed.port}`);
      const p = spawn(SERF, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      m.proc = p;
      let rest = '';
      const onData = (b: Buffer): void => {
        if (m.proc !== p) return;
        rest += b.toString();
        const lines = rest.split('\n');
        rest = lines.pop()!;
        let any = false;
        for (const l of lines) {
          const e = /serf: EventMember(Join|Failed|Leave|Reap|Update): (\S+)/.exec(l);
          if (!e) continue;
          const [, kind, who] = e as unknown as [string, string, string];
          if (kind === 'Join') {
            m.view.set(who, true);
            if (who === m.name && m.readyAt === 0) m.readyAt = now();
          } else if (kind !== 'Update') m.view.set(who, false);
          if (kind === 'Failed' && !m.deadAt.has(who)) m.deadAt.set(who, now());
          any = true;
        }
        if (any) changed();
      };
      p.stdout!.on('data', onData);
      p.stderr!.on('data', onData);
    },
    forget() {},
  };
}

const rpcPorts = new Map<string, number>();
const rpcPort = (m: Member): number => rpcPorts.get(m.name)!;

function procStat(pid: number): { cpuTicks: number; rssKb: number; anonKb: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
    const cpuTicks = Number(f[11]) + Number(f[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { cpuTicks, rssKb: kb('VmRSS'), anonKb: kb('RssAnon') };
  } catch {
    return null;
  }
}

/** nftables byte counters on the members' source ports, in a table of its own in this namespace. */
class ByteCounters {
  private readonly table = `swimd_sidecar_${process.pid}`;
  readonly ok: boolean;
  constructor(ports: number[]) {
    const set = ports.join(', ');
    const script = [
      `table inet ${this.table} {`,
      '  chain out {',
      '    type filter hook output priority 0; policy accept;',
      `    udp sport { ${set} } counter`,
      `    tcp sport { ${set} } counter`,
      '  }',
      '}',
    ].join('\n');
    const r = spawnSync('nft', ['-f', '-'], { input: script, encoding: 'utf8' });
    this.ok = r.status === 0;
  }
  read(): { udp: number; tcp: number } | null {
    if (!this.ok) return null;
    const r = spawnSync('nft', ['list', 'chain', 'inet', this.table, 'out'], { encoding: 'utf8' });
    const bytes = [...r.stdout.matchAll(/(udp|tcp) sport .* counter packets \d+ bytes (\d+)/g)];
    const get = (p: string): number => Number(bytes.find((b) => b[1] === p)?.[2] ?? 0);
    return { udp: get('udp'), tcp: get('tcp') };
  }
  close(): void {
    if (this.ok) spawnSync('nft', ['delete', 'table', 'inet', this.table]);
  }
}

interface Row {
  system: string;
  profile: string;
  n: number;
  rssMb: number;
  rssMaxMb: number;
  anonMb: number;
  cpuPct: number;
  startCpuS: number;
  convS: number;
  convReadyS: number;
  reconvS: number;
  detectFirstS: number;
  detectLastS: number;
  udpBps: number | null;
  tcpBps: number | null;
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

async function runSystem(kind: string, profile: string, n: number): Promise<Row> {
  const ports = await freePorts(kind === 'serf' ? 2 * n : n);
  const members: Member[] = Array.from({ length: n }, (_, i) => ({ name: `${kind}-${i}`, port: ports[i]!, proc: null, readyAt: 0, view: new Map(), deadAt: new Map() }));
  if (kind === 'serf') members.forEach((m, i) => rpcPorts.set(m.name, ports[n + i]!));
  const sys = kind === 'serf' ? serfSystem(profile) : swimdSystem(profile, n);
  const counters = new ByteCounters(members.map((m) => m.port));
  const allSeeAll = (): boolean => members.every((m) => aliveCount(m) === n);
  try {
    const [seed, ...rest] = members as [Member, ...Member[]];
    sys.start(seed, null);
    await when(() => seed.readyAt > 0, 30_000, `${seed.name} up`);
    for (const m of rest) sys.start(m, seed);
    const lastStart = now();
    // A run that never converges is reported (n/a) rather than ending the bench.
    const converged = await when(allSeeAll, CONVERGE_TIMEOUT_MS, `all ${n} ${kind} members to see ${n} alive`).catch((err: Error) => {
      console.log(`# ${err.message}: ${members.map((m) => aliveCount(m)).join(' ')}`);
      return NaN;
    });
    const lastReady = Math.max(...members.map((m) => m.readyAt));
    const startCpu = members.map((m) => (procStat(m.proc!.pid!)?.cpuTicks ?? NaN) / CLK_TCK);
    // Let the join traffic settle before the steady window.
    await sleep(3000);
    const c0 = members.map((m) => procStat(m.proc!.pid!)!);
    const b0 = counters.read();
    const t0 = now();
    await sleep(STEADY_S * 1000);
    const c1 = members.map((m) => procStat(m.proc!.pid!)!);
    const b1 = counters.read();
    const wallS = (now() - t0) / 1000;
    const cpuPct = mean(c1.map((c, i) => ((c.cpuTicks - c0[i]!.cpuTicks) / CLK_TCK / wallS) * 100));
    const rss = c1.map((c) => c.rssKb / 1024);
    const detectFirst: number[] = [];
    const detectLast: number[] = [];
    const reconv: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      // Never the seed: a restarted member joins through it.
      const victim = members[1 + (k % (n - 1))]!;
      const survivors = members.filter((m) => m !== victim);
      for (const s of survivors) s.deadAt.delete(victim.name);
      sys.forget(victim);
      const killed = victim.proc!;
      const gone = new Promise((r) => killed.once('exit', r));
      killed.kill('SIGKILL');
      const tKill = now();
      await gone;
      const detected = await when(() => survivors.every((s) => s.deadAt.has(victim.name)), 120_000, `every survivor to record ${victim.name} dead`).catch((err: Error) => {
        console.log(`# ${err.message}`);
        return NaN;
      });
      if (Number.isNaN(detected)) break;
      const times = survivors.map((s) => (s.deadAt.get(victim.name)! - tKill) / 1000);
      detectFirst.push(Math.min(...times));
      detectLast.push(Math.max(...times));
      victim.view = new Map();
      victim.readyAt = 0;
      sys.start(victim, seed);
      const tStart = now();
      const back = await when(allSeeAll, CONVERGE_TIMEOUT_MS, `all to see ${victim.name} back`).catch((err: Error) => {
        console.log(`# ${err.message}`);
        return NaN;
      });
      reconv.push(back - tStart);
      if (Number.isNaN(back)) break;
    }
    const perMemberBps = (a: number, b: number): number => (b - a) / wallS / n;
    return {
      system: kind,
      profile,
      n,
      rssMb: mean(rss),
      rssMaxMb: Math.max(...rss),
      anonMb: mean(c1.map((c) => c.anonKb / 1024)),
      cpuPct,
      startCpuS: mean(startCpu),
      convS: (converged - lastStart) / 1000,
      convReadyS: (converged - lastReady) / 1000,
      reconvS: mean(reconv) / 1000,
      detectFirstS: mean(detectFirst),
      detectLastS: mean(detectLast),
      udpBps: b0 && b1 ? perMemberBps(b0.udp, b1.udp) : null,
      tcpBps: b0 && b1 ? perMemberBps(b0.tcp, b1.tcp) : null,
    };
  } finally {
    for (const m of members) {
      sys.forget(m);
      m.proc?.kill('SIGKILL');
    }
    counters.close();
    await sleep(500);
  }
}

const f2 = (x: number | null, d = 2): string => (x === null || Number.isNaN(x) ? 'n/a' : x.toFixed(d));
const ratio = (a: number | null, b: number | null): string => (a === null || b === null || !b ? 'n/a' : `${(a / b).toFixed(2)}×`);

console.log(`# load average before ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} cores`);
console.log(`# sidecar bench: ${SYSTEMS.join(' then ')} per size, profile(s) ${PROFILES.join(',')}, steady window ${STEADY_S} s, ${KILLS} kill(s)${SWIMD_NODE_FLAGS ? `, swimd run as node ${SWIMD_NODE_FLAGS} bin/swimd` : ''}`);
const rows: Row[] = [];
for (const profile of PROFILES) {
  for (const n of SIZES) {
    for (const kind of SYSTEMS) {
      rows.push(await runSystem(kind, profile, n));
      const r = rows[rows.length - 1]!;
      console.log(`# row: ${JSON.stringify(r)}`);
      console.log(`# ${kind} n=${n} ${profile}: rss ${f2(r.rssMb, 1)} MB, cpu ${f2(r.cpuPct, 3)} %, converge ${f2(r.convS)} s; load average after ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    }
  }
}
console.log('');
console.log('| system | profile | N | RSS MB (max) | anon MB | CPU % core | start CPU s | converge s (from last ready) | reconverge s | detect first/last s | UDP B/s/member | TCP B/s/member |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.system} | ${r.profile} | ${r.n} | ${f2(r.rssMb, 1)} (${f2(r.rssMaxMb, 1)}) | ${f2(r.anonMb, 1)} | ${f2(r.cpuPct, 3)} | ${f2(r.startCpuS)} | ${f2(r.convS)} (${f2(r.convReadyS)}) | ${f2(r.reconvS)} | ${f2(r.detectFirstS)}/${f2(r.detectLastS)} | ${f2(r.udpBps, 0)} | ${f2(r.tcpBps, 0)} |`);
}
for (const profile of PROFILES) {
  for (const n of SIZES) {
    const s = rows.find((r) => r.system === 'swimd' && r.profile === profile && r.n === n);
    const g = rows.find((r) => r.system === 'serf' && r.profile === profile && r.n === n);
    if (!s || !g) continue;
    console.log(`| swimd/serf | ${profile} | ${n} | ${ratio(s.rssMb, g.rssMb)} | ${ratio(s.anonMb, g.anonMb)} | ${ratio(s.cpuPct, g.cpuPct)} | ${ratio(s.startCpuS, g.startCpuS)} | ${ratio(s.convS, g.convS)} (${ratio(s.convReadyS, g.convReadyS)}) | ${ratio(s.reconvS, g.reconvS)} | ${ratio(s.detectFirstS, g.detectFirstS)}/${ratio(s.detectLastS, g.detectLastS)} | ${ratio(s.udpBps, g.udpBps)} | ${ratio(s.tcpBps, g.tcpBps)} |`);
  }
}
rmSync(dir, { recursive: true, force: true });
process.exit(0);
