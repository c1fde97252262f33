// Flap damping's score: counting refuted accusations once each in any order,
// decay on tick boundaries, hysteresis between the two thresholds, the ceiling,
// resets for a new process, and penalty 0 turning it off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CEILING_FACTOR, FlapDamping, FlapDampingConfigError, TICKS_PER_HALF_LIFE } from '../../src/partition/flap-damping.js';

const HALF_LIFE_MS = 16_000; // ticks of 1 s
const opts = { penalty: 1, suppressAbove: 3, reuseBelow: 1.5, halfLifeMs: HALF_LIFE_MS, maxMembers: 64 };
const alive = (incarnation: number, address = '10.0.0.1:7946') => ({ state: 'alive', incarnation, address });

/** One flap of `name`: accused at its current incarnation, then alive one above. Returns the new incarnation. */
function flap(d: FlapDamping, name: string, incarnation: number, nowMs: number): number {
  d.accused(name, incarnation, alive(incarnation), nowMs);
  d.observed(name, 'alive', incarnation + 1, '10.0.0.1:7946', false, nowMs);
  return incarnation + 1;
}

test('a refuted accusation adds the penalty at once, stamped with its tick, and the score halves every half-life', () => {
  const d = new FlapDamping(opts);
  assert.equal(d.tickMs, HALF_LIFE_MS / TICKS_PER_HALF_LIFE);
  flap(d, 'a', 5, 1300);
  assert.equal(d.stateOf('a', 1300).score, 1);
  // Stamped with tick 1 (1000..1999 ms): the same score wherever in the tick it arrived.
  assert.ok(Math.abs(d.stateOf('a', 1000 + HALF_LIFE_MS).score - 0.5) < 1e-12);
  assert.ok(Math.abs(d.stateOf('a', 1000 + 2 * HALF_LIFE_MS).score - 0.25) < 1e-12);
  const other = new FlapDamping(opts);
  flap(other, 'a', 5, 1999);
  assert.equal(other.stateOf('a', 1000 + HALF_LIFE_MS).score, d.stateOf('a', 1000 + HALF_LIFE_MS).score, 'two members that heard it in the same tick hold the same score');
  // Within a tick the score does not move: every member reads the same value between boundaries.
  assert.equal(d.stateOf('a', 1000 + HALF_LIFE_MS + 999).score, d.stateOf('a', 1000 + HALF_LIFE_MS).score);
  assert.equal(d.stateOf('a', 1000).flaps, 1);
});

test('the flap that crosses the threshold suppresses at once; release comes only below the reuse threshold, at a tick boundary', () => {
  const d = new FlapDamping(opts);
  let inc = 1;
  for (let i = 0; i < 3; i++) inc = flap(d, 'a', inc, 100 + i);
  assert.equal(d.isSuppressed('a'), false, 'three flaps: score 3 is not above 3');
  assert.equal(d.nextEvaluationMs(200), null, 'nothing suppressed: no tick to wait for');
  d.accused('a', inc, alive(inc), 1500);
  assert.equal(d.observed('a', 'alive', inc + 1, '10.0.0.1:7946', false, 1500), true, 'the fourth flap reports the change');
  assert.equal(d.isSuppressed('a'), true, 'suppressed with the refutation that crossed the threshold');
  assert.equal(d.suppressedMembers(), 1);
  assert.equal(d.nextEvaluationMs(1500), 2000);
  const atSuppress = d.stateOf('a', 1500).score;
  assert.ok(atSuppress > 3 && atSuppress < 4);
  // Release at the first tick k after tick 1 with atSuppress · 2^(−k/16) < 1.5.
  const reuseTick = Math.floor(TICKS_PER_HALF_LIFE * Math.log2(atSuppress / 1.5)) + 1;
  for (let k = 1; k < reuseTick; k++) {
    assert.deepEqual(d.evaluate(1000 + k * 1000 + 500), [], `still suppressed at tick ${k} (score ${d.stateOf('a', 1000 + k * 1000).score.toFixed(3)})`);
  }
  assert.ok(d.stateOf('a', 1000 + 10 * 1000).score < 3, 'below the suppress threshold long before the release: hysteresis');
  assert.deepEqual(d.evaluate(1000 + reuseTick * 1000), ['a']);
  assert.equal(d.isSuppressed('a'), false);
  assert.equal(d.suppressedMembers(), 0);
  assert.equal(d.nextEvaluationMs(1000 + reuseTick * 1000), null);
});

test('an accusation counts once, whichever of it and its refutation arrives first, however many accusers repeat it', () => {
  const inOrder = new FlapDamping(opts);
  const reversed = new FlapDamping(opts);
  for (let i = 0; i < 4; i++) {
    const inc = 10 + i;
    // In order: suspect from two accusers, then dead at the same incarnation, then the refutation.
    inOrder.accused('a', inc, alive(inc), 100);
    inOrder.accused('a', inc, alive(inc), 110);
    inOrder.accused('a', inc, alive(inc), 120);
    inOrder.observed('a', 'alive', inc + 1, '10.0.0.1:7946', false, 130);
    // Reversed: the refutation first, then the (now stale) accusation.
    reversed.observed('a', 'alive', inc + 1, '10.0.0.1:7946', false, 100);
    reversed.accused('a', inc, alive(inc + 1), 130);
    reversed.accused('a', inc, alive(inc + 1), 140);
  }
  assert.equal(inOrder.stateOf('a', 1000).flaps, 4);
  assert.equal(reversed.stateOf('a', 1000).flaps, 4);
  assert.equal(inOrder.stateOf('a', 1000).score, reversed.stateOf('a', 1000).score);
  assert.equal(inOrder.isSuppressed('a'), true);
  assert.equal(reversed.isSuppressed('a'), true);
});

