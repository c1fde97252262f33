// Flap damping's score: a member counts its own refutations, one flap each;
// decay on tick stamps, hysteresis between the two thresholds, the ceiling, the
// score a restarted process carries on from, and penalty 0 turning it off. The
// decision travels as the member's own tag, and the refutation that crosses
// the threshold carries it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CEILING_FACTOR, FlapDamping, FlapDampingConfigError, TICKS_PER_HALF_LIFE } from '../../src/partition/flap-damping.js';
import { loadDamping, saveDamping } from '../../src/daemon/damping-file.js';
import { lanConfig } from '../../src/config/presets.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { decodeTags, encodeTags } from '../../src/wire/serf-tags.js';

const HALF_LIFE_MS = 16_000; // ticks of 1 s
const opts = { penalty: 1, suppressAbove: 3, reuseBelow: 1.5, halfLifeMs: HALF_LIFE_MS };

test('a refutation adds the penalty at once, stamped with its tick, and the score halves every half-life', () => {
  const d = new FlapDamping(opts);
  assert.equal(d.tickMs, HALF_LIFE_MS / TICKS_PER_HALF_LIFE);
  assert.equal(d.refuting(1300), false);
  assert.equal(d.stateAt(1300).score, 1);
  // Stamped with tick 1 (1000..1999 ms): within a tick the score does not move.
  assert.equal(d.stateAt(1999).score, 1);
  assert.ok(Math.abs(d.stateAt(1000 + HALF_LIFE_MS).score - 0.5) < 1e-12);
  assert.ok(Math.abs(d.stateAt(1000 + 2 * HALF_LIFE_MS).score - 0.25) < 1e-12);
  assert.equal(d.stateAt(1000).flaps, 1);
  assert.equal(d.flapsCounted, 1);
});

test('the refutation that crosses the threshold suppresses at once; release comes only below the reuse threshold, at a tick boundary', () => {
  const d = new FlapDamping(opts);
  for (let i = 0; i < 3; i++) assert.equal(d.refuting(100 + i), false);
  assert.equal(d.isSuppressed(), false, 'three flaps: score 3 is not above 3');
  assert.equal(d.nextEvaluationMs(200), null, 'nothing suppressed: no tick to wait for');
  assert.equal(d.refuting(1500), true, 'the fourth refutation reports the change');
  assert.equal(d.isSuppressed(), true);
  assert.equal(d.refuting(1600), false, 'already suppressed: no second change');
  assert.equal(d.nextEvaluationMs(1600), 2000);
  const atSuppress = d.stateAt(1600).score;
  assert.ok(atSuppress > 4 && atSuppress < 5, String(atSuppress));
  // Release at the first tick k after tick 1 with atSuppress · 2^(−k/16) < 1.5.
  const reuseTick = Math.floor(TICKS_PER_HALF_LIFE * Math.log2(atSuppress / 1.5)) + 1;
  for (let k = 1; k < reuseTick; k++) assert.equal(d.evaluate(1000 + k * 1000 + 500), false, `still suppressed at tick ${k}`);
  assert.ok(d.stateAt(1000 + 12 * 1000).score < 3, 'below the suppress threshold long before the release: hysteresis');
  assert.equal(d.evaluate(1000 + reuseTick * 1000), true);
  assert.equal(d.isSuppressed(), false);
  assert.equal(d.nextEvaluationMs(1000 + reuseTick * 1000), null);
});

test('the score is capped, so suppression ends a bounded time after the last flap', () => {
  const d = new FlapDamping(opts);
  for (let i = 0; i < 50; i++) d.refuting(100);
  assert.equal(d.stateAt(100).score, opts.suppressAbove * CEILING_FACTOR);
  assert.equal(d.stateAt(100).flaps, 50);
  // From the ceiling (6) to below 1.5 is two half-lives: 32 ticks, plus one for the strict inequality.
  const flips: number[] = [];
  for (let k = 1; k <= 40; k++) if (d.evaluate(k * 1000)) flips.push(k);
  assert.deepEqual(flips, [33]);
});

