// A firewall that drops UDP but passes TCP, on real daemons in separate
// network namespaces: nftables drops every datagram to and from one of five
// hosts. Every other daemon must report that member as reached over TCP only
// (/v1/members), warn about it once, count it in swimd_members_tcp_only, and
// nobody may be suspected or declared dead; when the rules go, the path is
// direct again. Namespaces carry this file's own prefix and are removed also
// when the test fails.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwimdClient } from '../../src/client/client.js';
import { killAll, sleep, tmp, track, waitFor } from '../../harness/procs.js';
import { TestHosts } from '../../harness/hosts.js';

const HOSTS = 5;
const BLOCKED = 2;
const PORT = 7946;
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

const hosts = TestHosts.create(HOSTS, 'swr');
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
  killAll();
  hosts.destroy();
});

interface Daemon {
  name: string;
  ip: string;
  client: SwimdClient;
  /** pino JSON lines written so far. */
  lines: () => { level: number; time: number; msg: string; event?: string; member?: string }[];
}

function start(i: number): Daemon {
  const host = hosts.hosts[i]!;
  const name = `r${i + 1}`;
  const socket = join(tmp, `${name}.sock`);
  const file = join(tmp, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `node: { name: ${name}, bind: ${host.ip}:${PORT} }`,
      `join: [${hosts.hosts.slice(0, 2).map((h) => `${h.ip}:${PORT}`).join(', ')}]`,
      'profile: lan',
      // Faster rounds than LAN's so each member is probed every two seconds or so; the TCP fallback has the rest of the period (300 ms).
      'swim: { probeInterval: 500ms, probeTimeout: 200ms, gossipInterval: 100ms, udpBlockedAfterProbes: 3 }',
      'partitions: { count: 16, replicas: 2, quorum: 3 }',
      `api: { socket: ${socket} }`,
      'log: { level: info }',
    ].join('\n'),
  );
  const child = track(hosts.spawnIn(i, process.execPath, [CLI, 'agent', '--config', file], { stdio: ['ignore', 'pipe', 'inherit'] }));
  children.push(child);
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => (out += c));
  const lines = (): ReturnType<Daemon['lines']> =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as ReturnType<Daemon['lines']>[number]);
  return { name, ip: host.ip, client: new SwimdClient(socket), lines };
}

const daemons = Array.from({ length: HOSTS }, (_, i) => start(i));
const blocked = daemons[BLOCKED]!;
const others = daemons.filter((d) => d !== blocked);
let faultAtMs = Number.POSITIVE_INFINITY;
const WARNING = `UDP to ${blocked.name} ${blocked.ip}:${PORT} appears blocked; it answers over TCP only`;

async function allAlive(d: Daemon): Promise<boolean> {
  const ms = await d.client.members();
  return ms.filter((m) => m.state === 'alive').length === HOSTS;
}