test('two refutations seen only through one later alive count twice; an accusation never refuted counts nothing', () => {
  const d = new FlapDamping(opts);
  d.accused('a', 3, alive(3), 0);
  d.accused('a', 4, alive(3), 0);
  d.observed('a', 'alive', 5, '10.0.0.1:7946', false, 0);
  assert.equal(d.stateOf('a', 1000).flaps, 2);
  d.accused('b', 7, alive(7), 0);
  d.observed('b', 'suspect', 7, '10.0.0.1:7946', false, 0);
  d.observed('b', 'dead', 7, '10.0.0.1:7946', false, 0);
  assert.equal(d.stateOf('b', 1000).flaps, 0, 'dead and not back: no flap');
  d.observed('b', 'alive', 8, '10.0.0.1:7946', false, 2000);
  assert.equal(d.stateOf('b', 3000).flaps, 1, 'back at the same address with a higher incarnation: one flap (a noticed crash and restart too)');
});

test('a join (graceful leave and rejoin) or a process at another address starts from zero', () => {
  const d = new FlapDamping(opts);
  let inc = 1;
  for (let i = 0; i < 5; i++) inc = flap(d, 'a', inc, 100);
  assert.equal(d.isSuppressed('a'), true);
  assert.equal(d.observed('a', 'alive', 1, '10.0.0.2:7946', false, 1200), true, 'released: the event is read again');
  assert.equal(d.isSuppressed('a'), false, 'another address is another process');
  assert.equal(d.suppressedMembers(), 0);
  assert.equal(d.stateOf('a', 2000).score, 0);
  for (let i = 0; i < 5; i++) {
    d.accused('a', inc, { state: 'alive', incarnation: inc, address: '10.0.0.2:7946' }, 2100);
    d.observed('a', 'alive', ++inc, '10.0.0.2:7946', false, 2100);
  }
  assert.equal(d.isSuppressed('a'), true);
  d.observed('a', 'left', inc, '10.0.0.2:7946', false, 3100);
  d.observed('a', 'alive', inc + 1, '10.0.0.2:7946', true, 3200);
  assert.equal(d.isSuppressed('a'), false);
  assert.equal(d.stateOf('a', 4000).flaps, 0);
});

test('the score is capped, so suppression ends a bounded time after the last flap', () => {
  const d = new FlapDamping(opts);
  let inc = 1;
  for (let i = 0; i < 50; i++) inc = flap(d, 'a', inc, 100);
  assert.equal(d.stateOf('a', 100).score, opts.suppressAbove * CEILING_FACTOR);
  assert.equal(d.isSuppressed('a'), true);
  // From the ceiling (6) to below 1.5 is two half-lives: 32 ticks, plus one for the strict inequality.
  const flips: number[] = [];
  for (let k = 1; k <= 40; k++) if (d.evaluate(k * 1000).length > 0) flips.push(k);
  assert.deepEqual(flips, [33]);
});

test('penalty 0 disables damping: nothing is counted, nothing is suppressed, no evaluation is ever due', () => {
  const d = new FlapDamping({ ...opts, penalty: 0 });
  assert.equal(d.enabled, false);
  let inc = 1;
  for (let i = 0; i < 20; i++) inc = flap(d, 'a', inc, 100);
  assert.deepEqual(d.evaluate(1000), []);
  assert.equal(d.isSuppressed('a'), false);
  assert.equal(d.stateOf('a', 1000).score, 0);
  assert.equal(d.nextEvaluationMs(1000), null);
  assert.equal(d.flapsCounted, 0);
});

test('evaluations are due only while a member is suppressed; tracked members are bounded; bad settings are refused with a code', () => {
  const d = new FlapDamping({ ...opts, maxMembers: 3 });
  assert.equal(d.nextEvaluationMs(500), null);
  flap(d, 'a', 1, 500);
  assert.equal(d.nextEvaluationMs(500), null, 'one flap cannot suppress: nothing to wait for');
  for (const n of ['b', 'c', 'd', 'e']) d.accused(n, 1, alive(1), 1100);
  let tracked = 0;
  for (const n of ['a', 'b', 'c', 'd', 'e']) if (d.stateOf(n, 2000).flaps > 0 || d.stateOf(n, 2000).score > 0) tracked++;
  assert.ok(tracked <= 1);
  for (const n of ['d', 'e']) d.observed(n, 'alive', 2, '10.0.0.1:7946', false, 1200);
  assert.equal(d.stateOf('e', 2000).flaps, 1, 'the newest accusations are kept');
  assert.throws(() => new FlapDamping({ ...opts, reuseBelow: 3 }), (e: unknown) => e instanceof FlapDampingConfigError && e.code === 'FLAP_DAMPING_CONFIG_INVALID');
  assert.throws(() => new FlapDamping({ ...opts, penalty: -1 }), FlapDampingConfigError);
});
