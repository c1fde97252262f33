// What the grant round adds to failover, on loopback with real daemon processes.
//   node dist/bench/failover-latency.js [--members 5] [--kills 10] [--profile local]
// N daemons (quorum ⌊N/2⌋ + 1). Each repetition kills -9 the primary of one
// partition, and reads from the new owner's own watch stream when it recorded
// the victim suspect or dead (detection: a refused probe bars it from primary
// at once) and when it named itself primary with a higher token (failover);
// the difference is the hint and the grant round. The victim is then restarted
// with its data directory. Also reports swimd_ownership_claim_seconds.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwimdClient } from '../src/client/client.js';
import type { WatchLine } from '../src/api/views.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '..', 'src', 'cli', 'main.js');
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const N = Number(arg('members', '5'));
const KILLS = Number(arg('kills', '10'));
const PROFILE = arg('profile', 'local');
const P = 64;
const dir = mkdtempSync(join(tmpdir(), 'swimd-failover-'));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function until<T>(what: string, timeoutMs: number, f: () => Promise<T | null>): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    try {
      const v = await f();
      if (v !== null) return v;
    } catch {
      // not up yet
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const names = Array.from({ length: N }, (_, i) => `fo${i}`);
const ports: number[] = [];
for (let i = 0; i < N; i++) ports.push(await freePort());
const sock = (i: number): string => join(dir, `${names[i]}.sock`);
const procs: (ChildProcess | null)[] = names.map(() => null);
function start(i: number): void {
  const file = join(dir, `${names[i]}.yaml`);
  writeFileSync(file, [
    `node: { name: ${names[i]}, bind: 127.0.0.1:${ports[i]} }`,
    `join: [${ports.map((p) => `127.0.0.1:${p}`).join(', ')}]`,
    `profile: ${PROFILE}`,
    `partitions: { count: ${P}, replicas: 2, quorum: ${Math.floor(N / 2) + 1} }`,
    `api: { socket: ${sock(i)} }`,
    'log: { level: warn }',
  ].join('\n'));
  procs[i] = spawn(process.execPath, [CLI, 'agent', '--config', file], { stdio: ['ignore', 'ignore', 'inherit'] });
}
process.on('exit', () => {
  for (const p of procs) p?.kill('SIGKILL');
});

async function allOwned(): Promise<void> {
  await until('every partition owned on every daemon', 60_000, async () => {
    for (let i = 0; i < N; i++) {
      const p = await new SwimdClient(sock(i)).partitions();
      if (p.quorum !== 'ok' || p.partitions.some((x) => x.primary === null) || p.liveMembers !== N) return null;
    }
    return true;
  });
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

for (let i = 0; i < N; i++) start(i);
await allOwned();
const detect: number[] = [];
const round: number[] = [];
const failover: number[] = [];
/** Claim to quorum of grants, as the new owner's own histogram times it (mean over that failover's partitions). */
const inDaemon: number[] = [];
for (let k = 0; k < KILLS; k++) {
  const partition = k % P;
  const table = await new SwimdClient(sock(0)).partitions();
  const victimName = table.partitions[partition]!.primary!;
  const victim = names.indexOf(victimName);
  const oldToken = table.partitions[partition]!.token;
  const watchers = names.map((_, i) => {
    if (i === victim) return null;
    const ac = new AbortController();
    const lines: { at: number; line: WatchLine }[] = [];
    void (async () => {
      try {
        for await (const line of new SwimdClient(sock(i)).watch(ac.signal)) lines.push({ at: performance.now(), line });
      } catch {
        // closed
      }
    })();
    return { ac, lines, name: names[i]! };
  });
  await until('watch snapshots', 5_000, async () => (watchers.every((w) => w === null || w.lines.length > 0) ? true : null));
  // Each survivor's claim histogram before the kill: the new owner's difference afterwards is this failover's rounds, timed inside the daemon.
  const claimBefore = new Map<string, [number, number]>();
  for (let i = 0; i < N; i++) {
    if (i === victim) continue;
    const s = await new SwimdClient(sock(i)).metricSamples();
    claimBefore.set(names[i]!, [s.get('swimd_ownership_claim_seconds_sum') ?? 0, s.get('swimd_ownership_claim_seconds_count') ?? 0]);
  }
  const killedAt = performance.now();
  procs[victim]!.kill('SIGKILL');
  const owner = await until('a new owner', 60_000, async () => {
    for (const w of watchers) {
      if (!w) continue;
      const took = w.lines.find((l) => l.line.type === 'partitions' && l.line.changed.some((c) => c.id === partition && c.newPrimary === w.name && c.token > oldToken));
      if (took) return { w, at: took.at };
    }
    return null;
  });
  // What the new owner recorded first: the suspicion (a refused probe bars the victim from primary at once) or the death.
  const noticed = owner.w.lines.find((l) => l.line.type === 'member' && (l.line.event === 'suspect' || l.line.event === 'dead') && l.line.member.name === victimName);
  if (noticed) {
    detect.push(noticed.at - killedAt);
    round.push(owner.at - noticed.at);
  }
  failover.push(owner.at - killedAt);
  {
    const s = await new SwimdClient(sock(names.indexOf(owner.w.name))).metricSamples();
    const [sum0, n0] = claimBefore.get(owner.w.name)!;
    const dn = (s.get('swimd_ownership_claim_seconds_count') ?? 0) - n0;
    if (dn > 0) inDaemon.push((((s.get('swimd_ownership_claim_seconds_sum') ?? 0) - sum0) / dn) * 1000);
  }
  for (const w of watchers) w?.ac.abort();
  start(victim);
  await allOwned();
}
let claimSum = 0;
let claimCount = 0;
for (let i = 0; i < N; i++) {
  const s = await new SwimdClient(sock(i)).metricSamples();
  claimSum += s.get('swimd_ownership_claim_seconds_sum') ?? 0;
  claimCount += s.get('swimd_ownership_claim_seconds_count') ?? 0;
}
const f = (x: number): string => x.toFixed(1);
console.log(`failover on loopback, ${N} daemons (quorum ${Math.floor(N / 2) + 1}), ${PROFILE} profile, ${KILLS} kills of a primary`);
console.log('| figure | p50 ms | p99 ms | max ms |');
console.log('|---|---|---|---|');
console.log(`| kill -9 → the new owner records the suspicion (or the death) | ${f(quantile(detect, 0.5))} | ${f(quantile(detect, 0.99))} | ${f(Math.max(...detect))} |`);
console.log(`| that record → it names itself primary with a higher epoch (hint and grant round) | ${f(quantile(round, 0.5))} | ${f(quantile(round, 0.99))} | ${f(Math.max(...round))} |`);
console.log(`| claim → quorum of grants, timed inside the new owner (mean per failover) | ${f(quantile(inDaemon, 0.5))} | ${f(quantile(inDaemon, 0.99))} | ${f(Math.max(...inDaemon))} |`);
console.log(`| kill -9 → new owner named primary | ${f(quantile(failover, 0.5))} | ${f(quantile(failover, 0.99))} | ${f(Math.max(...failover))} |`);
console.log(`claim rounds committed on all daemons: ${claimCount}, mean ${claimCount > 0 ? ((claimSum / claimCount) * 1000).toFixed(2) : '-'} ms (swimd_ownership_claim_seconds, includes start-up claims)`);
for (const p of procs) p?.kill('SIGKILL');
process.exit(0);
