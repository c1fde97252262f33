// Every daemon killed at once and started again with its data directory: the
// epochs granted before are on disk, so every new token is above every old one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SwimdClient } from '../../src/client/client.js';
import { killAll, tmp, waitFor } from '../../harness/procs.js';
import { localCluster } from '../support/local-cluster.js';

after(killAll);
const NAMES = ['fr-a', 'fr-b', 'fr-c'];
const cluster = await localCluster(NAMES, [
  'profile: local',
  'swim: { probeInterval: 200ms, probeTimeout: 100ms, gossipInterval: 50ms }',
  'partitions: { count: 24, replicas: 2, quorum: 2 }',
  'log: { level: warn }',
]);
const sock = cluster.sock;
const start = cluster.start;


async function allOwned(): Promise<Map<number, number>> {
  let tokens = new Map<number, number>();
  await waitFor(async () => {
    tokens = new Map();
    for (let i = 0; i < 3; i++) {
      const c = new SwimdClient(sock(i));
      const owned = await c.owned();
      if (owned.quorum !== 'ok') return false;
      for (const id of owned.primary) tokens.set(id, owned.tokens[id]!);
    }
    return tokens.size === 24;
  }, 30_000, 'every partition held by its primary', 200);
  return tokens;
}

test('a full stop and start of every daemon: grants survive on disk and every token after is above every token before', async () => {
  let procs = NAMES.map((_, i) => start(i));
  const before = await allOwned();
  const dataDir = join(tmp, 'swimd-data', 'fr-a');
  assert.ok(existsSync(join(dataDir, 'grants.log')), 'grants are on disk in the default data directory');
  assert.match(readFileSync(join(dataDir, 'grants.log'), 'utf8'), /^swimd-grants 1\n/);
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once('exit', r)))));
  procs = NAMES.map((_, i) => start(i));
  const afterRestart = await allOwned();
  const highestBefore = Math.max(...before.values());
  for (const [id, token] of afterRestart) {
    assert.ok(token > before.get(id)!, `partition ${id}: ${token} after the restart, ${before.get(id)} before`);
  }
  console.log(`# full restart: highest token before ${highestBefore}, lowest after ${Math.min(...afterRestart.values())}`);
  for (const p of procs) p.kill('SIGKILL');
});
