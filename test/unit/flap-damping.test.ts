// Flap damping's score: refutations counted from the member's incarnations
// after an accusation (the same count whichever alive messages a member
// happened to see), its own refutations counted by a node itself, decay on
// tick stamps, hysteresis between the two thresholds, the ceiling, resets for a
// new process, and penalty 0 turning it off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CEILING_FACTOR, FlapDamping, FlapDampingConfigError, TICKS_PER_HALF_LIFE, type ObservedMember } from '../../src/partition/flap-damping.js';

const HALF_LIFE_MS = 16_000; // ticks of 1 s
const opts = { penalty: 1, suppressAbove: 3, reuseBelow: 1.5, halfLifeMs: HALF_LIFE_MS, maxMembers: 64 };
const META = Uint8Array.of(1, 2, 3);
const member = (incarnation: number, over: Partial<ObservedMember> = {}): ObservedMember => ({ name: 'a', state: 'alive', incarnation, meta: META, address: '10.0.0.1:7946', ...over });

/** One flap of `a` at `nowMs`: suspected at its incarnation, then alive one above. Returns the new incarnation. */
function flap(d: FlapDamping, incarnation: number, nowMs: number): number {
  d.observed(member(incarnation, { state: 'suspect' }), false, nowMs);
  d.observed(member(incarnation + 1), false, nowMs);
  return incarnation + 1;
}

function tracked(d: FlapDamping, incarnation = 1, nowMs = 0): FlapDamping {
  d.observed(member(incarnation), true, nowMs);
  return d;
}

test('a refutation adds the penalty at once, stamped with its tick, and the score halves every half-life', () => {
  const d = tracked(new FlapDamping(opts), 5);
  assert.equal(d.tickMs, HALF_LIFE_MS / TICKS_PER_HALF_LIFE);
  flap(d, 5, 1300);
  assert.equal(d.stateOf('a', 1300).score, 1);
  // Stamped with tick 1 (1000..1999 ms): the same score wherever in the tick it arrived.
  assert.ok(Math.abs(d.stateOf('a', 1000 + HALF_LIFE_MS).score - 0.5) < 1e-12);
  assert.ok(Math.abs(d.stateOf('a', 1000 + 2 * HALF_LIFE_MS).score - 0.25) < 1e-12);
  const other = tracked(new FlapDamping(opts), 5);
  flap(other, 5, 1999);
  assert.equal(other.stateOf('a', 1000 + HALF_LIFE_MS).score, d.stateOf('a', 1000 + HALF_LIFE_MS).score, 'two members that heard it in the same tick hold the same score');
  // Within a tick the score does not move: every member reads the same value between boundaries.
  assert.equal(d.stateOf('a', 1000 + HALF_LIFE_MS + 999).score, d.stateOf('a', 1000 + HALF_LIFE_MS).score);
  assert.equal(d.stateOf('a', 1000).flaps, 1);
});

