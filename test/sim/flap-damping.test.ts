// Flap damping in virtual time: one member stalls long enough to be declared
// dead, resumes and refutes, over and over. Without damping each flap moves its
// partitions away and back; with damping it loses its primaries after the
// threshold (staying a replica), keeps them away while it flaps, and gets them
// back once its score has decayed, and every member computes the same table at
// every quiet point, a member restarted after the flaps included (it reads the
// tag the suppressed member advertises). The same seed runs with damping
// disabled to show the flaps do cause the moves damping removes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lanConfig, localConfig } from '../../src/config/presets.js';
import type { SwimConfig } from '../../src/base/swim-config.js';
import { createHasher, type Hasher } from '../../src/partition/engine.js';
import { isDamped } from '../../src/partition/members.js';
import { OwnershipCluster } from '../../src/sim/ownership-cluster.js';
import { simSeeds, withReplay } from './seeds.js';

const FILE = 'dist/test/sim/flap-damping.test.js';
const SIZE = 5;
const PARTITIONS = 64;
const FLAPS = 7;
/** After each refutation has reached everyone: more than two damping ticks, so every decision due has been taken. */
const SETTLE_MS = 3_000;
const DAMPING = { penalty: 1, suppressAbove: 2, reuseBelow: 1, halfLifeMs: 30_000 };
/** Before this cycle one steady member restarts: its new process never saw the flaps and must agree all the same. */
const RESTART_BEFORE_CYCLE = 4;

interface FlapRun {
  victim: string;
  /** Partitions the victim was primary of before it flapped. */
  before: number[];
  /** Primary moves per flap cycle, seen in one steady member's published table. */
  movesPerCycle: number[];
  /** Per partition, moves over all cycles. */
  movesPerPartition: number[];
  /** Victim's primaries in each member's engine at the quiet point after each cycle. */
  victimPrimariesPerCycle: number[][];
  /** Quiet points at which the members' tables differed. */
  disagreements: string[];
  /** Victim's primaries, in the observer's published table, after its score decayed (damped run only). */
  after: number[] | null;
  suppressedAt: number | null;
}

function placementOf(oc: OwnershipCluster, name: string): string {
  return JSON.stringify([...oc.leadership(name).engine.snapshot().partitions].map((p) => [p.primary, p.replicas]));
}

function publishedPrimaries(oc: OwnershipCluster, name: string): string {
  return JSON.stringify([...oc.leadership(name).snapshot().partitions].map((p) => p.primary));
}

