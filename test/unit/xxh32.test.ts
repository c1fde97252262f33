// The plain-JavaScript XXH32 against published values and the WebAssembly
// reference build, so partition placement is the same as before and on every member.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import xxhash from 'xxhash-wasm';
import { xxh32 } from '../../src/partition/xxh32.js';

test('xxh32 matches the published XXH32 values', () => {
  assert.equal(xxh32('', 0), 0x02cc5d05);
  assert.equal(xxh32('abc', 0), 0x32d153ff);
  assert.equal(xxh32('Nobody inspects the spammish repetition', 0), 0xe2293b2f);
});

test('xxh32 equals the WebAssembly XXH32 on any string, length and seed', async () => {
  const { h32 } = await xxhash();
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.integer({ min: 0, max: 0xffffffff }), (s, seed) => {
      assert.equal(xxh32(s, seed), h32(s, seed) >>> 0);
    }),
    { numRuns: 2000 },
  );
});
