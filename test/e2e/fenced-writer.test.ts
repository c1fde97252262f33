// examples/fenced-writer against three daemons with partitions.requireSession:
// one writer per daemon, all writing to one fenced store. Every accepted record
// must carry a token the cluster granted to that writer's member for that
// partition; when one writer is killed, its partitions go to the others with
// higher tokens and the store's tokens never go back.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WatchLine } from '../../src/api/views.js';
import { FencedFileStore } from '../../examples/fenced-writer/store.js';
import { killAll, sleep, tmp, track, waitFor } from '../../harness/procs.js';
import { localCluster } from '../support/local-cluster.js';

after(killAll);
const WRITER = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'fenced-writer', 'writer.js');
const NAMES = ['fw-a', 'fw-b', 'fw-c'];
const P = 12;
const cluster = await localCluster(NAMES, [
  'profile: local',
  'swim: { probeInterval: 200ms, probeTimeout: 100ms, gossipInterval: 50ms }',
  `partitions: { count: ${P}, replicas: 2, quorum: 2, requireSession: true }`,
  'log: { level: warn }',
]);
const { sock, client, start } = cluster;

interface Writer {
  child: ChildProcess;
  events: Record<string, unknown>[];
}

/** A killed writer's session ends when its connection closes; the long ttl only keeps a slow machine from expiring a live one. */
function startWriter(i: number, storeDir: string): Writer {
  const child = track(spawn(process.execPath, [WRITER, '--socket', sock(i), '--store', storeDir, '--interval-ms', '30', '--session-ttl-ms', '5000'], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const events: Record<string, unknown>[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      events.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      buf = buf.slice(nl + 1);
    }
  });
  return { child, events };
}

test('the fenced writer writes every partition with the token its member was granted', { timeout: 90_000 }, async () => {
  NAMES.forEach((_, i) => start(i));
  await waitFor(async () => (await client(0).members()).filter((m) => m.state === 'alive').length === 3, 20_000, 'three members alive');

  // Every (partition, primary, token) any daemon announced.
  const granted = new Set<string>();
  const watchers = NAMES.map((_, i) => {
    const ac = new AbortController();
    void (async () => {
      try {
        for await (const l of client(i).watch(ac.signal) as AsyncGenerator<WatchLine>) {
          if (l.type === 'snapshot') for (const p of l.partitions.partitions) if (p.primary !== null) granted.add(`${p.id}/${p.primary}/${p.token}`);
          if (l.type === 'partitions') for (const c of l.changed) if (c.newPrimary !== null) granted.add(`${c.id}/${c.newPrimary}/${c.token}`);
        }
      } catch {
        // the daemon went away
      }
    })();
    return ac;
  });

  const storeDir = join(tmp, 'fenced-store');
  const store = new FencedFileStore(storeDir);
  const writers = NAMES.map((_, i) => startWriter(i, storeDir));
  await waitFor(() => writers.every((w) => w.events.some((e) => e.type === 'ready')), 10_000, 'three sessions open');
  await waitFor(() => store.partitions().length === P, 20_000, 'a record in every partition');
  // Sessions open one after another, so partitions spread out as the later members become eligible.
  await waitFor(() => new Set(store.partitions().map((p) => store.records(p).at(-1)!.writer)).size === 3, 20_000, 'all three writers holding partitions');

  const victim = 'fw-c';
  const victimParts = store.partitions().filter((p) => store.records(p).at(-1)!.writer === victim);
  assert.ok(victimParts.length > 0, 'fw-c writes some partitions');
  const victimTokens = new Map(victimParts.map((p) => [p, store.highestToken(p)]));
  writers[2]!.child.kill('SIGKILL');
  await waitFor(
    () => victimParts.every((p) => store.records(p).some((r) => r.writer !== victim && r.token > victimTokens.get(p)!)),
    20_000,
    'fw-c\'s partitions written by another writer with a higher token',
  );
  await sleep(500);
  for (const w of writers.slice(0, 2)) w.child.kill('SIGTERM');
  await Promise.all(writers.slice(0, 2).map((w) => new Promise<void>((r) => (w.child.exitCode !== null ? r() : w.child.once('exit', () => r())))));
  for (const ac of watchers) ac.abort();

  let total = 0;
  for (let p = 0; p < P; p++) {
    const records = store.records(p);
    total += records.length;
    const firstWriterOfToken = new Map<number, string>();
    for (let k = 0; k < records.length; k++) {
      const r = records[k]!;
      assert.ok(granted.has(`${p}/${r.writer}/${r.token}`), `partition ${p}: ${r.writer} wrote with token ${r.token}, which no daemon announced for it`);
      if (k > 0) assert.ok(r.token >= records[k - 1]!.token, `partition ${p}: token went back from ${records[k - 1]!.token} to ${r.token}`);
      const first = firstWriterOfToken.get(r.token) ?? r.writer;
      assert.equal(r.writer, first, `partition ${p}: token ${r.token} used by ${first} and ${r.writer}`);
      firstWriterOfToken.set(r.token, first);
    }
  }
  for (const p of victimParts) assert.ok(store.records(p).at(-1)!.writer !== victim, `partition ${p} ends with a live writer`);
  for (const [i, w] of writers.slice(0, 2).entries()) {
    const summary = w.events.find((e) => e.type === 'summary');
    assert.ok(summary, `${NAMES[i]} printed a summary`);
    assert.equal(summary.why, 'SIGTERM');
    assert.ok((summary.wrote as number) > 0, `${NAMES[i]} wrote`);
    assert.equal(w.child.exitCode, 0);
  }
  assert.ok(total > P * 5, `${total} records`);
});
