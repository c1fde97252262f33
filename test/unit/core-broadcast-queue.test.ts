import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BroadcastQueue } from '../../src/core/broadcast-queue.js';

const msg = (len: number, tag: number): Uint8Array => new Uint8Array(len).fill(tag);

test('fewest transmits first, then larger, then newer', () => {
  const q = new BroadcastQueue(100);
  q.queue({ key: 'a', message: msg(10, 1) });
  q.queue({ key: 'b', message: msg(20, 2) });
  q.queue({ key: 'c', message: msg(10, 3) });
  // budget for one message at a time
  assert.equal(q.take(2, 22, 10)[0]![0], 2, 'larger first');
  assert.equal(q.take(2, 12, 10)[0]![0], 3, 'then newer among equals');
  assert.equal(q.take(2, 12, 10)[0]![0], 1);
  // now all have one transmit; b (largest) again first
  assert.deepEqual(q.take(2, 1000, 10).map((m) => m[0]), [2, 3, 1]);
});

test('a new update about a member replaces the queued one', () => {
  const q = new BroadcastQueue(100);
  let doneCalls = 0;
  q.queue({ key: 'x', message: msg(5, 1), onDone: () => doneCalls++ });
  q.queue({ key: 'x', message: msg(5, 2) });
  assert.equal(q.size(), 1);
  assert.equal(doneCalls, 1);
  assert.equal(q.take(2, 100, 3)[0]![0], 2);
});

test('entries retire after the transmit limit and report done', () => {
  const q = new BroadcastQueue(100);
  let done = false;
  q.queue({ key: 'x', message: msg(5, 1), onDone: () => (done = true) });
  assert.equal(q.take(2, 100, 3).length, 1);
  assert.equal(q.take(2, 100, 3).length, 1);
  assert.equal(done, false);
  assert.equal(q.take(2, 100, 3).length, 1);
  assert.equal(done, true);
  assert.equal(q.size(), 0);
  assert.deepEqual(q.take(2, 100, 3), []);
});

test('only what fits the budget is taken, counting per-part overhead', () => {
  const q = new BroadcastQueue(100);
  for (let i = 0; i < 10; i++) q.queue({ key: `k${i}`, message: msg(100, i) });
  assert.equal(q.take(2, 510, 5).length, 5);
});

test('the queue is bounded: the most-sent, oldest entry is dropped and counted', () => {
  const q = new BroadcastQueue(3);
  q.queue({ key: 'a', message: msg(5, 1) });
  q.take(2, 7, 10); // a has one transmit
  q.queue({ key: 'b', message: msg(5, 2) });
  q.queue({ key: 'c', message: msg(5, 3) });
  q.queue({ key: 'd', message: msg(5, 4) });
  assert.equal(q.size(), 3);
  assert.equal(q.dropped, 1);
  assert.deepEqual(q.take(2, 1000, 10).map((m) => m[0]).sort(), [2, 3, 4]);
});
