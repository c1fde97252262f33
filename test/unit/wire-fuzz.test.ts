// Random and mutated packets through every decode path: nothing may throw, and
// every refusal must come back as a known drop reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzWire } from '../../harness/wire-fuzz.js';

test('10^4 random and mutated packets never throw and every drop has a reason', () => {
  const seed = Number(process.env.SWIMD_FUZZ_SEED ?? 0x5eed);
  // Printed every run so any failure can be replayed with SWIMD_FUZZ_SEED.
  console.log(`wire fuzz seed: ${seed} (replay: SWIMD_FUZZ_SEED=${seed} node --test <outDir>/test/unit/wire-fuzz.test.js)`);
  const report = fuzzWire(seed, 10_000);
  assert.deepEqual(report.thrown, []);
  assert.equal(report.cases, 10_000);
  assert.equal(report.accepted + Object.values(report.drops).reduce((a, b) => a + b, 0), report.decodeCalls);
  // The mutations must exercise both outcomes, or the fuzzer tests nothing.
  assert.ok(report.accepted > 100, `accepted ${report.accepted}`);
  assert.ok(Object.keys(report.drops).length >= 5, `drop reasons seen: ${Object.keys(report.drops).join(',')}`);
});