function runFlaps(seed: number, damped: boolean, hasher: Hasher): FlapRun {
  const oc = new OwnershipCluster(
    { seed, size: SIZE, config: lanConfig(), fencing: 'granted', quorum: 3, partitions: PARTITIONS, damping: damped ? DAMPING : { ...DAMPING, penalty: 0 } },
    hasher,
  );
  const c = oc.cluster;
  c.startAll();
  c.joinAll();
  c.runUntil(() => c.converged(), 30_000, 100, 'convergence');
  c.runUntil(() => oc.unwritable().length === 0, 30_000, 100, 'every partition owned');
  c.run(2_000);
  const names = c.members.map((m) => m.name);
  // The victim is the member with the most primaries, the observer any other.
  const owned = (n: string): number[] => oc.leadership(names[0]!).engine.owned(n).primary;
  const victim = [...names].sort((a, b) => owned(b).length - owned(a).length || (a < b ? -1 : 1))[0]!;
  const others = names.filter((n) => n !== victim);
  const observer = others[0]!;
  const before = owned(victim);

  const movesPerPartition = new Array<number>(PARTITIONS).fill(0);
  const lastPrimary = [...oc.leadership(observer).snapshot().partitions].map((p) => p.primary);
  let moves = 0;
  oc.leadership(observer).on((_snap, diff) => {
    for (const ch of diff.changed) {
      // A move is a new holder; the gap while a successor's claim is granted is not one.
      if (ch.newPrimary === null || ch.newPrimary === lastPrimary[ch.id]) continue;
      lastPrimary[ch.id] = ch.newPrimary;
      movesPerPartition[ch.id]!++;
      moves++;
    }
  });

  const run: FlapRun = { victim, before, movesPerCycle: [], movesPerPartition, victimPrimariesPerCycle: [], disagreements: [], after: null, suppressedAt: null };
  const quietCheck = (label: string, published = true): void => {
    const placements = others.map((n) => placementOf(oc, n));
    if (!placements.every((p) => p === placements[0])) run.disagreements.push(`${label}: placements differ`);
    const shown = others.map((n) => publishedPrimaries(oc, n));
    if (published && !shown.every((p) => p === shown[0])) run.disagreements.push(`${label}: published primaries differ`);
    // The victim's own engine reads its own flaps the same way.
    if (placementOf(oc, victim) !== placements[0]) run.disagreements.push(`${label}: the victim's own placement differs`);
  };
  const seenBy = (state: 'alive' | 'dead'): boolean => others.every((n) => c.member(n).node.member(victim)?.state === state);
  const nobodySuspect = (): boolean => c.up().every((m) => m.node.members().every((s) => s.state === 'alive'));

  const newcomer = others[others.length - 1]!;
  for (let cycle = 0; cycle < FLAPS; cycle++) {
    if (cycle === RESTART_BEFORE_CYCLE) {
      oc.restart(newcomer);
      c.runUntil(() => c.converged(), 30_000, 100, 'convergence after the restart');
      c.runUntil(() => oc.unwritable().length === 0, 30_000, 100, 'every partition owned after the restart');
      c.run(SETTLE_MS);
      // Placement only: a restarted process names other owners once it hears their commits (the periodic
      // sync), with or without damping; what damping decides is the placement.
      quietCheck(`after ${newcomer} restarted`, false);
    }
    const movesBefore = moves;
    c.pause(victim);
    c.runUntil(() => seenBy('dead'), 60_000, 50, `cycle ${cycle}: the stalled member declared dead everywhere`);
    // Its successors hold its partitions before it returns (unwritable() skips the paused member).
    c.runUntil(() => oc.unwritable().length === 0, 30_000, 50, `cycle ${cycle}: successors hold every partition`);
    c.resume(victim);
    c.runUntil(() => seenBy('alive') && nobodySuspect(), 30_000, 50, `cycle ${cycle}: the refutation reaches everyone`);
    c.run(SETTLE_MS);
    quietCheck(`cycle ${cycle}`);
    run.victimPrimariesPerCycle.push(others.map((n) => oc.leadership(n).engine.owned(victim).primary.length));
    if (damped && run.suppressedAt === null && oc.leadership(victim).ownDamping()?.suppressed === true && others.every((n) => isDamped(c.member(n).node.member(victim)!))) run.suppressedAt = cycle;
    run.movesPerCycle.push(moves - movesBefore);
  }
  if (damped) {
    c.runUntil(() => oc.leadership(victim).ownDamping()?.suppressed === false && [victim, ...others].every((n) => !isDamped(c.member(n).node.member(victim)!)), 300_000, 250, 'the score decays below the reuse threshold and the release reaches everyone');
    c.runUntil(() => oc.unwritable().length === 0, 30_000, 100, 'every partition owned after the reuse');
    c.run(SETTLE_MS);
    quietCheck('after the decay');
    run.after = oc.leadership(observer).owned(victim).primary;
  }
  return run;
}

