// The socket API under steady request load while the member gossips: does the
// protocol keep its rhythm? Four daemons on loopback (local preset, 100 ms probe
// interval, so a stall of one period shows); one of them serves --rps requests
// per second (open loop, a mix of the read endpoints) for --seconds. Reported per
// phase (idle, then loaded) for the loaded daemon and, as the baseline in the
// same run, for the others: protocol periods run, periods started late by more
// than 2 / 10 / 50 ms, whole periods missed; and the request latency.
//   node dist/bench/api-load.js [--rps 1000] [--seconds 30] [--idle 15]
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwimdClient } from '../src/client/client.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const RPS = Number(arg('rps', '1000'));
const LOAD_S = Number(arg('seconds', '30'));
const IDLE_S = Number(arg('idle', '15'));
const MEMBERS = 4;
const BASE_PORT = 27101;

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '..', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'swimd-api-load-'));
const sock = (i: number): string => join(dir, `l${i}.sock`);
const children: ChildProcess[] = [];
const cleanup = (): void => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

for (let i = 0; i < MEMBERS; i++) {
  const cfg = join(dir, `l${i}.yaml`);
  writeFileSync(
    cfg,
    [
      `node: { name: l${i}, bind: 127.0.0.1:${BASE_PORT + i} }`,
      `join: [127.0.0.1:${BASE_PORT}]`,
      'profile: local',
      'swim: { probeInterval: 100ms, probeTimeout: 50ms }',
      `partitions: { count: 256, replicas: 3, quorum: ${Math.floor(MEMBERS / 2) + 1} }`,
      `api: { socket: ${sock(i)} }`,
      'log: { level: warn }',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [CLI, 'agent', '--config', cfg], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
}
const clients = children.map((_, i) => new SwimdClient(sock(i)));

async function waitConverged(): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const views = await Promise.all(clients.map((c) => c.members()));
      if (views.every((v) => v.filter((m) => m.state === 'alive').length === MEMBERS)) return;
    } catch {
      // Sockets not up yet.
    }
    await sleep(200);
  }
  throw new Error('the four daemons did not converge within 30 s');
}

interface Rhythm {
  periods: number;
  late2: number;
  late10: number;
  late50: number;
  missed: number;
}

/** Reads the lateness histogram and the missed-period counter from /metrics. */
async function rhythm(i: number): Promise<Rhythm> {
  const m = await clients[i]!.metricSamples();
  const at = (series: string): number => m.get(series) ?? NaN;
  const periods = at('swimd_probe_period_lateness_seconds_count');
  const within = (le: string): number => at(`swimd_probe_period_lateness_seconds_bucket{le="${le}"}`);
  return { periods, late2: periods - within('0.002'), late10: periods - within('0.01'), late50: periods - within('0.05'), missed: at('swimd_missed_probe_periods_total') };
}

const minus = (a: Rhythm, b: Rhythm): Rhythm => ({ periods: a.periods - b.periods, late2: a.late2 - b.late2, late10: a.late10 - b.late10, late50: a.late50 - b.late50, missed: a.missed - b.missed });
const sum = (xs: Rhythm[]): Rhythm => xs.reduce((a, b) => ({ periods: a.periods + b.periods, late2: a.late2 + b.late2, late10: a.late10 + b.late10, late50: a.late50 + b.late50, missed: a.missed + b.missed }));
const all = (): Promise<Rhythm[]> => Promise.all(clients.map((_, i) => rhythm(i)));

const PATHS = ['/v1/partitions', '/v1/owned', '/v1/members', '/v1/self', '/v1/health'];

/** Open-loop load: requests are started on a fixed schedule whether or not earlier ones finished. */
async function load(seconds: number): Promise<{ sent: number; ok: number; errors: number; latenciesMs: number[] }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const latenciesMs: number[] = [];
  let sent = 0;
  let ok = 0;
  let errors = 0;
  const tickMs = 10;
  const perTick = RPS * (tickMs / 1000);
  const start = Date.now();
  let owed = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Date.now() - start;
      if (elapsed >= seconds * 1000) {
        clearInterval(timer);
        resolve();
        return;
      }
      // Catch up on ticks the timer fired late for, so the rate holds.
      owed = Math.round((elapsed / 1000) * RPS) - sent;
      for (let k = 0; k < Math.max(perTick, owed); k++) {
        const path = PATHS[sent % PATHS.length]!;
        sent++;
        const t0 = performance.now();
        const req = request({ socketPath: sock(0), path, agent }, (res) => {
          res.resume();
          res.on('end', () => {
            latenciesMs.push(performance.now() - t0);
            if ((res.statusCode ?? 500) < 400 || path === '/v1/health') ok++;
            else errors++;
          });
        });
        req.on('error', () => errors++);
        req.end();
      }
    }, tickMs);
  });
  await sleep(1000);
  agent.destroy();
  return { sent, ok, errors, latenciesMs };
}

const pct = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : NaN;
};

async function main(): Promise<void> {
  await waitConverged();
  await sleep(2000);
  const r0 = await all();
  await sleep(IDLE_S * 1000);
  const r1 = await all();
  const res = await load(LOAD_S);
  const r2 = await all();
  const idle = r1.map((r, i) => minus(r, r0[i]!));
  const loaded = r2.map((r, i) => minus(r, r1[i]!));
  const row = (what: string, r: Rhythm): string => `| ${what} | ${r.periods} | ${r.late2} | ${r.late10} | ${r.late50} | ${r.missed} |`;
  console.log(`command: node dist/bench/api-load.js --rps ${RPS} --seconds ${LOAD_S} --idle ${IDLE_S}`);
  console.log(`\nLoad on l0: ${res.sent} requests in ${LOAD_S} s (${(res.sent / LOAD_S).toFixed(0)}/s offered), ${res.ok} ok, ${res.errors} errors; latency p50 ${pct(res.latenciesMs, 0.5).toFixed(2)} ms, p99 ${pct(res.latenciesMs, 0.99).toFixed(2)} ms, max ${pct(res.latenciesMs, 1).toFixed(1)} ms`);
  console.log('\nProtocol rhythm (probe interval 100 ms):');
  console.log('| daemon, phase | periods run | started > 2 ms late | > 10 ms late | > 50 ms late | whole periods missed |');
  console.log('|---|---|---|---|---|---|');
  console.log(row(`l0, idle ${IDLE_S} s`, idle[0]!));
  console.log(row(`l0, under ${RPS} req/s for ${LOAD_S} s`, loaded[0]!));
  console.log(row(`l1–l3, idle ${IDLE_S} s`, sum(idle.slice(1))));
  console.log(row(`l1–l3, while l0 is loaded`, sum(loaded.slice(1))));
  const views = await Promise.all(clients.map((c) => c.members()));
  const suspects = views.flat().filter((m) => m.state !== 'alive').length;
  console.log(`\nafter the load: ${suspects} non-alive entries across the four views`);
}

main()
  .then(() => process.exit(0))
  .catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
