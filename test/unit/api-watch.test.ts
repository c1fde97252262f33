// Watch back-pressure: a reader that stops reading never makes the daemon buffer without bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { WatchHub } from '../../src/api/watch.js';

class FakeResponse extends EventEmitter {
  written: string[] = [];
  accepting = true;
  write(text: string): boolean {
    this.written.push(text);
    return this.accepting;
  }
  end(): void {}
}

test('a slow reader gets a resync and a fresh snapshot instead of an unbounded queue', () => {
  let snapshots = 0;
  const hub = new WatchHub(5, () => ({ type: 'resync', reason: `snapshot ${++snapshots}` }));
  const res = new FakeResponse();
  hub.add(res as unknown as ServerResponse);
  assert.equal(res.written.length, 1, 'snapshot first');
  res.accepting = false;
  hub.publish({ type: 'resync', reason: 'event 1' }); // written, then the socket is full
  for (let i = 0; i < 100; i++) hub.publish({ type: 'resync', reason: `queued ${i}` });
  assert.equal(res.written.length, 2, 'nothing more is written while the reader is stalled');
  assert.equal(hub.resyncs, 1);
  res.accepting = true;
  res.emit('drain');
  const after = res.written.slice(2).map((l) => JSON.parse(l));
  assert.equal(after[0].type, 'resync');
  assert.equal(after[1].reason, 'snapshot 2');
  assert.equal(after.length, 2, 'the dropped queue is not replayed');
});

test('a reader that keeps up gets every line in order', () => {
  const hub = new WatchHub(5, () => ({ type: 'resync', reason: 'snap' }));
  const res = new FakeResponse();
  hub.add(res as unknown as ServerResponse);
  res.accepting = false;
  hub.publish({ type: 'resync', reason: 'a' });
  hub.publish({ type: 'resync', reason: 'b' });
  hub.publish({ type: 'resync', reason: 'c' });
  res.accepting = true;
  res.emit('drain');
  assert.deepEqual(res.written.map((l) => JSON.parse(l).reason), ['snap', 'a', 'b', 'c']);
  assert.equal(hub.resyncs, 0);
});

test('the queue is bounded in bytes too: a few huge lines trip the resync long before the line bound', () => {
  const hub = new WatchHub(1_000, () => ({ type: 'resync', reason: 'snap' }), 10_000);
  const res = new FakeResponse();
  hub.add(res as unknown as ServerResponse);
  res.accepting = false;
  hub.publish({ type: 'resync', reason: 'fills the socket' });
  const big = 'x'.repeat(4_000);
  hub.publish({ type: 'resync', reason: big });
  hub.publish({ type: 'resync', reason: big });
  assert.equal(hub.resyncs, 0, 'two lines of 4 kB fit in 10 kB');
  hub.publish({ type: 'resync', reason: big });
  assert.equal(hub.resyncs, 1, 'the third passes the byte bound with 3 of 1,000 lines queued');
  res.accepting = true;
  res.emit('drain');
  assert.deepEqual(res.written.slice(2).map((l) => JSON.parse(l).reason), ['reader too slow; queue dropped', 'snap']);
});

test('the partitions line written directly is byte for byte the JSON of the line', async () => {
  const { partitionsLineText } = await import('../../src/api/views.js');
  const line = {
    type: 'partitions' as const,
    viewVersion: 1234567,
    quorum: 'no-quorum' as const,
    changed: [
      { id: 0, oldPrimary: null, newPrimary: 'a', replicas: ['b', 'c'], token: 9 },
      { id: 7, oldPrimary: 'quote " back\\ slash\nnewline ☃', newPrimary: null, replicas: [], token: 0 },
      { id: 65535, oldPrimary: 'b', newPrimary: 'b', replicas: ['quote " back\\ slash\nnewline ☃'], token: 2 ** 40 },
    ],
  };
  assert.equal(partitionsLineText(line), JSON.stringify(line) + '\n');
  assert.equal(partitionsLineText({ ...line, changed: [] }), JSON.stringify({ ...line, changed: [] }) + '\n');
});

test('the partitions line written from a diff\'s typed arrays is byte for byte the JSON of the line', async () => {
  const { PartitionsLineWriter, partitionsLineText } = await import('../../src/api/views.js');
  const { CHUNK, CHUNK_BITS, CHUNK_MASK } = await import('../../src/partition/table.js');
  const names = ['a', 'b', 'quote " back\\ slash\nnewline ☃', 'x'.repeat(300), 'ünïcode-é'];
  const stride = 4;
  const P = 3 * CHUNK + 5;
  const rows = Array.from({ length: Math.ceil(P / CHUNK) }, () => new Int32Array(CHUNK * stride).fill(-1));
  const tokens = Array.from({ length: rows.length }, () => new Float64Array(CHUNK));
  let seed = 7;
  const rand = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
  const tokenChoices = [0, 1, 9, 10, 99, 1234567, 2 ** 40, 2 ** 53 + 2, 0.5, -3];
  for (let p = 0; p < P; p++) {
    const row = rows[p >>> CHUNK_BITS]!;
    const at = (p & CHUNK_MASK) * stride;
    row[at] = rand(3) === 0 ? -1 : rand(names.length);
    const replicas = rand(stride);
    for (let k = 1; k <= replicas; k++) row[at + k] = rand(names.length);
    tokens[p >>> CHUNK_BITS]![p & CHUNK_MASK] = tokenChoices[rand(tokenChoices.length)]!;
  }
  const ids = Int32Array.from({ length: 150 }, (_, i) => (i * 37) % P);
  const oldPrimarySlots = Int32Array.from(ids, () => rand(names.length + 1) - 1);
  const writer = new PartitionsLineWriter();
  for (const [count, quorum] of [[150, 'ok'], [0, 'no-quorum'], [1, 'ok']] as const) {
    const diff = { viewVersion: 4321, quorum, count, ids: ids.subarray(0, count), oldPrimarySlots: oldPrimarySlots.subarray(0, count), table: { rows, tokens, stride, names }, changed: [] };
    // The expected line, built as objects from the same arrays.
    const changed = Array.from(diff.ids, (p, j) => {
      const row = rows[p >>> CHUNK_BITS]!;
      const at = (p & CHUNK_MASK) * stride;
      const replicas: string[] = [];
      for (let k = 1; k < stride && row[at + k]! >= 0; k++) replicas.push(names[row[at + k]!]!);
      const old = diff.oldPrimarySlots[j]!;
      return { id: p, oldPrimary: old < 0 ? null : names[old]!, newPrimary: row[at]! < 0 ? null : names[row[at]!]!, replicas, token: tokens[p >>> CHUNK_BITS]![p & CHUNK_MASK]! };
    });
    const line = { type: 'partitions' as const, viewVersion: 4321, quorum, changed };
    const text = writer.write(diff).toString('utf8');
    assert.equal(text, JSON.stringify(line) + '\n', `${count} entries`);
    assert.equal(text, partitionsLineText(line));
  }
});
