import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualScheduler } from '../../src/sim/virtual-scheduler.js';

test('timers run in due order, ties in insertion order, cancelled ones never', () => {
  const s = new VirtualScheduler();
  const order: string[] = [];
  s.setTimer(30, () => order.push('c'));
  s.setTimer(10, () => order.push('a'));
  s.setTimer(10, () => order.push('b'));
  const cancelled = s.setTimer(20, () => order.push('x'));
  cancelled.cancel();
  assert.equal(s.pending(), 3);
  s.runUntil(25);
  assert.deepEqual(order, ['a', 'b']);
  assert.equal(s.nowMs(), 25);
  s.advance(100);
  assert.deepEqual(order, ['a', 'b', 'c']);
  assert.equal(s.pending(), 0);
});

test('a timer set from inside a timer runs in the same advance when due', () => {
  const s = new VirtualScheduler();
  const seen: number[] = [];
  s.setTimer(5, () => {
    seen.push(s.nowMs());
    s.setTimer(5, () => seen.push(s.nowMs()));
  });
  s.runUntil(10);
  assert.deepEqual(seen, [5, 10]);
});

test('a timer storm hits the event bound instead of spinning', () => {
  const s = new VirtualScheduler();
  const again = (): void => void s.setTimer(0, again);
  s.setTimer(0, again);
  assert.throws(() => s.runUntil(1, 1000), /more than 1000 events/);
});
