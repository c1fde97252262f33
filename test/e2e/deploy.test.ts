// Deployment paths: seeds named by host name, a join that reaches nobody
// (degraded, still running), and restarts that rejoin from the member snapshot
// in node.dataDir unless the member left through `swimd leave`.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwimdClient } from '../../src/client/client.js';
import { freePorts, killAll, sleep, tmp, track, waitFor } from '../../harness/procs.js';

after(killAll);
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const COMMON = ['profile: local', 'swim: { probeInterval: 200ms, probeTimeout: 100ms, gossipInterval: 50ms }', 'partitions: { count: 8, replicas: 2, quorum: 2 }', 'log: { level: info }'];

interface Member {
  name: string;
  sock: string;
  client: SwimdClient;
  logFile: string;
  start(joinLine: string | null): ChildProcess;
}

function member(name: string, port: number): Member {
  const sock = join(tmp, `${name}.sock`);
  const logFile = join(tmp, `${name}.log`);
  return {
    name,
    sock,
    client: new SwimdClient(sock),
    logFile,
    start(joinLine) {
      const file = join(tmp, `${name}.yaml`);
      writeFileSync(file, [`node: { name: ${name}, bind: 127.0.0.1:${port}, dataDir: ${join(tmp, `${name}-data`)} }`, ...(joinLine ? [joinLine] : []), `api: { socket: ${sock} }`, ...COMMON].join('\n'));
      // Logs go to a file the test reads (appended across restarts).
      const child = track(spawn(process.execPath, [CLI, 'agent', '--config', file], { stdio: ['ignore', 'pipe', 'inherit'] }));
      child.stdout!.on('data', (b: Buffer) => writeFileSync(logFile, b, { flag: 'a' }));
      return child;
    },
  };
}

const aliveNames = async (m: Member): Promise<string[]> => (await m.client.members()).filter((x) => x.state === 'alive').map((x) => x.name).sort();
const exited = (c: ChildProcess): Promise<unknown> => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)));

test('host-name seeds: localhost joins (an unusable ::1 seed does not fail it); unreachable and unknown seeds are retried, then degraded while the member runs', async () => {
  const [pa, pb, pc, dead] = await freePorts(4);
  const a = member('dn-a', pa!);
  const b = member('dn-b', pb!);
  const c = member('dn-c', pc!);
  const pA = a.start(null);
  await waitFor(async () => (await aliveNames(a)).length === 1, 30_000, 'dn-a up');
  const pB = b.start(`join: { seeds: ["[::1]:${pa}", "localhost:${pa}"], retryInterval: 200ms, retryMax: 3 }`);
  await waitFor(async () => (await aliveNames(b)).join() === 'dn-a,dn-b', 40_000, 'dn-b joined dn-a through localhost');
  const hb = await b.client.health();
  assert.equal((hb.join as { state: string }).state, 'joined');
  const bLog = readFileSync(b.logFile, 'utf8');
  assert.match(bLog, /"seeds":\["\[::1\]:\d+","localhost:\d+"\],"addresses":\["127\.0\.0\.1:\d+"\]/, 'the attempt is logged with names and addresses');

  const pC = c.start(`join: { seeds: ["no-such-host.invalid:7946", "127.0.0.1:${dead}"], retryInterval: 100ms, retryMax: 3 }`);
  await waitFor(async () => ((await c.client.health()).join as { state: string } | undefined)?.state === 'failed', 40_000, 'dn-c gives up after retryMax');
  const hc = await c.client.health();
  assert.equal(hc.status, 'degraded');
  const jc = hc.join as { attempts: number; reason: string };
  assert.equal(jc.attempts, 3);
  assert.match(jc.reason, /no-such-host\.invalid:7946: ENOTFOUND/);
  assert.match(jc.reason, /no seed answered/);
  assert.deepEqual(await aliveNames(c), ['dn-c'], 'still running, alone');
  const cLog = readFileSync(c.logFile, 'utf8');
  assert.equal(cLog.split('\n').filter((l) => l.includes('"msg":"joining seeds"')).length, 3, 'one info line per attempt');
  assert.match(cLog, /join failed on the last attempt/);
  for (const p of [pA, pB, pC]) p.kill('SIGKILL');
  await Promise.all([pA, pB, pC].map(exited));
});

