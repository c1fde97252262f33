// Key rotation driven by `serf keys` in a cluster of two Serf agents and two
// swimd daemons, all on key A: -install B, -use B and -remove A are answered by
// every member with no error, -list then shows only B on every member
// (swimd's /v1/keys agrees), and no member is failed or dead through the rotation.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwimdClient } from '../../src/client/client.js';
import { freePorts, killAll, requireSerf, serfCommand, serfMembers, sleep, tmp, track, waitFor } from '../../harness/procs.js';

requireSerf();
after(killAll);
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');


test('serf keys -install/-use/-remove/-list are answered by the swimd members and rotate their keyrings', async () => {
  const keyA = randomBytes(16).toString('base64');
  const keyB = randomBytes(16).toString('base64');
  const [serfPort, rpcPort, serf2Port, rpc2Port, p1, p2] = (await freePorts(6)) as [number, number, number, number, number, number];
  const rpc = `127.0.0.1:${rpcPort}`;
  track(spawn('serf', ['agent', '-node=serf-k', `-bind=127.0.0.1:${serfPort}`, `-rpc-addr=${rpc}`, `-encrypt=${keyA}`], { stdio: 'ignore' }));
  const rpc2 = `127.0.0.1:${rpc2Port}`;
  track(spawn('serf', ['agent', '-node=serf-k2', `-bind=127.0.0.1:${serf2Port}`, `-rpc-addr=${rpc2}`, `-encrypt=${keyA}`], { stdio: 'ignore' }));
  // Joined once both are up: an agent started with -join exits when the other is not listening yet.
  await waitFor(() => serfCommand(rpc, ['members']).status === 0 && serfCommand(rpc2, ['members']).status === 0, 30_000, 'serf agents up');
  assert.equal(serfCommand(rpc2, ['join', `127.0.0.1:${serfPort}`]).status, 0);
  const names = ['keys-w1', 'keys-w2'];
  const clients = names.map((name, i) => {
    const sock = join(tmp, `${name}.sock`);
    const file = join(tmp, `${name}.yaml`);
    writeFileSync(file, [
      `node: { name: ${name}, bind: 127.0.0.1:${[p1, p2][i]} }`,
      `join: ["127.0.0.1:${serfPort}"]`,
      'swim: { probeInterval: 500ms, probeTimeout: 200ms }',
      'partitions: { count: 8, replicas: 1, quorum: 1 }',
      `security: { keys: [${keyA}] }`,
      `api: { socket: ${sock} }`,
      'log: { level: warn }',
    ].join('\n'));
    track(spawn(process.execPath, [CLI, 'agent', '--config', file], { stdio: ['ignore', 'ignore', 'inherit'] }));
    return new SwimdClient(sock);
  });
  const allNames = ['serf-k', 'serf-k2', ...names];
  const converged = async (): Promise<boolean> => {
    for (const r of [rpc, rpc2]) {
      const s = serfMembers(r);
      if (!allNames.every((n) => s.find((m) => m.name === n)?.status === 'alive')) return false;
    }
    for (const c of clients) {
      const ms = await c.members();
      if (!allNames.every((n) => ms.find((m) => m.name === n)?.state === 'alive')) return false;
    }
    return true;
  };
  await waitFor(converged, 30_000, 'both serf agents and both daemons see all four alive');

  const keys = (args: string[], via = rpc): { status: number | null; out: string } => serfCommand(via, ['keys', ...args]);
  // A Serf query is best effort (gossip out, one UDP answer back per member, a timeout), and key
  // operations are idempotent: one that reports a partial answer is asked again, up to three times
  // in all; a member that never answers, or answers with an error, still fails the test.
  const keysEverywhere = (args: string[], via = rpc): { status: number | null; out: string } => {
    let r = keys(args, via);
    for (let attempt = 1; attempt < 3 && r.status !== 0 && /nodes reported success/.test(r.out); attempt++) r = keys(args, via);
    return r;
  };
  const install = keysEverywhere([`-install=${keyB}`]);
  assert.equal(install.status, 0, install.out);
  assert.doesNotMatch(install.out, /error|fail/i, install.out);
  for (const c of clients) assert.deepEqual(await c.keys(), [{ key: keyA, primary: true }, { key: keyB, primary: false }]);

  const use = keysEverywhere([`-use=${keyB}`]);
  assert.equal(use.status, 0, use.out);
  for (const c of clients) assert.deepEqual((await c.keys())[0], { key: keyB, primary: true });
  await sleep(1000);
  assert.ok(await converged(), 'converged after -use');

  const remove = keysEverywhere([`-remove=${keyA}`]);
  assert.equal(remove.status, 0, remove.out);
  const list = keysEverywhere(['-list']);
  assert.equal(list.status, 0, list.out);
  assert.ok(list.out.includes(keyB), list.out);
  assert.ok(list.out.includes('4/4'), `every one of the four members lists key B: ${list.out}`);
  const list2 = keysEverywhere(['-list'], rpc2);
  assert.ok(list2.status === 0 && list2.out.includes('4/4') && !list2.out.includes(keyA), `the other agent sees the same: ${list2.out}`);
  assert.ok(!list.out.includes(keyA), `key A is gone everywhere: ${list.out}`);
  for (const c of clients) assert.deepEqual(await c.keys(), [{ key: keyB, primary: true }]);

  // Only key B is left on every member: the cluster keeps working on it, nobody fails.
  await sleep(3000);
  assert.ok(await converged(), 'converged on key B alone');
  const refused = keys([`-remove=${keyB}`]);
  assert.notEqual(refused.status, 0, 'removing the primary is refused (by every member)');
  for (const c of clients) assert.deepEqual(await c.keys(), [{ key: keyB, primary: true }]);
});
