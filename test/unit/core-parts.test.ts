// The small parts the core is built from: the handoff ring, the named timer
// set and the invariant checker in both modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { silentLogger } from '../../src/base/env.js';
import { lanConfig } from '../../src/config/presets.js';
import type { CoreContext } from '../../src/core/context.js';
import { InvariantError, Invariants } from '../../src/core/invariants.js';
import type { MemberRecord } from '../../src/core/member.js';
import { MemberTable } from '../../src/core/member-table.js';
import type { MemberState } from '../../src/core/member-types.js';
import { SeededRandom } from '../../src/core/prng.js';
import { SourceRateLimit } from '../../src/core/source-limit.js';
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

test('member table: randomMemberIn picks every member in a state, never self, none when the state is empty, and follows state changes and reaping', () => {
  const clock = new VirtualScheduler();
  const ctx = {
    name: 'self',
    cfg: { ...lanConfig(), reconnectTimeoutMs: 1000 },
    env: { scheduler: clock, random: new SeededRandom(3) },
    invariants: new Invariants(newStats(), silentLogger, true),
  } as unknown as CoreContext;
  const table = new MemberTable(ctx);
  const record = (name: string, i: number, state: MemberState): MemberRecord => ({ name, host: `10.0.0.${i}`, port: 7946, addr: Uint8Array.from([10, 0, 0, i]), meta: new Uint8Array(0), incarnation: 1, state, stateChangedAtMs: 0, vsn: [], changeSeq: 0, contacted: false, verified: null, snapshot: null });
  table.add(record('self', 1, 'dead'));
  const members = Array.from({ length: 20 }, (_, i) => record(`m${i}`, i + 2, 'alive'));
  for (const m of members) table.add(m);
  assert.equal(table.randomMemberIn('dead'), undefined, 'self is dead here but never picked; nobody else is');
  assert.equal(table.hasAliveAt('10.0.0.5', 7946), true);
  for (const i of [3, 7, 11]) table.touch(members[i]!, 'dead');
  assert.equal(table.hasAliveAt('10.0.0.5', 7946), false, 'm3 lives at 10.0.0.5 and is dead now');
  const picked = new Set<string>();
  for (let k = 0; k < 200; k++) {
    const m = table.randomMemberIn('dead');
    assert.ok(m && m.state === 'dead' && m.name !== 'self');
    picked.add(m.name);
  }
  assert.deepEqual([...picked].sort(), ['m11', 'm3', 'm7']);
  table.touch(members[7]!, 'alive');
  for (let k = 0; k < 50; k++) assert.notEqual(table.randomMemberIn('dead')?.name, 'm7');
  // Past the reconnect timeout, a new probe round reaps the dead.
  clock.advance(5000);
  for (let k = 0; k < 25; k++) table.nextProbeTarget();
  assert.equal(table.get('m3'), undefined, 'reaped');
  assert.equal(table.randomMemberIn('dead'), undefined, 'the reaped no longer count');
  assert.equal(table.randomMemberIn('alive')?.state, 'alive');
  table.touch(members[5]!, 'dead');
  for (let k = 0; k < 50; k++) assert.equal(table.randomMemberIn('dead')?.name, 'm5', 'the one dead member left is found every time');
});

test('source rate limit: a bound per host and port per second, a fresh window after a second, and a table that starts over when full', () => {
  const limit = new SourceRateLimit(3, 2);
  const a = { host: '10.0.0.1', port: 7946 };
  const samePortOtherHost = { host: '10.0.0.2', port: 7946 };
  const sameHostOtherPort = { host: '10.0.0.1', port: 7947 };
  assert.deepEqual([1, 2, 3, 4].map(() => limit.admit(a, 0)), [true, true, true, false], 'three a second from one source');
  assert.equal(limit.admit(a, 999), false, 'still the same second');
  assert.equal(limit.admit(sameHostOtherPort, 10), true, 'another port is another source');
  assert.equal(limit.admit(a, 1000), true, 'a new second, a new window');
  assert.equal(limit.admit(a, 1001), true);
  assert.equal(limit.admit(a, 1002), true);
  assert.equal(limit.admit(a, 1003), false);
  // Two sources known: a third starts the table over, so `a` gets a fresh window at once.
  assert.equal(limit.admit(samePortOtherHost, 1004), true);
  assert.equal(limit.admit(a, 1005), true, 'forgotten when the table started over');
  assert.equal(new SourceRateLimit(0, 1).admit(a, 0), true, '0 turns the limit off');
});