/** Sends 20 datagrams and opens 5 TCP connections from host `from` to a spare port on host `to`; counts what arrived. */
async function udpAndTcpArrive(from: number, to: number): Promise<{ datagrams: number; connections: number }> {
  const ip = hosts.hosts[to]!.ip;
  const port = PORT + 10;
  const receiver = hosts.spawnIn(to, process.execPath, ['-e', `
    const d = require('dgram').createSocket('udp4'); let datagrams = 0, connections = 0;
    d.on('message', () => datagrams++);
    const s = require('net').createServer((c) => { connections++; c.end(); });
    d.bind(${port}, '${ip}', () => s.listen(${port}, '${ip}', () => process.stdout.write('ready\\n')));
    process.stdin.on('data', () => { process.stdout.write(JSON.stringify({ datagrams, connections }) + '\\n'); process.exit(0); });
    setTimeout(() => process.exit(1), 10000);`], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(receiver);
  let out = '';
  receiver.stdout!.setEncoding('utf8');
  receiver.stdout!.on('data', (c: string) => (out += c));
  await waitFor(() => out.includes('ready'), 5000, 'probe receiver up', 20);
  const sender = hosts.spawnIn(from, process.execPath, ['-e', `
    const d = require('dgram').createSocket('udp4'); const net = require('net');
    let sent = 0; const tick = () => { if (sent++ >= 20) return d.close(); d.send('x', ${port}, '${ip}', () => setTimeout(tick, 5)); }; tick();
    let open = 0; const next = () => { if (open++ >= 5) return; const c = net.connect(${port}, '${ip}', () => { c.end(); }); c.on('close', next); c.on('error', next); }; next();`]);
  children.push(sender);
  await new Promise((r) => sender.once('exit', r));
  await sleep(300);
  receiver.stdin!.write('report\n');
  const line = await waitFor(() => out.split('\n').find((l) => l.startsWith('{')), 5000, 'probe receiver report', 20);
  return JSON.parse(line!) as { datagrams: number; connections: number };
}

/** Suspicions and deaths a daemon logged since `sinceMs` (wall clock, as pino's time). */
function suspectsAndDeaths(d: Daemon, sinceMs: number): string[] {
  return d.lines().filter((l) => l.time >= sinceMs && (l.event === 'suspect' || l.event === 'dead')).map((l) => `${d.name}: ${l.event} ${l.member} at +${l.time - sinceMs} ms`);
}

test('five daemons on separate hosts form a cluster, every member reached directly', async () => {
  await waitFor(async () => (await Promise.all(daemons.map(allAlive))).every(Boolean), 30_000, 'every daemon sees five alive');
  const early = daemons.flatMap((d) => suspectsAndDeaths(d, 0));
  if (early.length > 0) console.log(`# suspicions while the cluster formed, before any filter: ${early.length}`);
  await waitFor(async () => {
    for (const d of others) if ((await d.client.members()).find((m) => m.name === blocked.name)?.reach?.path !== 'direct') return false;
    return true;
  }, 15_000, `every daemon reached ${blocked.name} directly`);
  // Without a filter the reachability probe sees both kinds arrive (so its zero below is the filter's doing).
  assert.deepEqual(await udpAndTcpArrive(0, BLOCKED), { datagrams: 20, connections: 5 });
});

test('with UDP dropped to and from one host, every other daemon reports it TCP-only and warns once; nobody is suspected or dead', async () => {
  const t0 = Date.now();
  faultAtMs = t0;
  hosts.blockUdpFrom(BLOCKED, others.map((_, k) => (k < BLOCKED ? k : k + 1)));
  for (let i = 0; i < HOSTS; i++) if (i !== BLOCKED) hosts.blockUdpFrom(i, [BLOCKED]);
  assert.equal(hosts.ruleCount(BLOCKED), 1);
  for (let i = 0; i < HOSTS; i++) if (i !== BLOCKED) assert.equal(hosts.ruleCount(i), 1, `rule on host ${i}`);
  // The filter is what it claims: datagrams from a peer do not arrive, its TCP connections do.
  assert.deepEqual(await udpAndTcpArrive(0, BLOCKED), { datagrams: 0, connections: 5 });
  await waitFor(async () => {
    for (const d of others) {
      const m = (await d.client.members()).find((x) => x.name === blocked.name);
      if (m?.reach?.path !== 'tcp' || !d.lines().some((l) => l.msg === WARNING)) return false;
    }
    return true;
  }, 45_000, `every daemon reports ${blocked.name} as TCP-only and warns`);
  console.log(`# every daemon warned within ${Date.now() - t0} ms of the filter`);
  // Keep the filter a while longer: still no second warning, no suspicion, no death.
  await sleep(15_000);
  for (const d of others) {
    const m = (await d.client.members()).find((x) => x.name === blocked.name)!;
    assert.equal(m.state, 'alive', `${d.name} sees ${blocked.name} alive`);
    assert.equal(m.reach?.path, 'tcp', `${d.name} still reaches ${blocked.name} over TCP only`);
    assert.ok((m.reach?.ageMs ?? Infinity) < 10_000, `${d.name} reached it recently (${m.reach?.ageMs} ms ago)`);
    const warnings = d.lines().filter((l) => l.msg === WARNING);
    assert.equal(warnings.length, 1, `${d.name} warned once`);
    assert.equal(warnings[0]!.level, 40, 'at warn');
    const h = (await d.client.health()) as { tcpOnlyMembers: number };
    assert.equal(h.tcpOnlyMembers, 1, `${d.name} counts one TCP-only member`);
    const metrics = await d.client.metrics();
    assert.match(metrics, /^swimd_members_tcp_only 1$/m);
    assert.match(metrics, /^swimd_udp_blocked_warnings_total 1$/m);
  }
  // The filtered member sees the same from its side.
  const fromBlocked = await blocked.client.members();
  for (const d of others) assert.equal(fromBlocked.find((m) => m.name === d.name)?.reach?.path, 'tcp', `${blocked.name} reaches ${d.name} over TCP only`);
  assert.ok(await allAlive(blocked), `${blocked.name} sees everyone alive`);
  assert.deepEqual(daemons.flatMap((d) => suspectsAndDeaths(d, t0)), [], 'no member suspected or declared dead');
});

test('when UDP passes again the path is direct and each episode ends at info', async () => {
  hosts.healAll();
  await waitFor(async () => {
    for (const d of others) if ((await d.client.members()).find((m) => m.name === blocked.name)?.reach?.path !== 'direct') return false;
    return true;
  }, 20_000, 'direct paths again');
  for (const d of others) {
    await waitFor(() => d.lines().some((l) => l.level === 30 && l.msg.startsWith(`UDP to ${blocked.name} ${blocked.ip}:${PORT} answers again`)), 5000, `${d.name} logs the end of the episode`);
    assert.match(await d.client.metrics(), /^swimd_members_tcp_only 0$/m);
  }
  assert.deepEqual(daemons.flatMap((d) => suspectsAndDeaths(d, faultAtMs)), []);
  // The CLI's members table shows the path too.
  const cli = spawnSync(process.execPath, [CLI, 'members', '--socket', join(tmp, `${others[0]!.name}.sock`)], { encoding: 'utf8', timeout: 10_000 });
  assert.match(cli.stdout, new RegExp(`^${blocked.name}\\s+\\S+\\s+alive\\s+\\d+\\s+direct `, 'm'));
});