for (const seed of simSeeds([5, 17])) {
  test(`a member flapping between dead and alive loses its primaries after the threshold, gets them back after the decay, and moves partitions far less than undamped (seed ${seed})`, async () => {
    const hasher = await createHasher();
    const damped = runFlaps(seed, true, hasher);
    const undamped = runFlaps(seed, false, hasher);
    withReplay(FILE, seed, () => {
      const V = damped.before.length;
      const total = (r: FlapRun): number => r.movesPerCycle.reduce((a, b) => a + b, 0);
      console.log(`# seed ${seed}: victim ${damped.victim} primary of ${V}; moves per cycle damped [${damped.movesPerCycle}] (total ${total(damped)}), undamped [${undamped.movesPerCycle}] (total ${total(undamped)}); suppressed after flap ${damped.suppressedAt === null ? 'never' : damped.suppressedAt + 1}`);
      assert.ok(V > 0, 'the victim was primary somewhere');
      // The fault does cause moves: undamped, each flap moves the victim's partitions away and back.
      assert.ok(total(undamped) >= 1.5 * FLAPS * V, `undamped flaps move partitions every cycle (${total(undamped)} moves, ${V} partitions, ${FLAPS} flaps)`);
      assert.ok(undamped.victimPrimariesPerCycle.every((per) => per.every((n) => n === V)), 'undamped, the victim is primary again after every flap');
      // Damped: suppressed after the threshold (score 1, 1.8, 2.5 > 2 with this spacing: the third flap), never primary while suppressed.
      assert.notEqual(damped.suppressedAt, null, 'the flapping member is suppressed');
      assert.ok(damped.suppressedAt! < RESTART_BEFORE_CYCLE, `suppressed before the restart (at flap ${damped.suppressedAt! + 1})`);
      for (let k = damped.suppressedAt!; k < FLAPS; k++) {
        assert.deepEqual(damped.victimPrimariesPerCycle[k], others(damped).map(() => 0), `cycle ${k}: the suppressed member is primary nowhere`);
      }
      for (let k = damped.suppressedAt! + 1; k < FLAPS; k++) assert.ok(damped.movesPerCycle[k]! <= V, `cycle ${k}: only the death's moves, none back (${damped.movesPerCycle[k]})`);
      assert.ok(damped.movesPerCycle.every((m) => m <= 2 * V), `no more than two moves per partition per cycle overall: [${damped.movesPerCycle}]`);
      assert.ok(damped.movesPerPartition.every((m) => m <= 2 * FLAPS), 'no partition moves more than twice per cycle');
      assert.ok(total(damped) <= 0.75 * total(undamped), `damping moves markedly less (${total(damped)} against ${total(undamped)})`);
      // After the decay the member wins its partitions back (rendezvous: the same ones).
      assert.deepEqual(damped.after, damped.before, 'primary of its partitions again after the decay');
      assert.deepEqual({ damped: damped.disagreements, undamped: undamped.disagreements }, { damped: [], undamped: [] }, 'every member computes the same table at every quiet point');
    });
  });
}

function others(r: FlapRun): string[] {
  return Array.from({ length: SIZE }, (_, i) => `m${i}`).filter((n) => n !== r.victim);
}

/** Five members with damping whose scores barely decay (half-life 600 s, so flaps add up), formed and every partition owned. */
async function ownedCluster(seed: number, config: SwimConfig): Promise<OwnershipCluster> {
  const oc = new OwnershipCluster({ seed, size: SIZE, config, fencing: 'granted', quorum: 3, partitions: PARTITIONS, damping: { ...DAMPING, halfLifeMs: 600_000 } }, await createHasher());
  const c = oc.cluster;
  c.startAll();
  c.joinAll();
  c.runUntil(() => c.converged(), 30_000, 100, 'convergence');
  c.runUntil(() => oc.unwritable().length === 0, 30_000, 100, 'every partition owned');
  return oc;
}

for (const seed of simSeeds([8, 23])) {
  test(`repeated splits damp every member (each refutes its own death per heal); the members still agree, and every partition keeps a writable primary (seed ${seed})`, async () => {
    const oc = await ownedCluster(seed, lanConfig());
    const c = oc.cluster;
    const names = c.members.map((m) => m.name);
    const minority = names.slice(0, 2);
    const majority = names.slice(2);
    const advertising = (): number => names.filter((n) => isDamped(c.member(names[0]!).node.member(n)!)).length;
    const viewsAgree = (): boolean => {
      const of = (o: string): string => JSON.stringify(names.map((n) => c.member(o).node.member(n)?.incarnation ?? -1));
      return names.every((o) => of(o) === of(names[0]!));
    };
    let mostDamped = 0;
    const disagreements: string[] = [];
    withReplay(FILE, seed, () => {
      // Until every member has been damped at once, and one split more with all of them damped.
      for (let split = 0, allDampedSplits = 0; split < 12 && allDampedSplits < 2; split++) {
        c.partition(minority, majority);
        c.runUntil(() => majority.every((n) => minority.every((x) => c.member(n).node.member(x)?.state === 'dead')), 60_000, 100, `split ${split}: each side declares the other dead`);
        c.heal();
        c.runUntil(() => c.converged(), 60_000, 100, `split ${split}: views converge after the heal`);
        c.runUntil(() => oc.unwritable().length === 0, 30_000, 100, `split ${split}: every partition writable after the heal`);
        c.run(SETTLE_MS);
        // A quiet point: a refutation heard late (a stale accusation from the other side) is one more tag change in flight.
        c.runUntil(viewsAgree, 30_000, 100, `split ${split}: every member holds the same incarnation of every member`);
        const placements = names.map((n) => placementOf(oc, n));
        if (!placements.every((p) => p === placements[0])) disagreements.push(`split ${split}: placements differ`);
        mostDamped = Math.max(mostDamped, advertising());
        if (advertising() === SIZE) allDampedSplits++;
      }
      console.log(`# seed ${seed}: at most ${mostDamped} of ${SIZE} members damped after a heal`);
      assert.equal(mostDamped, SIZE, 'the splits do damp every member');
      assert.deepEqual(oc.unwritable(), [], 'with every member damped, every partition still has a primary');
      assert.deepEqual(disagreements, [], 'every member computes the same table after every heal');
    });
  });
}

