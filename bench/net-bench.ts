// swimd vs HashiCorp memberlist over real UDP on loopback, side by side in one run.
//   node dist/bench/net-bench.js [--k 64] [--reps 3] [--steady 10] [--settle 20] [--profiles local100,lan]
//   node dist/bench/net-bench.js --members 64,256 --steady 300 [--settle 20] [--profiles lan] [--join-spacing-ms 50] [--converge-timeout 600]
// With --members it runs swimd alone at each size (no kills, no memberlist) and
// prints steady bytes and CPU per member, to show they stay flat as N grows.
// Runs K swimd members in this process, then ../shared/peers/memberlist-bench (built
// from Debian's memberlist 0.2.2 by its build.sh) at the same settings, and prints
// swimd / memberlist ratios. Absolute figures drift on shared machines; ratios less so.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Agent } from '../src/agent/agent.js';
import { presetConfig } from '../src/config/presets.js';
import type { SwimConfig } from '../src/base/swim-config.js';

const here = dirname(fileURLToPath(import.meta.url));
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const K = Number(arg('k', '64'));
const REPS = Number(arg('reps', '3'));
const STEADY_S = Number(arg('steady', '10'));
// Both systems wait this long after convergence before the steady-state window,
// so start-up work (join gossip, swimd's push/pull ramp) stays out of it.
const SETTLE_S = Number(arg('settle', '20'));
const PROFILES = arg('profiles', 'local100,lan').split(',');
const SWIM_BASE = Number(arg('base-port', '25000'));
const ML_BASE = SWIM_BASE + 500;
const TIMEOUT_MS = 120_000;
/** --members mode: pause between starting members (0: as fast as sockets bind), and how long the first convergence may take. */
const JOIN_SPACING_MS = Number(arg('join-spacing-ms', '0'));
const CONVERGE_TIMEOUT_S = Number(arg('converge-timeout', '600'));
/** --members mode: each member's UDP receive buffer in bytes (0: the kernel's default). */
const UDP_RECV_BUFFER = Number(arg('udp-recv-buffer', '0'));

interface Figures {
  convergeS: number;
  cpuPctPerMember: number;
  udpBpsPerMember: number;
  firstSuspectS: number;
  firstDeadS: number;
  lastDeadS: number;
  reconvergeS: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitUntil(check: () => boolean, what: string, timeoutMs = TIMEOUT_MS): Promise<number> {
  const t0 = performance.now();
  while (!check()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`bench: ${what} not reached in ${timeoutMs} ms`);
    await sleep(10);
  }
  return (performance.now() - t0) / 1000;
}

function configFor(profile: string): SwimConfig {
  if (profile === 'local100') return { ...presetConfig('local'), probeIntervalMs: 100 };
  return presetConfig(profile as 'lan' | 'wan' | 'local');
}

async function benchSwimd(profile: string): Promise<Figures> {
  const cfg = configFor(profile);
  const seed = { host: '127.0.0.1', port: SWIM_BASE };
  const start = (i: number): Promise<Agent> => Agent.start({ name: `m${i}`, bind: { host: '127.0.0.1', port: SWIM_BASE + i }, join: i === 0 ? [] : [seed], config: cfg });
  const agents: Agent[] = [];
  for (let i = 0; i < K; i++) agents.push(await start(i));
  const allAlive = (): boolean => agents.every((a) => a.node.aliveCount() === K);
  const convergeS = await waitUntil(allAlive, 'initial convergence');
  await sleep(SETTLE_S * 1000);
  const cpu0 = process.cpuUsage();
  const bytes = (): number => agents.reduce((n, a) => n + (a.transportStats().udp_bytesSent ?? 0), 0);
  const b0 = bytes();
  const t0 = performance.now();
  await sleep(STEADY_S * 1000);
  const dt = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuPctPerMember = ((cpu.user + cpu.system) / 1e6 / dt / K) * 100;
  const udpBpsPerMember = (bytes() - b0) / dt / K;
  const sus: number[] = [];
  const first: number[] = [];
  const last: number[] = [];
  const reconv: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const vi = 1 + ((rep * 17 + 5) % (K - 1));
    const victim = agents[vi]!;
    const name = victim.node.name;
    const survivors = agents.filter((a) => a !== victim);
    const tKill = performance.now();
    let firstSuspect = Infinity;
    const deadAt = new Map<string, number>();
    const unsubs = survivors.map((a) =>
      a.node.on((ev) => {
        if (ev.member.name !== name) return;
        const t = (performance.now() - tKill) / 1000;
        if (ev.kind === 'suspect') firstSuspect = Math.min(firstSuspect, t);
        if (ev.kind === 'dead' && !deadAt.has(a.node.name)) deadAt.set(a.node.name, t);
      }),
    );
    await victim.shutdown(); // abrupt: no leave
    await waitUntil(() => deadAt.size === survivors.length, 'detection by every survivor');
    unsubs.forEach((u) => u());
    sus.push(firstSuspect);
    first.push(Math.min(...deadAt.values()));
    last.push(Math.max(...deadAt.values()));
    await sleep(500);
    agents[vi] = await start(vi);
    reconv.push(await waitUntil(allAlive, 'reconvergence after restart'));
    await sleep(1000);
  }
  await Promise.all(agents.map((a) => a.shutdown()));
  return { convergeS, cpuPctPerMember, udpBpsPerMember, firstSuspectS: median(sus), firstDeadS: median(first), lastDeadS: median(last), reconvergeS: median(reconv) };
}

