// The start-up check of both paths to the seeds, between real daemons on
// loopback: a seed reached through a TCP-only forwarder (nothing answers UDP at
// its port) is reported as answering over TCP but not UDP, in the log and in
// /v1/health; a real seed answers over both. /v1/members and `swimd members`
// show the path each member was last reached by.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, connect, type Server } from 'node:net';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwimdClient } from '../../src/client/client.js';
import { freePorts, killAll, tmp, track, waitFor } from '../../harness/procs.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '..', '..', 'src', 'cli', 'main.js');
const [PORT_A, PORT_FORWARDER, PORT_B, PORT_C] = (await freePorts(4)) as [number, number, number, number];
const servers: Server[] = [];
after(() => {
  killAll();
  for (const s of servers) s.close();
});

interface Started {
  client: SwimdClient;
  socket: string;
  output: () => string;
}

function startDaemon(name: string, port: number, join: number[]): Started {
  const socket = `${tmp}/${name}.sock`;
  const file = `${tmp}/${name}.yaml`;
  writeFileSync(
    file,
    [
      `node: { name: ${name}, bind: 127.0.0.1:${port} }`,
      `join: [${join.map((p) => `127.0.0.1:${p}`).join(', ')}]`,
      'profile: local',
      'swim: { probeInterval: 200ms, probeTimeout: 100ms, gossipInterval: 50ms }',
      'partitions: { count: 8, replicas: 2, quorum: 2 }',
      `api: { socket: ${socket} }`,
      'log: { level: info }',
    ].join('\n'),
  );
  const child = track(spawn(process.execPath, [CLI, 'agent', '--config', file], { stdio: ['ignore', 'pipe', 'inherit'] }));
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => (out += c));
  return { client: new SwimdClient(socket), socket, output: () => out };
}

/** Forwards TCP connections on `from` to `to`; UDP at `from` reaches nobody. */
async function tcpForwarder(from: number, to: number): Promise<void> {
  const server = createServer((inbound) => {
    const outbound = connect(to, '127.0.0.1');
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(from, '127.0.0.1', resolve));
}

type Health = { seeds: { state: string; seeds: { address: string; udp: boolean; tcp: boolean }[] } };

async function settledSeedCheck(d: Started): Promise<Health['seeds']> {
  return waitFor<Health['seeds'] | null>(async () => {
    try {
      const h = (await d.client.health()) as unknown as Health;
      return h.seeds.state === 'checking' ? null : h.seeds;
    } catch {
      return null;
    }
  }, 10_000, 'seed check result') as Promise<Health['seeds']>;
}

const a = startDaemon('sc-a', PORT_A, []);

test('a member without seeds reports no seed check', async () => {
  const seeds = await settledSeedCheck(a);
  assert.deepEqual(seeds, { state: 'none', seeds: [] });
});

test('a seed that answers over TCP only is named in a warning and in /v1/health', async () => {
  await tcpForwarder(PORT_FORWARDER, PORT_A);
  const b = startDaemon('sc-b', PORT_B, [PORT_FORWARDER]);
  const seeds = await settledSeedCheck(b);
  assert.deepEqual(seeds, { state: 'failed', seeds: [{ address: `127.0.0.1:${PORT_FORWARDER}`, udp: false, tcp: true }] });
  const line = await waitFor(() => b.output().split('\n').find((l) => l.includes('answers over TCP but not UDP')), 5000, 'the warning line');
  const parsed = JSON.parse(line!) as { level: number; msg: string };
  assert.equal(parsed.level, 40, 'logged at warn');
  assert.equal(parsed.msg, `seed 127.0.0.1:${PORT_FORWARDER} answers over TCP but not UDP`);
  const status = spawnSync(process.execPath, [CLI, 'status', '--socket', b.socket], { encoding: 'utf8', timeout: 10_000 });
  assert.match(status.stdout, new RegExp(`^paths\\s+seed check failed \\(127\\.0\\.0\\.1:${PORT_FORWARDER} tcp only\\), \\d+ members reached over TCP only$`, 'm'), status.stdout + status.stderr);
});

test('a real seed answers over both; members show how each was last reached', async () => {
  const c = startDaemon('sc-c', PORT_C, [PORT_A]);
  const seeds = await settledSeedCheck(c);
  assert.deepEqual(seeds, { state: 'ok', seeds: [{ address: `127.0.0.1:${PORT_A}`, udp: true, tcp: true }] });
  assert.ok(!c.output().includes('answers over TCP but not UDP'));
  const reachOfA = (await waitFor(async () => (await c.client.members()).find((m) => m.name === 'sc-a' && m.reach !== null)?.reach, 10_000, 'a probe of sc-a answered'))!;
  assert.equal(reachOfA.path, 'direct');
  assert.ok(typeof reachOfA.ageMs === 'number' && reachOfA.ageMs >= 0 && reachOfA.ageMs < 10_000, `age ${reachOfA.ageMs}`);
  const self = (await c.client.members()).find((m) => m.name === 'sc-c');
  assert.equal(self?.reach, null, 'a member does not probe itself');
  const cli = spawnSync(process.execPath, [CLI, 'members', '--socket', c.socket], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /^NAME\s+ADDRESS\s+STATE\s+INC\s+REACH\s+META/m);
  assert.match(cli.stdout, /^sc-a\s+\S+\s+alive\s+\d+\s+direct [\d.]+s ago/m);
});
