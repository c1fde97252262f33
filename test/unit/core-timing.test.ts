import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  expectedConfirmations,
  pushPullScaledIntervalMs,
  remainingSuspicionTimeMs,
  retransmitLimit,
  scaleByAwareness,
  suspicionTimeoutsMs,
} from '../../src/core/timing.js';
import { Awareness } from '../../src/core/awareness.js';

test('retransmit limit = mult × ceil(log10(n + 1))', () => {
  const cases: [number, number, number][] = [
    [4, 0, 0],
    [4, 1, 4],
    [4, 9, 4],
    [4, 10, 8],
    [4, 99, 8],
    [4, 100, 12],
    [4, 1000, 16],
    [2, 64, 4],
  ];
  for (const [mult, n, want] of cases) assert.equal(retransmitLimit(mult, n), want, `mult ${mult} n ${n}`);
});

test('suspicion timeouts: min = mult × max(1, log10 n) × interval, max = maxMult × min', () => {
  const cases: [number, number, number, number, number, number][] = [
    // n, mult, maxMult, intervalMs, min, max
    [1, 4, 6, 1000, 4000, 24000],
    [10, 4, 6, 1000, 4000, 24000],
    [64, 4, 6, 1000, 7224, 43344], // log10(64) = 1.806 -> 1806 ms units
    [100, 4, 6, 1000, 8000, 48000],
    [1000, 4, 6, 1000, 12000, 72000],
    [64, 3, 6, 100, 541.8, 3250.8],
  ];
  for (const [n, mult, maxMult, interval, min, max] of cases) {
    const t = suspicionTimeoutsMs(n, mult, maxMult, interval);
    assert.ok(Math.abs(t.minMs - min) < 1e-6, `n ${n}: min ${t.minMs} vs ${min}`);
    assert.ok(Math.abs(t.maxMs - max) < 1e-6, `n ${n}: max ${t.maxMs} vs ${max}`);
  }
});

test('confirmations wanted: suspicionMult − 2, or 0 in clusters too small to confirm', () => {
  assert.equal(expectedConfirmations(4, 64), 2);
  assert.equal(expectedConfirmations(4, 4), 2);
  assert.equal(expectedConfirmations(4, 3), 0);
  assert.equal(expectedConfirmations(3, 2), 0);
  assert.equal(expectedConfirmations(6, 100), 4);
});

test('remaining suspicion time falls from max to min with confirmations (log scale), net of elapsed time', () => {
  const min = 2000;
  const max = 30000;
  const k = 3;
  const cases: [number, number, number][] = [
    // confirmations, elapsed, expected remaining
    [0, 0, 30000],
    [1, 0, Math.floor(30000 - (Math.log(2) / Math.log(4)) * 28000)], // 16000
    [2, 0, Math.floor(30000 - (Math.log(3) / Math.log(4)) * 28000)],
    [3, 0, 2000],
    [4, 0, 2000], // never below min
    [3, 500, 1500],
    [1, 20000, -4000],
  ];
  for (const [c, elapsed, want] of cases) assert.equal(remainingSuspicionTimeMs(c, k, elapsed, min, max), want, `c ${c} elapsed ${elapsed}`);
  assert.equal(remainingSuspicionTimeMs(1, 3, 0, min, max), 16000);
});

test('push/pull interval scales by ceil(log2 n − 5) + 1 above 32 members', () => {
  const cases: [number, number][] = [
    [1, 30000],
    [32, 30000],
    [33, 60000],
    [64, 60000],
    [65, 90000],
    [128, 90000],
    [1000, 180000],
  ];
  for (const [n, want] of cases) assert.equal(pushPullScaledIntervalMs(30000, n), want, `n ${n}`);
});

test('awareness: clamped to [0, max − 1], scales timeouts by score + 1', () => {
  const a = new Awareness(8);
  a.applyDelta(-1);
  assert.equal(a.healthScore(), 0);
  a.applyDelta(3);
  assert.equal(a.healthScore(), 3);
  assert.equal(a.scaleTimeoutMs(500), 2000);
  a.applyDelta(100);
  assert.equal(a.healthScore(), 7);
  assert.equal(scaleByAwareness(1000, 7), 8000);
  a.setMax(4);
  assert.equal(a.healthScore(), 3);
});
