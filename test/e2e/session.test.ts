// Ownership bound to the application's life (partitions.requireSession),
// runtime tags and drain, and a planned stop that hands partitions off first.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientSession } from '../../src/client/client.js';
import type { WatchLine } from '../../src/api/views.js';
import { killAll, track, waitFor } from '../../harness/procs.js';
import { localCluster } from '../support/local-cluster.js';

after(killAll);
const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', '..', '..', 'bin', 'swimd');
const CLIENT = join(here, '..', '..', 'src', 'client', 'client.js');
const NAMES = ['ss-a', 'ss-b', 'ss-c'];
const cluster = await localCluster(NAMES, [
  'profile: local',
  'swim: { probeInterval: 200ms, probeTimeout: 100ms, gossipInterval: 50ms }',
  'partitions: { count: 24, replicas: 2, quorum: 2, requireSession: true, handoffTimeout: 3s }',
  'log: { level: warn }',
]);
const { sock, client, start } = cluster;


/** An application process that opens a session on daemon i and then does nothing. */
function startApp(i: number) {
  const code = `import(${JSON.stringify(CLIENT)}).then(async ({ SwimdClient }) => { const s = await new SwimdClient(${JSON.stringify(sock(i))}).session(300); console.log('session ' + s.id); setInterval(() => {}, 1000); });`;
  const child = track(spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const opened = new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('session') && resolve()));
  return { child, opened };
}

function watchLines(i: number): { lines: { at: number; line: WatchLine }[]; stop: () => void } {
  const ac = new AbortController();
  const lines: { at: number; line: WatchLine }[] = [];
  void (async () => {
    try {
      for await (const l of client(i).watch(ac.signal)) lines.push({ at: Date.now(), line: l });
    } catch {
      // closed
    }
  })();
  return { lines, stop: () => ac.abort() };
}

async function primaries(i: number): Promise<(string | null)[]> {
  return (await client(i).partitions()).partitions.map((p) => p.primary);
}

test('requireSession, tags, drain and a planned stop', async (t) => {
  const procs = NAMES.map((_, i) => start(i));
  await waitFor(async () => (await client(0).members()).filter((m) => m.state === 'alive').length === 3, 20_000, 'three members alive');

  await t.test('without an application session no member is primary; with one, the member is', async () => {
    const before = await client(1).partitions();
    assert.ok(before.partitions.every((p) => p.primary === null), 'nobody has a session yet');
    const self = (await client(0).self()) as { meta: Record<string, string> };
    assert.equal(self.meta['swimd-app'], 'down');
  });

  const apps = NAMES.map((_, i) => startApp(i));
  await Promise.all(apps.map((a) => a.opened));
  await waitFor(async () => (await primaries(1)).every((p) => p !== null), 10_000, 'every partition owned once every application has a session');

  await t.test('kill -9 of an application: its member gives up its partitions within a second (plus dissemination) and stays in the cluster', async () => {
    const table = await client(1).partitions();
    const held = table.partitions.filter((p) => p.primary === 'ss-a');
    assert.ok(held.length > 0);
    const killedAt = Date.now();
    apps[0]!.child.kill('SIGKILL');
    await waitFor(async () => {
      const now = (await client(1).partitions()).partitions;
      return held.every((p) => now[p.id]!.primary !== null && now[p.id]!.primary !== 'ss-a');
    }, 5_000, 'ss-a\'s partitions taken over', 20);
    const tookMs = Date.now() - killedAt;
    console.log(`# application killed: its partitions were held elsewhere after ${tookMs} ms`);
    const now = (await client(2).partitions()).partitions;
    for (const p of held) assert.ok(now[p.id]!.token > p.token, `partition ${p.id}: token ${now[p.id]!.token} after, ${p.token} before`);
    assert.equal((await client(1).members()).find((m) => m.name === 'ss-a')!.state, 'alive', 'the daemon stays in the cluster');
    assert.equal(((await client(0).owned()).primary).length, 0, 'ss-a names itself primary of nothing');
  });

  let revived: ClientSession;
  await t.test('a new session makes the member eligible again and its partitions come back', async () => {
    revived = await client(0).session(300);
    await waitFor(async () => (await client(0).owned()).primary.length > 0, 10_000, 'ss-a primary again');
  });

  await t.test('tags set and unset at run time reach every member; drain moves partitions, undrain brings them back', async () => {
    const r = spawnSync(process.execPath, [BIN, 'tags', 'set', 'rack=r7', 'tier=gold', '--socket', sock(1), '--json'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr);
    await waitFor(async () => (await client(2).members()).find((m) => m.name === 'ss-b')?.meta.rack === 'r7', 5_000, 'the tag reaches ss-c');
    const reserved = spawnSync(process.execPath, [BIN, 'tags', 'set', 'swimd-own=0', '--socket', sock(1)], { encoding: 'utf8', timeout: 10_000 });
    assert.notEqual(reserved.status, 0);
    assert.match(reserved.stderr, /set by swimd itself/);
    assert.equal(spawnSync(process.execPath, [BIN, 'tags', 'unset', 'tier', '--socket', sock(1)], { encoding: 'utf8' }).status, 0);
    await waitFor(async () => (await client(2).members()).find((m) => m.name === 'ss-b')?.meta.tier === undefined, 5_000, 'the unset reaches ss-c');
    const held = (await client(1).owned()).primary;
    assert.ok(held.length > 0);
    assert.equal(spawnSync(process.execPath, [BIN, 'drain', '--socket', sock(1)], { encoding: 'utf8' }).status, 0);
    await waitFor(async () => {
      const p = await primaries(2);
      return held.every((id) => p[id] !== null && p[id] !== 'ss-b');
    }, 5_000, 'ss-b\'s partitions move when it drains');
    assert.equal((await client(1).owned()).primary.length, 0);
    assert.ok((await client(1).owned()).replica.length > 0, 'a drained member stays a replica');
    assert.equal(spawnSync(process.execPath, [BIN, 'undrain', '--socket', sock(1)], { encoding: 'utf8' }).status, 0);
    await waitFor(async () => (await client(1).owned()).primary.length > 0, 5_000, 'ss-b primary again after undrain');
  });

  await t.test('SIGTERM hands partitions off before the member leaves', async () => {
    const held = (await client(2).owned()).primary;
    assert.ok(held.length > 0);
    const w = watchLines(1);
    await waitFor(() => w.lines.length > 0, 5_000, 'watch snapshot');
    procs[2]!.kill('SIGTERM');
    await waitFor(() => w.lines.some((l) => l.line.type === 'member' && l.line.event === 'left' && l.line.member.name === 'ss-c'), 10_000, 'ss-c left');
    const leftAt = w.lines.find((l) => l.line.type === 'member' && l.line.event === 'left' && l.line.member.name === 'ss-c')!.at;
    const takenAt = new Map<number, number>();
    for (const l of w.lines) {
      if (l.line.type !== 'partitions') continue;
      for (const c of l.line.changed) if (held.includes(c.id) && c.newPrimary !== null && c.newPrimary !== 'ss-c' && !takenAt.has(c.id)) takenAt.set(c.id, l.at);
    }
    assert.deepEqual([...takenAt.keys()].sort((a, b) => a - b), [...held].sort((a, b) => a - b), 'every partition was taken over');
    for (const [id, at] of takenAt) assert.ok(at <= leftAt, `partition ${id} was taken over ${at - leftAt} ms after ss-c left`);
    w.stop();
  });
  revived!.close();
  for (const a of apps) a.child.kill('SIGKILL');
});
