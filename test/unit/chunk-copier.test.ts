// Chunk copies taken from shared slabs stay private: writing one never shows in
// its source, in another copy of the same update, or in a copy of an earlier update.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkCopier } from '../../src/partition/table.js';

test('copies cut from slabs are equal to their sources and independent of each other', () => {
  const L = 8;
  const total = 100;
  const sources = Array.from({ length: total }, (_, c) => Int32Array.from({ length: L }, (_, i) => c * 1000 + i));
  const copier = new ChunkCopier((n) => new Int32Array(n), L, total);
  const updates: Int32Array[][] = [];
  for (let u = 0; u < 3; u++) {
    copier.begin();
    const copies = sources.map((s) => copier.copy(s));
    for (let c = 0; c < total; c++) assert.deepEqual([...copies[c]!], [...sources[c]!], `update ${u} chunk ${c} copied`);
    // Mark every copy with its update: a shared byte would show up as another update's mark.
    for (const copy of copies) copy.fill(-(u + 1));
    updates.push(copies);
  }
  for (let u = 0; u < updates.length; u++) for (const copy of updates[u]!) assert.ok(copy.every((x) => x === -(u + 1)), `update ${u}'s copies kept their own contents`);
  for (let c = 0; c < total; c++) assert.equal(sources[c]![1], c * 1000 + 1, 'sources untouched');
  assert.ok(updates[0]!.slice(4).some((x) => x.buffer === updates[0]![5]!.buffer && x !== updates[0]![5]), 'copies after the first few share a slab');
});