/** Damps each of `victims` (stalls until declared dead, then resumes) until every member sees it damped. */
function dampAll(oc: OwnershipCluster, victims: string[]): void {
  const c = oc.cluster;
  const names = c.members.map((m) => m.name);
  const seenDamped = (n: string): boolean => names.every((o) => isDamped(c.member(o).node.member(n)!));
  for (const victim of victims) {
    for (let flap = 0; flap < 6 && !seenDamped(victim); flap++) {
      c.pause(victim);
      c.runUntil(() => names.filter((n) => n !== victim).every((n) => c.member(n).node.member(victim)?.state === 'dead'), 60_000, 50, `${victim} declared dead`);
      c.resume(victim);
      c.runUntil(() => c.converged(), 60_000, 50, `${victim} back`);
    }
    assert.ok(seenDamped(victim), `${victim} is damped`);
  }
  c.runUntil(() => oc.unwritable().length === 0, 30_000, 50, 'every partition writable with the members damped');
}

for (const seed of simSeeds([4, 12])) {
  test(`with every member but one damped the flaps are the cluster's: the damped members stay primaries, not all on the one left (seed ${seed})`, async () => {
    const oc = await ownedCluster(seed, localConfig());
    const names = oc.cluster.members.map((m) => m.name);
    withReplay(FILE, seed, () => {
      dampAll(oc, names.slice(0, -1));
      const held = names.map((n) => oc.leadership(names[0]!).owned(n).primary.length);
      console.log(`# seed ${seed}: four of five damped; primaries held ${held.join(' ')}`);
      assert.ok(held[SIZE - 1]! < PARTITIONS, `the one undamped member does not hold every primary (${held[SIZE - 1]})`);
      assert.ok(held.slice(0, -1).every((h) => h > 0), 'every damped member holds primaries');
      assert.deepEqual(oc.checker.violations, [], 'no stale write, no token going back');
    });
  });

  test(`two of five damped: barred while three could be primary; killing undamped members on live hosts until fewer could makes the damped primaries again (seed ${seed})`, async () => {
    const oc = await ownedCluster(seed, localConfig());
    const c = oc.cluster;
    const names = c.members.map((m) => m.name);
    const damped = names.slice(0, 2);
    withReplay(FILE, seed, () => {
      dampAll(oc, damped);
      const observer = names[2]!;
      assert.deepEqual(damped.map((n) => oc.leadership(observer).owned(n).primary.length), [0, 0], 'three candidates against two damped: the damped hold no primary');
      // The first kill leaves two candidates against two damped: still barred.
      oc.crash(names[4]!, true);
      c.runUntil(() => oc.unwritable().length === 0, 30_000, 10, 'every partition writable after the first kill');
      assert.deepEqual(damped.map((n) => oc.leadership(observer).owned(n).primary.length), [0, 0], 'two candidates against two damped: still barred');
      // The second leaves one: the refusal's gone mark turns the fallback on, and the damped take partitions.
      const t0 = c.nowMs();
      const failedRounds = (): number => names.reduce((sum, n) => sum + (oc.leadership(n).ownershipStats()?.roundsFailed ?? 0), 0);
      const failedBefore = failedRounds();
      oc.crash(names[3]!, true);
      const tookMs = c.runUntil(() => oc.unwritable().length === 0, 30_000, 10, 'every partition writable after the second kill');
      console.log(`# seed ${seed}: two damped; the second undamped member killed on a live host; every partition writable again after ${tookMs} ms`);
      assert.ok(c.nowMs() - t0 < 30_000);
      // Writable is read at the owners; the observer names an owner once its commit has reached it.
      c.runUntil(() => damped.every((n) => oc.leadership(observer).owned(n).primary.length > 0), 1_000, 10, 'the observer names the damped members primaries again');
      // Each survivor reads the damped members again before it claims: no claim from the step between
      // (the survivors primaries of what the damped may not take yet) takes the epoch the damped members ask for.
      assert.equal(failedRounds() - failedBefore, 0, 'no claim round failed at the fallback turning on');
      assert.deepEqual(oc.checker.violations, [], 'no stale write, no token going back');
    });
  });
}
