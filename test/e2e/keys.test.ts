// Key rotation through bin/swimd on a two-member encrypted cluster: install a
// new key everywhere, make it primary, remove the old one, with the cluster
// converged throughout; the primary cannot be removed, bad input is refused
// with a code, usage errors exit 2.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, waitFor } from '../../harness/procs.js';
import { localCluster } from '../support/local-cluster.js';

after(killAll);
const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', '..', '..', 'bin', 'swimd');
const keyA = randomBytes(32).toString('base64');
const keyB = randomBytes(16).toString('base64');
const NAMES = ['key-a', 'key-b'];
const cluster = await localCluster(NAMES, [
  'profile: local',
  'swim: { probeInterval: 200ms, probeTimeout: 100ms, gossipInterval: 50ms }',
  `security: { keys: [${keyA}] }`,
  'partitions: { count: 8, replicas: 1, quorum: 2 }',
  'log: { level: warn }',
]);
const { sock, client, start } = cluster;

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 15_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function keysOf(i: number): { key: string; primary: boolean }[] {
  const r = cli(['keys', 'list', '--socket', sock(i), '--json']);
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { keys: { key: string; primary: boolean }[] }).keys;
}

async function bothAlive(): Promise<boolean> {
  for (let i = 0; i < 2; i++) {
    const ms = await client(i).members();
    if (ms.filter((m) => m.state === 'alive').length !== 2) return false;
  }
  return true;
}

test('install, use and remove rotate the keyring of every member while the cluster stays converged', async () => {
  start(0);
  start(1);
  await waitFor(bothAlive, 20_000, 'both members alive');
  assert.deepEqual(keysOf(0), [{ key: keyA, primary: true }]);

  for (let i = 0; i < 2; i++) assert.equal(cli(['keys', 'install', keyB, '--socket', sock(i)]).status, 0);
  assert.deepEqual(keysOf(1), [{ key: keyA, primary: true }, { key: keyB, primary: false }]);
  const refused = cli(['keys', 'remove', keyA, '--socket', sock(0)]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /KEY_IS_PRIMARY/);

  // Member 0 switches first: member 1 decrypts with its second key meanwhile.
  assert.equal(cli(['keys', 'use', keyB, '--socket', sock(0)]).status, 0);
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(await bothAlive(), 'converged with the two members on different primaries');
  assert.equal(cli(['keys', 'use', keyB, '--socket', sock(1)]).status, 0);
  for (let i = 0; i < 2; i++) assert.equal(cli(['keys', 'remove', keyA, '--socket', sock(i)]).status, 0);
  for (let i = 0; i < 2; i++) assert.deepEqual(keysOf(i), [{ key: keyB, primary: true }]);
  // Traffic flows on key B alone: nothing either member receives fails to decrypt, and both stay alive.
  const failed = async (i: number): Promise<number> => {
    const m = await client(i).metricSamples();
    return (m.get('swimd_drops_total{reason="decrypt-failed"}') ?? 0) + (m.get('swimd_drops_total{reason="stream-decrypt-failed"}') ?? 0);
  };
  const before = [await failed(0), await failed(1)];
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual([await failed(0), await failed(1)], before, 'no datagram or stream on a removed key');
  assert.ok(await bothAlive(), 'converged on key B alone');
  const text = cli(['keys', 'list', '--socket', sock(1)]);
  assert.match(text.stdout, new RegExp(`${keyB.replace(/[+/]/g, '\\$&')}\\s+primary`));

  // Through the API itself, and its refusals.
  assert.deepEqual(await client(0).keys(), [{ key: keyB, primary: true }]);
  await assert.rejects(client(0).changeKey('install', 'not base64!'), (e: { code?: string }) => e.code === 'KEY_NOT_BASE64');
  await assert.rejects(client(0).changeKey('install', Buffer.alloc(10).toString('base64')), (e: { code?: string }) => e.code === 'KEY_INVALID_LENGTH');
  await assert.rejects(client(0).changeKey('use', keyA), (e: { code?: string }) => e.code === 'KEY_NOT_INSTALLED');
});

test('usage errors exit 2', () => {
  const noKey = cli(['keys', 'install', '--socket', sock(0)]);
  assert.equal(noKey.status, 2);
  assert.match(noKey.stderr, /name a base64 key/);
  assert.equal(cli(['keys', 'rotate', keyB, '--socket', sock(0)]).status, 2);
});