test('host names in node.bind and node.advertise are resolved once at start; one that does not resolve stops the agent naming the field', async () => {
  const [port] = await freePorts(1);
  const file = join(tmp, 'bn.yaml');
  const sock = join(tmp, 'bn.sock');
  const lines = (bind: string, advertise: string): string => [`node: { name: bn, bind: "${bind}", advertise: "${advertise}", dataDir: ${join(tmp, 'bn-data')} }`, `api: { socket: ${sock} }`, ...COMMON].join('\n');
  writeFileSync(file, lines(`localhost:${port}`, 'no-such-host.invalid:7946'));
  const bad = spawnSync(process.execPath, [CLI, 'agent', '--config', file], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /cannot start: node\.advertise: "no-such-host\.invalid:7946" does not resolve \(ENOTFOUND\)/);
  writeFileSync(file, lines(`localhost:${port}`, `localhost:${port}`));
  const p = track(spawn(process.execPath, [CLI, 'agent', '--config', file], { stdio: ['ignore', 'ignore', 'inherit'] }));
  const me = await waitFor(async () => (await new SwimdClient(sock).members())[0], 30_000, 'bn up');
  assert.deepEqual([me.address, me.port], ['127.0.0.1', port], 'advertised at the resolved address');
  p.kill('SIGKILL');
  await exited(p);
});

test('snapshot: a member restarted with no join list rejoins the members it knew; after swimd leave it does not', async () => {
  const ports = await freePorts(3);
  const ms = ['sn-a', 'sn-b', 'sn-c'].map((n, i) => member(n, ports[i]!));
  // Only sn-a is a seed: a member whose seeds name sn-c would pull it back in after its leave.
  const procs = ms.map((m, i) => m.start(i === 0 ? null : `join: [127.0.0.1:${ports[0]}]`));
  for (const m of ms) await waitFor(async () => (await aliveNames(m)).length === 3, 40_000, `${m.name} sees all three`);
  // The snapshot is written within its interval once the membership changed.
  const snapFile = join(tmp, 'sn-c-data', 'members.json');
  await waitFor(() => {
    const s = JSON.parse(readFileSync(snapFile, 'utf8')) as { members: { name: string; state: string }[] };
    return s.members.filter((x) => x.state === 'alive').length === 2;
  }, 30_000, 'sn-c has both peers in its snapshot');

  procs[2]!.kill('SIGTERM');
  await exited(procs[2]!);
  await waitFor(async () => !(await aliveNames(ms[0]!)).includes('sn-c'), 30_000, 'sn-c gone');
  // No join list at all: only the snapshot can bring it back.
  let c = ms[2]!.start(null);
  await waitFor(async () => (await aliveNames(ms[2]!)).length === 3, 40_000, 'sn-c rejoined from its snapshot');
  const h = (await ms[2]!.client.health()).join as { state: string; via: string };
  assert.deepEqual([h.state, h.via], ['joined', 'snapshot']);
  await waitFor(async () => (await aliveNames(ms[0]!)).includes('sn-c'), 30_000, 'sn-a sees sn-c again');

  // swimd leave: recorded in the snapshot; the next start without seeds stays alone.
  const r = spawnSync(process.execPath, [CLI, 'leave', '--socket', ms[2]!.sock], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(r.status, 0, r.stderr);
  await exited(c);
  assert.equal(JSON.parse(readFileSync(snapFile, 'utf8')).left, true, 'the leave is recorded');
  await waitFor(async () => (await ms[0]!.client.members()).find((x) => x.name === 'sn-c')?.state === 'left', 30_000, 'sn-a records the leave');
  c = ms[2]!.start(null);
  await waitFor(async () => ((await ms[2]!.client.health()).join as { state: string } | undefined)?.state === 'alone', 30_000, 'sn-c up, alone');
  // Long enough for a rejoin to have happened (it took well under a second above).
  await sleep(2_000);
  assert.deepEqual(await aliveNames(ms[2]!), ['sn-c'], 'after swimd leave, a start without seeds does not rejoin');
  assert.ok(!(await aliveNames(ms[0]!)).includes('sn-c'));
  assert.match(readFileSync(ms[2]!.logFile, 'utf8'), /left the cluster \(swimd leave\) before its last stop and has no seeds/);
  for (const p of [...procs, c]) p.kill('SIGKILL');
});