test('the refutation that crosses the threshold suppresses at once; release comes only below the reuse threshold, at a tick boundary', () => {
  const d = tracked(new FlapDamping(opts));
  let inc = 1;
  for (let i = 0; i < 3; i++) inc = flap(d, inc, 100 + i);
  assert.equal(d.isSuppressed('a'), false, 'three flaps: score 3 is not above 3');
  assert.equal(d.nextEvaluationMs(200), null, 'nothing suppressed: no tick to wait for');
  assert.equal(d.observed(member(inc, { state: 'dead' }), false, 1500), false, 'an accusation alone counts nothing');
  assert.equal(d.observed(member(inc + 1), false, 1500), true, 'the fourth refutation reports the change');
  assert.equal(d.isSuppressed('a'), true, 'suppressed with the alive that crossed the threshold');
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

test('refutations are the incarnations a member moved up after an accusation, less its metadata changes: a member that saw every alive and one that saw only the last count the same', () => {
  const everyAlive = tracked(new FlapDamping(opts), 10);
  const lastOnly = tracked(new FlapDamping(opts), 10);
  const NEW_META = Uint8Array.of(9);
  const seen = (d: FlapDamping, incarnation: number, state: ObservedMember['state'], meta = META) => d.observed(member(incarnation, { state, meta }), false, 100);
  seen(everyAlive, 10, 'suspect');
  seen(everyAlive, 11, 'alive');
  seen(everyAlive, 11, 'suspect');
  seen(everyAlive, 12, 'alive');
  seen(everyAlive, 13, 'alive', NEW_META); // a tag change, nobody accused it
  seen(everyAlive, 13, 'dead', NEW_META);
  seen(everyAlive, 14, 'alive', NEW_META);
  seen(everyAlive, 14, 'suspect', NEW_META);
  seen(everyAlive, 15, 'alive', NEW_META);
  // The other heard one suspicion and the last alive: 15 − 10 − 1 (the tag change) = 4.
  seen(lastOnly, 10, 'suspect');
  seen(lastOnly, 15, 'alive', NEW_META);
  assert.equal(everyAlive.stateOf('a', 900).flaps, 4);
  assert.equal(lastOnly.stateOf('a', 900).flaps, 4);
  assert.equal(everyAlive.stateOf('a', 900).score, lastOnly.stateOf('a', 900).score);
  assert.equal(everyAlive.isSuppressed('a'), true);
  assert.equal(lastOnly.isSuppressed('a'), true);
  // An older or repeated alive counts nothing.
  seen(lastOnly, 15, 'alive', NEW_META);
  seen(lastOnly, 12, 'alive');
  assert.equal(lastOnly.stateOf('a', 950).flaps, 4);
  // An alive above an alive (a forged or bit-flipped incarnation, a refuted forgery) is not a flap; nor is a tag change.
  const quiet = tracked(new FlapDamping(opts), 1);
  quiet.observed(member(40), false, 100);
  for (let i = 41; i < 50; i++) quiet.observed(member(i, { meta: Uint8Array.of(i) }), false, 100);
  assert.equal(quiet.stateOf('a', 100).flaps, 0);
});

test('this node counts its own refutations of accusations, and only those', () => {
  const d = tracked(new FlapDamping(opts), 1);
  d.observed(member(2), false, 100); // refuted an alive about itself (a forgery): not a flap
  assert.equal(d.stateOf('a', 100).flaps, 0);
  for (let inc = 2; inc < 6; inc++) {
    d.selfAccused('a');
    d.observed(member(inc + 1), false, 200);
  }
  assert.equal(d.stateOf('a', 200).flaps, 4);
  assert.equal(d.isSuppressed('a'), true);
});

test('a join (first seen, or back after a leave) or a process at another address starts from zero; a restart at the same address counts once', () => {
  const d = tracked(new FlapDamping(opts));
  let inc = 1;
  for (let i = 0; i < 5; i++) inc = flap(d, inc, 100);
  assert.equal(d.isSuppressed('a'), true);
  // The replacement at another port announces incarnation 1 there.
  assert.equal(d.observed(member(1, { address: '10.0.0.1:7947' }), false, 1200), true, 'released: the event is read again');
  assert.equal(d.isSuppressed('a'), false);
  assert.equal(d.suppressedMembers(), 0);
  assert.equal(d.stateOf('a', 2000).score, 0);
  inc = 1;
  for (let i = 0; i < 5; i++) {
    d.observed(member(inc, { address: '10.0.0.1:7947', state: 'suspect' }), false, 2100);
    d.observed(member(++inc, { address: '10.0.0.1:7947' }), false, 2100);
  }
  assert.equal(d.isSuppressed('a'), true);
  d.observed(member(inc, { address: '10.0.0.1:7947', state: 'left' }), false, 3100);
  assert.equal(d.isSuppressed('a'), false, 'a graceful leave ends it');
  d.observed(member(inc + 1, { address: '10.0.0.1:7947' }), true, 3200);
  assert.equal(d.stateOf('a', 4000).flaps, 0);
  // Crash, declared dead, restart at the same address: the new process refutes the incarnation the cluster holds.
  d.observed(member(inc + 1, { address: '10.0.0.1:7947', state: 'dead' }), false, 5000);
  d.observed(member(inc + 2, { address: '10.0.0.1:7947' }), false, 6000);
  assert.equal(d.stateOf('a', 6000).flaps, 1);
  assert.equal(d.isSuppressed('a'), false);
});

test('the score is capped, so suppression ends a bounded time after the last flap', () => {
  const d = tracked(new FlapDamping(opts));
  d.observed(member(1, { state: 'suspect' }), false, 100);
  d.observed(member(51), false, 100); // fifty refutations at once
  assert.equal(d.stateOf('a', 100).score, opts.suppressAbove * CEILING_FACTOR);
  assert.equal(d.stateOf('a', 100).flaps, 50);
  assert.equal(d.isSuppressed('a'), true);
  // From the ceiling (6) to below 1.5 is two half-lives: 32 ticks, plus one for the strict inequality.
  const flips: number[] = [];
  for (let k = 1; k <= 40; k++) if (d.evaluate(k * 1000).length > 0) flips.push(k);
  assert.deepEqual(flips, [33]);
});

test('a return from death is one flap however many incarnations it took (a restart refutes, then sets its tags)', () => {
  const d = tracked(new FlapDamping(opts));
  d.observed(member(4), false, 100);
  d.observed(member(4, { state: 'dead' }), false, 200);
  d.observed(member(9), false, 300); // refuted at 5, then four tag changes
  assert.equal(d.stateOf('a', 300).flaps, 1);
  assert.equal(d.isSuppressed('a'), false);
  // A suspicion refuted by several incarnations still counts each.
  d.observed(member(9, { state: 'suspect' }), false, 400);
  d.observed(member(12), false, 500);
  assert.equal(d.stateOf('a', 500).flaps, 4);
});

test('a restarted node counts the refutation of its predecessor\'s death as one flap of its own, not the incarnations it jumped', () => {
  const d = tracked(new FlapDamping(opts));
  d.observed(member(1), false, 100); // the new process starts low
  d.selfAccused('a'); // it hears of its own death at incarnation 8
  d.observed(member(9), false, 200); // and refutes above it
  assert.equal(d.stateOf('a', 200).flaps, 1);
  assert.equal(d.isSuppressed('a'), false);
});

test('penalty 0 disables damping: nothing is counted, nothing is suppressed, no evaluation is ever due', () => {
  const d = tracked(new FlapDamping({ ...opts, penalty: 0 }));
  assert.equal(d.enabled, false);
  let inc = 1;
  for (let i = 0; i < 20; i++) inc = flap(d, inc, 100);
  assert.deepEqual(d.evaluate(1000), []);
  assert.equal(d.isSuppressed('a'), false);
  assert.equal(d.stateOf('a', 1000).score, 0);
  assert.equal(d.nextEvaluationMs(1000), null);
  assert.equal(d.flapsCounted, 0);
});

test('tracked members are bounded (the lowest score goes first); bad settings are refused with a code', () => {
  const d = new FlapDamping({ ...opts, maxMembers: 3 });
  d.observed(member(1, { name: 'hot' }), true, 0);
  d.observed(member(1, { name: 'hot', state: 'suspect' }), false, 0);
  d.observed(member(9, { name: 'hot' }), false, 0);
  assert.equal(d.isSuppressed('hot'), true);
  for (const name of ['b', 'c', 'd', 'e']) d.observed(member(1, { name }), true, 0);
  assert.equal(d.isSuppressed('hot'), true, 'the suppressed member is kept');
  assert.equal(d.stateOf('hot', 0).flaps, 8);
  d.observed(member(1, { name: 'e', state: 'suspect' }), false, 0);
  d.observed(member(2, { name: 'e' }), false, 0);
  assert.equal(d.stateOf('e', 0).flaps, 1, 'the newest member is tracked');
  assert.throws(() => new FlapDamping({ ...opts, reuseBelow: 3 }), (e: unknown) => e instanceof FlapDampingConfigError && e.code === 'FLAP_DAMPING_CONFIG_INVALID');
  assert.throws(() => new FlapDamping({ ...opts, penalty: -1 }), FlapDampingConfigError);
});

test('a member advertising the damped tag is read as drained; the tag is reserved to swimd', async () => {
  const { DAMPED_TAG, partitionMemberOf } = await import('../../src/partition/members.js');
  const { encodeTags } = await import('../../src/wire/serf-tags.js');
  const { SelfTags, TagError } = await import('../../src/daemon/self-tags.js');
  const snap = (tags: Record<string, string>) => ({ name: 'a', host: '10.0.0.1', port: 7946, state: 'alive' as const, incarnation: 3, meta: encodeTags(tags), stateChangedAtMs: 0, vsn: [], contacted: true });
  assert.equal(partitionMemberOf(snap({ zone: 'z1' })).drain, false);
  assert.equal(partitionMemberOf(snap({ zone: 'z1', [DAMPED_TAG]: '1' })).drain, true);
  const applied: Uint8Array[] = [];
  const tags = new SelfTags({ zone: 'z1' }, false, (meta) => applied.push(meta));
  tags.setDamped(true);
  tags.setDamped(true);
  assert.equal(applied.length, 1, 'one change per flip');
  assert.equal(partitionMemberOf(snap(tags.all())).drain, true);
  tags.setDamped(false);
  assert.equal(partitionMemberOf(snap(tags.all())).drain, false);
  assert.throws(() => tags.update({ [DAMPED_TAG]: '0' }, []), (e: unknown) => e instanceof TagError && e.code === 'TAG_RESERVED');
});
