// Partition ownership in a cluster shared with a Serf agent: only swimd daemons
// hold partitions and are asked for grants, failover keeps fencing, and the Serf
// agent logs no error or unknown message because of swimd.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwimdClient } from '../../src/client/client.js';
import { freePorts, killAll, requireSerf, serfCommand, tmp, track, waitFor } from '../../harness/procs.js';

requireSerf();
after(killAll);
const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '..', '..', 'src', 'cli', 'main.js');

test('three swimd daemons beside a serf agent: only swimd members own partitions; kill -9 moves them with higher epochs; serf logs nothing about it', async () => {
  const [serfPort, serfRpc, ...ports] = await freePorts(5);
  const serfLog = join(tmp, 'serf-own.log');
  const fd = openSync(serfLog, 'w');
  track(spawn('serf', ['agent', '-node=serf-1', `-bind=127.0.0.1:${serfPort}`, `-rpc-addr=127.0.0.1:${serfRpc}`, '-log-level=debug'], { stdio: ['ignore', fd, fd] }));
  const rpc = `127.0.0.1:${serfRpc}`;
  await waitFor(() => serfCommand(rpc, ['members']).status === 0, 10_000, 'serf up');
  const names = ['own-a', 'own-b', 'own-c'];
  const socks = names.map((n) => join(tmp, `${n}.sock`));
  const procs = names.map((n, i) => {
    const file = join(tmp, `${n}.yaml`);
    writeFileSync(file, [
      `node: { name: ${n}, bind: 127.0.0.1:${ports[i]} }`,
      `join: [127.0.0.1:${serfPort}]`,
      'profile: lan',
      'swim: { probeInterval: 500ms, probeTimeout: 200ms }',
      'partitions: { count: 16, replicas: 2, quorum: 2 }',
      `api: { socket: ${socks[i]} }`,
      'log: { level: warn }',
    ].join('\n'));
    return track(spawn(process.execPath, [CLI, 'agent', '--config', file], { stdio: ['ignore', 'ignore', 'inherit'] }));
  });
  const client = (i: number): SwimdClient => new SwimdClient(socks[i]!);
  await waitFor(async () => (await client(0).members()).filter((m) => m.state === 'alive').length === 4, 30_000, 'four members alive on own-a');
  await waitFor(async () => {
    for (let i = 0; i < 3; i++) {
      const p = await client(i).partitions();
      if (!p.partitions.every((x) => x.primary !== null && names.includes(x.primary))) return false;
    }
    return true;
  }, 20_000, 'every partition owned by a swimd member on every daemon');
  const before = await client(1).partitions();
  assert.ok(before.partitions.every((p) => !p.replicas.includes('serf-1')), 'the serf agent holds no replica either');
  const victim = 'own-a';
  const moved = before.partitions.filter((p) => p.primary === victim).map((p) => p.id);
  assert.ok(moved.length > 0);
  procs[0]!.kill('SIGKILL');
  await waitFor(async () => {
    const p = await client(1).partitions();
    return moved.every((id) => p.partitions[id]!.primary !== null && p.partitions[id]!.primary !== victim);
  }, 40_000, 'the killed daemon\'s partitions move');
  const after = await client(2).partitions();
  for (const id of moved) {
    assert.ok(after.partitions[id]!.token > before.partitions[id]!.token, `partition ${id}: ${after.partitions[id]!.token} above ${before.partitions[id]!.token}`);
    assert.ok(['own-b', 'own-c'].includes(after.partitions[id]!.primary!));
  }
  const log = readFileSync(serfLog, 'utf8');
  assert.match(log, /own-b/, 'the serf log is captured (it names the swimd members)');
  const bad = log.split('\n').filter((l) => /\[ERR\]|unknown|bad type|Failed to decode/i.test(l));
  assert.deepEqual(bad, [], 'serf logged errors or unknown messages');
});
