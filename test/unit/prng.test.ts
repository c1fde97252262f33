import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom, shuffleInPlace } from '../../src/core/prng.js';

test('one seed reproduces the same sequence, another seed a different one', () => {
  const a = new SeededRandom(42);
  const b = new SeededRandom(42);
  const c = new SeededRandom(43);
  const seqA = Array.from({ length: 20 }, () => a.nextU32());
  const seqB = Array.from({ length: 20 }, () => b.nextU32());
  const seqC = Array.from({ length: 20 }, () => c.nextU32());
  assert.deepEqual(seqA, seqB);
  assert.notDeepEqual(seqA, seqC);
});

test('int(n) stays in range and covers every value', () => {
  const r = new SeededRandom(7);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const v = r.int(10);
    assert.ok(v >= 0 && v < 10 && Number.isInteger(v));
    seen.add(v);
  }
  assert.equal(seen.size, 10);
});

test('shuffle is a permutation', () => {
  const items = Array.from({ length: 50 }, (_, i) => i);
  const shuffled = shuffleInPlace([...items], new SeededRandom(1));
  assert.notDeepEqual(shuffled, items);
  assert.deepEqual([...shuffled].sort((x, y) => x - y), items);
});
