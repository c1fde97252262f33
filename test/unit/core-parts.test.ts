// The small parts the core is built from: the handoff ring, the named timer
// set and the invariant checker in both modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { silentLogger } from '../../src/base/env.js';
import { InvariantError, Invariants } from '../../src/core/invariants.js';
import { RingQueue } from '../../src/core/ring-queue.js';
import { newStats } from '../../src/core/stats.js';
import { TimerSet } from '../../src/core/timer-set.js';
import { VirtualScheduler } from '../../src/sim/virtual-scheduler.js';

test('ring queue: behaves as a bounded FIFO array for any sequence of pushes and shifts', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.oneof(fc.integer(), fc.constant(null)), { maxLength: 200 }), (capacity, ops) => {
      const ring = new RingQueue<number>(capacity);
      const model: number[] = [];
      for (const op of ops) {
        if (op === null) assert.equal(ring.shift(), model.shift());
        else assert.equal(ring.push(op), model.length < capacity ? (model.push(op), true) : false);
        assert.equal(ring.size(), model.length);
      }
    }),
  );
});

test('timer set: shutdown cancels every named timer; a fired timer may re-arm itself; arming twice is a broken invariant', () => {
  const clock = new VirtualScheduler();
  const strict = new Invariants(newStats(), silentLogger, true);
  const timers = new TimerSet(clock, strict);
  let ticks = 0;
  const tick = (): void => {
    ticks++;
    timers.arm('probe', 10, tick);
  };
  timers.arm('probe', 10, tick);
  timers.arm('gossip', 5, () => assert.fail('cancelled timers never run'));
  timers.cancel('gossip');
  clock.advance(35);
  assert.equal(ticks, 3);
  assert.throws(() => timers.arm('probe', 1, () => {}), InvariantError);
  timers.rearm('push-pull', 5, () => assert.fail('replaced'));
  timers.rearm('push-pull', 50, () => assert.fail('cancelled by shutdown'));
  timers.arm('reconnect', 20, () => assert.fail('cancelled by shutdown'));
  timers.cancelAll();
  assert.equal(timers.isArmed('probe'), false);
  clock.advance(100);
  assert.equal(ticks, 3, 'nothing runs after cancelAll');
});

test('invariants: strict mode throws; otherwise the violation is counted as a drop reason and the caller goes on', () => {
  const strict = new Invariants(newStats(), silentLogger, true);
  assert.doesNotThrow(() => strict.check(true, 'members-over-bound'));
  assert.throws(() => strict.check(false, 'broadcasts-over-bound', () => ({ size: 9 })), /broadcasts-over-bound.*"size":9/);
  const stats = newStats();
  const logged: string[] = [];
  const counting = new Invariants(stats, { isLevelEnabled: () => true, log: (_level, msg) => logged.push(msg) }, false);
  counting.check(false, 'broadcasts-over-bound');
  counting.check(false, 'broadcasts-over-bound');
  assert.equal(stats.drops['invariant:broadcasts-over-bound'], 2);
  assert.equal(logged.length, 2);
});
