import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
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

/** The plain definition, for comparison: sort everything on every take. */
class ReferenceQueue {
  private entries: { key: string | null; message: Uint8Array; transmits: number; id: number; done: () => void }[] = [];
  private nextId = 0;
  dropped = 0;
  constructor(private readonly max: number) {}
  size(): number {
    return this.entries.length;
  }
  queue(key: string | null, message: Uint8Array, done: () => void): void {
    const old = this.entries.find((e) => key !== null && e.key === key);
    if (old) {
      this.entries.splice(this.entries.indexOf(old), 1);
      old.done();
    }
    this.entries.push({ key, message, transmits: 0, id: this.nextId++, done });
    while (this.entries.length > this.max) {
      let worst = this.entries[0]!;
      for (const x of this.entries) if (x.transmits > worst.transmits || (x.transmits === worst.transmits && x.id < worst.id)) worst = x;
      this.entries.splice(this.entries.indexOf(worst), 1);
      worst.done();
      this.dropped++;
    }
  }
  take(overhead: number, limit: number, transmitLimit: number): Uint8Array[] {
    this.entries.sort((a, b) => a.transmits - b.transmits || b.message.length - a.message.length || b.id - a.id);
    const out: Uint8Array[] = [];
    const retired: typeof this.entries = [];
    let used = 0;
    for (const e of this.entries) {
      if (used + overhead + e.message.length > limit) continue;
      used += overhead + e.message.length;
      out.push(e.message);
      e.transmits++;
      if (e.transmits >= transmitLimit) retired.push(e);
      if (limit - used <= overhead) break;
    }
    this.entries = this.entries.filter((e) => !retired.includes(e));
    for (const e of retired) e.done();
    return out;
  }
}

test('property: the bucketed queue takes, retires, replaces and drops exactly as the sort-everything definition', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('queue' as const), key: fc.option(fc.integer({ min: 0, max: 12 }), { nil: null }), len: fc.integer({ min: 1, max: 60 }) }),
    fc.record({ kind: fc.constant('take' as const), budget: fc.integer({ min: 0, max: 300 }), limit: fc.integer({ min: 1, max: 5 }) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 10 }), fc.array(op, { maxLength: 80 }), (max, ops) => {
      const q = new BroadcastQueue(max);
      const ref = new ReferenceQueue(max);
      const doneQ: number[] = [];
      const doneRef: number[] = [];
      let tag = 0;
      for (const o of ops) {
        if (o.kind === 'queue') {
          const t = tag++;
          const message = msg(o.len, t % 256);
          const key = o.key === null ? null : `k${o.key}`;
          q.queue({ key, message, onDone: () => doneQ.push(t) });
          ref.queue(key, message, () => doneRef.push(t));
        } else {
          assert.deepEqual(q.take(2, o.budget, o.limit), ref.take(2, o.budget, o.limit));
        }
        assert.equal(q.size(), ref.size());
        assert.deepEqual(doneQ, doneRef);
        assert.equal(q.dropped, ref.dropped);
      }
    }),
    { numRuns: 300 },
  );
});

test('a part limit caps a take, and what it leaves behind is not counted as sent', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 4 }), (sizes, maxParts, limit) => {
      const capped = new BroadcastQueue(1000);
      const free = new BroadcastQueue(1000);
      sizes.forEach((len, i) => {
        capped.queue({ key: `k${i}`, message: msg(len, i) });
        free.queue({ key: `k${i}`, message: msg(len, i) });
      });
      // The first take is the first parts of what an uncapped take would give.
      const first = capped.take(2, 1_000, limit, maxParts);
      assert.ok(first.length <= maxParts);
      assert.deepEqual(first, free.take(2, 1_000, limit).slice(0, maxParts));
      // Drained to the end, every message goes out exactly `limit` times: none is counted without being returned.
      const sent = new Map<Uint8Array, number>();
      for (const m of first) sent.set(m, (sent.get(m) ?? 0) + 1);
      for (let round = 0; round < sizes.length * limit + 1 && capped.size() > 0; round++) {
        for (const m of capped.take(2, 1_000, limit, maxParts)) sent.set(m, (sent.get(m) ?? 0) + 1);
      }
      assert.equal(capped.size(), 0);
      assert.equal(sent.size, sizes.length);
      for (const n of sent.values()) assert.equal(n, limit);
    }),
  );
});
