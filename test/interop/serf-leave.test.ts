// Leaves across swimd and Serf: `swimd leave` shows as `left` (not `failed`)
// in `serf members`, also for a restarted daemon leaving a second time, and a
// `serf leave` shows as `left` in swimd's member list. The daemon joins the
// Serf agent by host name (localhost).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwimdClient } from '../../src/client/client.js';
import { freePorts, killAll, requireSerf, serfCommand, serfMembers, tmp, track, waitFor } from '../../harness/procs.js';

requireSerf();
after(killAll);
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

const serfStatus = (rpc: string, name: string): string | undefined => serfMembers(rpc).find((m) => m.name === name)?.status;

test('swimd leave shows as left in serf members (twice, across a restart); serf leave shows as left in swimd members', async () => {
  const [serfA, rpcA, serfB, rpcB, port] = await freePorts(5);
  const rpc = (p: number): string => `127.0.0.1:${p}`;
  track(spawn('serf', ['agent', '-node=serf-a', `-bind=127.0.0.1:${serfA}`, `-rpc-addr=${rpc(rpcA!)}`], { stdio: 'ignore' }));
  track(spawn('serf', ['agent', '-node=serf-b', `-bind=127.0.0.1:${serfB}`, `-rpc-addr=${rpc(rpcB!)}`], { stdio: 'ignore' }));
  await waitFor(() => serfCommand(rpc(rpcA!), ['members']).status === 0 && serfCommand(rpc(rpcB!), ['members']).status === 0, 10_000, 'serf agents up');
  assert.equal(serfCommand(rpc(rpcB!), ['join', `127.0.0.1:${serfA}`]).status, 0);

  const sock = join(tmp, 'leave-w.sock');
  const file = join(tmp, 'leave-w.yaml');
  writeFileSync(file, [
    `node: { name: leave-w, bind: 127.0.0.1:${port}, dataDir: ${join(tmp, 'leave-w-data')} }`,
    `join: ["localhost:${serfA}"]`,
    'swim: { probeInterval: 500ms, probeTimeout: 200ms }',
    'partitions: { count: 8, replicas: 1, quorum: 1 }',
    `api: { socket: ${sock} }`,
    'log: { level: warn }',
  ].join('\n'));
  const start = (): ChildProcess => track(spawn(process.execPath, [CLI, 'agent', '--config', file], { stdio: ['ignore', 'ignore', 'inherit'] }));
  const client = new SwimdClient(sock);
  const swimdState = async (name: string): Promise<string | undefined> => (await client.members()).find((m) => m.name === name)?.state;
  const leave = async (child: ChildProcess): Promise<void> => {
    const exited = new Promise((r) => child.once('exit', r));
    const r = spawnSync(process.execPath, [CLI, 'leave', '--socket', sock], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.status, 0, r.stderr);
    await exited;
  };

  let daemon = start();
  await waitFor(() => serfStatus(rpc(rpcA!), 'leave-w') === 'alive' && serfStatus(rpc(rpcB!), 'leave-w') === 'alive', 30_000, 'both serf agents see the daemon');
  await waitFor(async () => (await swimdState('serf-a')) === 'alive' && (await swimdState('serf-b')) === 'alive', 30_000, 'the daemon sees both agents');

  assert.equal(serfCommand(rpc(rpcB!), ['leave']).status, 0);
  await waitFor(async () => (await swimdState('serf-b')) === 'left', 30_000, 'swimd records serf-b as left');

  await leave(daemon);
  await waitFor(() => ['left', 'failed'].includes(serfStatus(rpc(rpcA!), 'leave-w') ?? ''), 30_000, 'serf-a records the leave (left or failed; "leaving" is the step between)');
  assert.equal(serfStatus(rpc(rpcA!), 'leave-w'), 'left', 'Serf records a swimd leave as left, not failed');

  // Restarted with the same data directory (and seeds, so it joins again): a second leave needs a newer Lamport time.
  daemon = start();
  await waitFor(() => serfStatus(rpc(rpcA!), 'leave-w') === 'alive', 30_000, 'the restarted daemon is alive on serf-a');
  await leave(daemon);
  await waitFor(() => ['left', 'failed'].includes(serfStatus(rpc(rpcA!), 'leave-w') ?? ''), 30_000, 'serf-a notices the second leave');
  assert.equal(serfStatus(rpc(rpcA!), 'leave-w'), 'left', 'the second leave is left too');
});