test('a restarted process carries on from the saved score, which keeps decaying on the wall clock; a corrupt file starts from zero', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swimd-damping-'));
  try {
    const warnings: string[] = [];
    const first = new FlapDamping(opts);
    for (let i = 0; i < 4; i++) first.refuting(5000);
    assert.equal(first.isSuppressed(), true);
    saveDamping(dir, first.saved(), (w) => warnings.push(w));
    const loaded = loadDamping(dir, (w) => warnings.push(w));
    assert.deepEqual(loaded, first.saved());
    const second = new FlapDamping(opts, loaded);
    assert.equal(second.isSuppressed(), true, 'a crash loop stays damped across restarts');
    assert.equal(second.stateAt(5000 + HALF_LIFE_MS).score, first.stateAt(5000 + HALF_LIFE_MS).score);
    // One refutation of its predecessor's death is one more flap.
    second.refuting(6000);
    assert.equal(second.stateAt(6000).flaps, 1);
    assert.equal(warnings.length, 0);
    writeFileSync(join(dir, 'damping.json'), '{"value": "lots"');
    assert.equal(loadDamping(dir, (w) => warnings.push(w)), null);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /not a damping score/);
    assert.equal(loadDamping(join(dir, 'absent'), (w) => warnings.push(w)), null, 'no file: a fresh start, no warning');
    assert.equal(warnings.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('penalty 0 disables damping: nothing is counted, nothing is suppressed, no evaluation is ever due; bad settings are refused with a code', () => {
  const d = new FlapDamping({ ...opts, penalty: 0 }, { value: 5, atTick: 0, suppressed: true });
  assert.equal(d.enabled, false);
  for (let i = 0; i < 20; i++) assert.equal(d.refuting(100), false);
  assert.equal(d.evaluate(1000), false);
  assert.equal(d.isSuppressed(), false, 'a saved score does not apply while damping is off');
  assert.equal(d.stateAt(1000).score, 0);
  assert.equal(d.nextEvaluationMs(1000), null);
  assert.equal(d.flapsCounted, 0);
  assert.throws(() => new FlapDamping({ ...opts, reuseBelow: 3 }), (e: unknown) => e instanceof FlapDampingConfigError && e.code === 'FLAP_DAMPING_CONFIG_INVALID');
  assert.throws(() => new FlapDamping({ ...opts, penalty: -1 }), FlapDampingConfigError);
});

test('damped members are kept from primary while at least as many members could be primary instead, and are candidates again when fewer could (one barred as gone included)', async () => {
  const { DAMPED_TAG } = await import('../../src/partition/members.js');
  const { PrimaryBars } = await import('../../src/partition/primary-bars.js');
  const snap = (name: string, tags: Record<string, string>, state: 'alive' | 'dead' = 'alive') => ({ name, host: '10.0.0.1', port: 7946, state, incarnation: 3, meta: encodeTags(tags), stateChangedAtMs: 0, vsn: [], contacted: true });
  const d = new PrimaryBars((m) => m.tags.role === 'app');
  d.observe(snap('a', { role: 'app', [DAMPED_TAG]: '1' }));
  assert.equal(d.takeFallbackChange(), false, 'no candidate yet, nothing to flip');
  assert.equal(d.suppressed('a'), false, 'the only member stays a primary candidate');
  d.observe(snap('b', { role: 'app' }));
  assert.equal(d.takeFallbackChange(), true, 'a candidate arrived: damped members read otherwise now');
  assert.equal(d.suppressed('a'), true);
  assert.equal(d.suppressed('b'), false);
  d.observe(snap('tool', { [DAMPED_TAG]: '1' }));
  assert.equal(d.takeFallbackChange(), false, 'a member that is not eligible counts for nothing');
  assert.equal(d.advertising(), 1);
  d.observe(snap('c', { role: 'app', drain: 'true' }));
  assert.equal(d.takeFallbackChange(), false, 'a drained member is no candidate');
  d.observe(snap('b', { role: 'app' }, 'dead'));
  assert.equal(d.takeFallbackChange(), true, 'the last candidate died: the fallback turns on');
  assert.equal(d.suppressed('a'), false, 'damping alone never leaves a partition without a primary');
  d.observe(snap('b', { role: 'app', [DAMPED_TAG]: '1' }));
  assert.equal(d.takeFallbackChange(), false, 'back, but damped itself');
  assert.deepEqual(d.dampedNames().sort(), ['a', 'b']);
  assert.equal(d.suppressed('b'), false);
  // One candidate against two damped members: the flaps are the cluster's, so the damped stay candidates.
  d.observe(snap('e', { role: 'app' }));
  assert.equal(d.takeFallbackChange(), false, 'fewer candidates than damped members: no bar yet');
  assert.equal(d.suppressed('a'), false);
  // As many candidates as damped members: the damped are barred.
  d.observe(snap('f', { role: 'app' }));
  assert.equal(d.takeFallbackChange(), true, 'candidates caught up with the damped');
  assert.equal(d.suppressed('a'), true);
  assert.equal(d.suppressed('b'), true);
  // A candidate barred as gone (its probes refused): fewer candidates than damped again, so the fallback turns on.
  const eSuspect = { ...snap('e', { role: 'app' }), state: 'suspect' as const };
  d.observe(eSuspect);
  assert.equal(d.markGone(eSuspect, 3), true);
  assert.equal(d.suppressed('e'), true, 'a gone member is never primary');
  assert.equal(d.takeFallbackChange(), true, 'barring a candidate turns the fallback on');
  assert.equal(d.suppressed('a'), false);
});

test('the damped tag is reserved to swimd, and a staged tag changes nothing until sent', async () => {
  const { DAMPED_TAG } = await import('../../src/partition/members.js');
  const { SelfTags, TagError } = await import('../../src/daemon/self-tags.js');
  const applied: Uint8Array[] = [];
  const tags = new SelfTags({ zone: 'z1' }, false, (meta) => applied.push(meta));
  const staged = tags.stageDamped(true);
  assert.equal(applied.length, 0, 'staged, not spread: the refutation carries it');
  assert.equal(decodeTags(staged!)?.[DAMPED_TAG], '1');
  tags.setDamped(true);
  assert.equal(applied.length, 0, 'already in force');
  assert.equal(tags.all()[DAMPED_TAG], '1');
  tags.setDamped(false);
  assert.equal(applied.length, 1, 'one change per flip');
  assert.equal(tags.all()[DAMPED_TAG], undefined);
  assert.equal(new SelfTags({}, false, () => {}, {}, true).all()[DAMPED_TAG], '1', 'a process that starts suppressed says so from its first alive');
  assert.throws(() => tags.update({ [DAMPED_TAG]: '0' }, []), (e: unknown) => e instanceof TagError && e.code === 'TAG_RESERVED');
});

test('metadata staged before a refutation goes out with it, in the same incarnation, and every member sees it', () => {
  const c = new SimCluster({ seed: 3, size: 3, config: lanConfig() });
  c.startAll();
  c.joinAll();
  c.runUntil(() => c.converged(), 30_000, 100, 'convergence');
  const [a, b, x] = c.members;
  const staged = encodeTags({ flapped: 'yes' });
  let calls = 0;
  a!.node.onSelfAccused(() => {
    calls++;
    return staged;
  });
  const before = a!.node.member(a!.name)!.incarnation;
  // a stalls until the others accuse it, then hears the accusation and refutes it.
  c.pause(a!.name);
  c.runUntil(() => b!.node.member(a!.name)?.state !== 'alive', 30_000, 50, 'b accuses the stalled member');
  c.resume(a!.name);
  c.runUntil(() => [b!, x!].every((m) => m.node.member(a!.name)?.state === 'alive'), 30_000, 50, 'the refutation reaches everyone');
  c.run(2_000);
  assert.equal(calls, 1, 'the listener ran once, before the refutation');
  for (const m of [a!, b!, x!]) {
    const seen = m.node.member(a!.name)!;
    assert.equal(seen.state, 'alive', `${m.name} holds a alive`);
    assert.equal(seen.incarnation, before + 1, `${m.name}: one new incarnation, the refutation's`);
    assert.equal(decodeTags(seen.meta)?.flapped, 'yes', `${m.name} has the staged tags`);
  }
});