function memberlistBinary(): string {
  const bin = '/tmp/memberlist-bench';
  if (existsSync(bin)) return bin;
  const script = join(here, '..', '..', '..', 'shared', 'peers', 'memberlist-bench', 'build.sh');
  const alt = join(here, '..', '..', 'shared', 'peers', 'memberlist-bench', 'build.sh');
  execFileSync('bash', [existsSync(script) ? script : alt, bin], { stdio: 'inherit' });
  return bin;
}

async function benchMemberlist(profile: string): Promise<Figures> {
  const bin = memberlistBinary();
  const args = ['-k', String(K), '-reps', String(REPS), '-steady', `${STEADY_S}s`, '-settle', `${SETTLE_S}s`, '-base-port', String(ML_BASE), '-json', '-timeout', '120s'];
  if (profile === 'local100') args.push('-profile', 'local', '-probe-interval', '100ms');
  else args.push('-profile', profile);
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', (b: Buffer) => (text += b.toString()));
    p.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`memberlist-bench exited ${code}`))));
  });
  const json = JSON.parse(out.split('\n').find((l) => l.startsWith('JSON '))!.slice(5));
  const conv = /initial convergence: ([\d.]+)s/.exec(out);
  const reps = json.reps as { ReconvergeS: number }[];
  return {
    convergeS: conv ? Number(conv[1]) : NaN,
    cpuPctPerMember: json.cpu_pct_per_instance,
    udpBpsPerMember: json.udp_sent_Bps_per_instance,
    firstSuspectS: json.first_suspect.Median,
    firstDeadS: json.first_leave.Median,
    lastDeadS: json.last_leave.Median,
    reconvergeS: median(reps.map((r) => r.ReconvergeS)),
  };
}

/** swimd alone at each size: converge, settle, then a steady window of bytes and CPU per member. */
async function scaleSwimd(sizes: number[], profile: string): Promise<void> {
  console.log(`command: node dist/bench/net-bench.js --members ${sizes.join(',')} --steady ${STEADY_S} --settle ${SETTLE_S} --profiles ${profile} --join-spacing-ms ${JOIN_SPACING_MS}${UDP_RECV_BUFFER > 0 ? ` --udp-recv-buffer ${UDP_RECV_BUFFER}` : ''}`);
  console.log('\n| members | converge (s) | steady window (s) | UDP bytes/member/s | UDP datagrams/member/s | TCP bytes/member/s | CPU per member (% of a core) | CPU, whole process (% of a core) | suspicions / dead in the window | event-loop delay p99 / max (ms) | heap (MB) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  const cfg = configFor(profile);
  for (const k of sizes) {
    // Port 0: each member binds a port the OS picks (TCP, then UDP on the same
    // port); a fixed range, or ports picked ahead, collide on a shared machine.
    const agents: Agent[] = [];
    for (let i = 0; i < k; i++) {
      // The OS picks a free TCP port; its UDP twin may be taken (other work binds ephemeral UDP ports): try another.
      for (let attempt = 1; ; attempt++) {
        try {
          agents.push(await Agent.start({ name: `m${i}`, bind: { host: '127.0.0.1', port: 0 }, join: i === 0 ? [] : [agents[0]!.address], config: cfg, ...(UDP_RECV_BUFFER > 0 ? { transport: { udpRecvBufferBytes: UDP_RECV_BUFFER } } : {}) }));
          break;
        } catch (err) {
          if ((err as { code?: string }).code !== 'EADDRINUSE' || attempt >= 10) throw err;
        }
      }
      if (JOIN_SPACING_MS > 0) await sleep(JOIN_SPACING_MS);
    }
    const least = (): number => Math.min(...agents.map((a) => a.node.aliveCount()));
    const convergeS = await waitUntil(() => least() === k, 'initial convergence', CONVERGE_TIMEOUT_S * 1000).catch((err: Error) => {
      throw new Error(`${err.message}; the least complete view holds ${least()} of ${k} alive`);
    });
    await sleep(SETTLE_S * 1000);
    const sum = (key: string): number => agents.reduce((n, a) => n + (a.transportStats()[key] ?? 0), 0);
    const b0 = sum('udp_bytesSent');
    const p0 = sum('udp_sent');
    const tcp0 = sum('tcp_bytesSent');
    // False suspicions in the window, and how late the event loop ran: 256 members in one
    // process on a loaded machine can miss their 500 ms probe deadlines.
    let suspicions = 0;
    let deaths = 0;
    const unsubs = agents.map((a) =>
      a.node.on((ev) => {
        if (ev.kind === 'suspect') suspicions++;
        if (ev.kind === 'dead') deaths++;
      }),
    );
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(STEADY_S * 1000);
    const dt = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuPct = ((cpu.user + cpu.system) / 1e6 / dt) * 100;
    lag.disable();
    unsubs.forEach((u) => u());
    const alive = agents.every((a) => a.node.aliveCount() === k);
    console.log(
      `| ${k} | ${convergeS.toFixed(2)} | ${dt.toFixed(0)}${alive ? '' : ' (view not whole at the end)'} | ${((sum('udp_bytesSent') - b0) / dt / k).toFixed(1)} | ${((sum('udp_sent') - p0) / dt / k).toFixed(2)} | ${((sum('tcp_bytesSent') - tcp0) / dt / k).toFixed(1)} | ${(cpuPct / k).toFixed(3)} | ${cpuPct.toFixed(1)} | ${suspicions} / ${deaths} | ${(lag.percentile(99) / 1e6).toFixed(0)} / ${(lag.max / 1e6).toFixed(0)} | ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} |`,
    );
    await Promise.all(agents.map((a) => a.shutdown()));
    await sleep(1000);
  }
}

const scaleSizes = arg('members', '');
if (scaleSizes !== '') {
  await scaleSwimd(scaleSizes.split(',').map(Number), arg('profiles', 'lan'));
  process.exit(0);
}

console.log(`command: node dist/bench/net-bench.js --k ${K} --reps ${REPS} --steady ${STEADY_S} --settle ${SETTLE_S} --profiles ${PROFILES.join(',')}`);
const rows: string[] = [];
for (const profile of PROFILES) {
  const s = await benchSwimd(profile);
  const m = await benchMemberlist(profile);
  const label = profile === 'local100' ? 'local, probe 100 ms' : profile;
  const r = (a: number, b: number): string => (b > 0 ? (a / b).toFixed(2) : 'n/a');
  const f = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  rows.push(`| ${label} | first suspicion (s) | ${f(s.firstSuspectS)} | ${f(m.firstSuspectS)} | ${r(s.firstSuspectS, m.firstSuspectS)} |`);
  rows.push(`| ${label} | first survivor detects (s) | ${f(s.firstDeadS)} | ${f(m.firstDeadS)} | ${r(s.firstDeadS, m.firstDeadS)} |`);
  rows.push(`| ${label} | last survivor detects (s) | ${f(s.lastDeadS)} | ${f(m.lastDeadS)} | ${r(s.lastDeadS, m.lastDeadS)} |`);
  rows.push(`| ${label} | CPU per member (% of a core) | ${f(s.cpuPctPerMember, 3)} | ${f(m.cpuPctPerMember, 3)} | ${r(s.cpuPctPerMember, m.cpuPctPerMember)} |`);
  rows.push(`| ${label} | UDP bytes per member per s | ${f(s.udpBpsPerMember, 0)} | ${f(m.udpBpsPerMember, 0)} | ${r(s.udpBpsPerMember, m.udpBpsPerMember)} |`);
  rows.push(`| ${label} | initial convergence (s) | ${f(s.convergeS)} | ${f(m.convergeS)} | ${r(s.convergeS, m.convergeS)} |`);
  rows.push(`| ${label} | reconvergence after restart (s) | ${f(s.reconvergeS)} | ${f(m.reconvergeS)} | ${r(s.reconvergeS, m.reconvergeS)} |`);
}
console.log(`\nK = ${K}, ${REPS} kills each, medians; swimd / memberlist 0.2.2 (Debian)\n`);
console.log('| config | figure | swimd | memberlist | ratio |');
console.log('|---|---|---|---|---|');
for (const row of rows) console.log(row);
process.exit(0);
