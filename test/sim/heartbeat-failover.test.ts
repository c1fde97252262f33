// Heartbeats among eligible members move a cut-off primary's partitions in a
// fraction of a second, where SWIM alone waits for a failed probe round and a
// suspicion; a granter judges the silence on its own clock, so one bad link
// moves nothing; and a member's own pause is not taken for the others' silence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localConfig } from '../../src/config/presets.js';
import { createHasher, type Hasher } from '../../src/partition/engine.js';
import { OwnershipCluster } from '../../src/sim/ownership-cluster.js';
import { simSeeds, withReplay } from './seeds.js';

const FILE = 'dist/test/sim/heartbeat-failover.test.js';
const SIZE = 5;
const PARTITIONS = 64;
const INTERVAL_MS = 100;
const TIMEOUT_MS = 350;

function cluster(seed: number, hasher: Hasher, heartbeats: boolean): OwnershipCluster {
  return new OwnershipCluster({ seed, size: SIZE, config: localConfig(), fencing: 'granted', quorum: 3, partitions: PARTITIONS, ...(heartbeats ? { heartbeatIntervalMs: INTERVAL_MS, heartbeatTimeoutMs: TIMEOUT_MS } : {}) }, hasher).form();
}

/** Partitions `name`'s own daemon names it primary of, with quorum. */
function heldBy(oc: OwnershipCluster, name: string): number[] {
  const s = oc.leadership(name).snapshot();
  if (s.quorum !== 'ok') return [];
  return [...s.partitions].filter((e) => e.primary === name).map((e) => e.id);
}

/** Some other member's daemon names itself primary of p with quorum. */
function heldElsewhere(oc: OwnershipCluster, p: number, not: string): boolean {
  return oc.cluster.up().some((m) => m.name !== not && heldBy(oc, m.name).includes(p));
}

interface Isolation {
  /** Virtual ms from the cut until every partition of the victim is held by another member. */
  movedMs: number;
  /** Virtual ms from the cut until the victim's own daemon names itself primary of nothing. */
  droppedMs: number;
}

function isolations(oc: OwnershipCluster, victims: number, towardsOnly = false): Isolation[] {
  const c = oc.cluster;
  const out: Isolation[] = [];
  for (let k = 0; k < victims; k++) {
    const victim = oc.primaryOf(k * 7 % PARTITIONS)!;
    const parts = heldBy(oc, victim);
    assert.ok(parts.length > 0, `${victim} holds partitions before the cut`);
    const t0 = c.nowMs();
    const rest = c.members.map((m) => m.name).filter((n) => n !== victim);
    // Both ways, or only what is sent towards the victim (it is heard, but hears nobody).
    if (towardsOnly) c.partition(rest, [victim], true);
    else c.partition([victim], rest);
    let droppedMs = -1;
    const movedAt = c.runUntil(() => {
      if (droppedMs < 0 && heldBy(oc, victim).length === 0) droppedMs = c.nowMs() - t0;
      return parts.every((p) => heldElsewhere(oc, p, victim));
    }, 60_000, 5, `${victim}'s partitions held elsewhere`);
    if (droppedMs < 0) c.runUntil(() => heldBy(oc, victim).length === 0, 60_000, 5, `${victim} stops naming itself primary`);
    out.push({ movedMs: Math.round(movedAt), droppedMs: Math.round(droppedMs < 0 ? c.nowMs() - t0 : droppedMs) });
    c.heal();
    c.runUntil(() => c.converged(), 60_000, 50, `${victim} back everywhere`);
    c.runUntil(() => oc.unwritable().length === 0, 60_000, 50, 'every partition writable after the heal');
    c.runUntil(() => c.up().every((m) => m.node.healthScore() === 0), 120_000, 50, 'every health score back at 0');
    c.run(2_000);
  }
  return out;
}

for (const seed of simSeeds([4, 17])) {
  test(`heartbeats: a primary cut off from everyone loses its partitions to the majority within the heartbeat timeout, and stops naming itself primary; without them SWIM takes seconds (seed ${seed})`, async () => {
    const hasher = await createHasher();
    withReplay(FILE, seed, () => {
      const on = cluster(seed, hasher, true);
      const fast = isolations(on, 6);
      const off = cluster(seed, hasher, false);
      const slow = isolations(off, 6);
      console.log(`# seed ${seed}: held elsewhere after ms: heartbeats ${fast.map((r) => r.movedMs).join(' ')} (victim dropped ${fast.map((r) => r.droppedMs).join(' ')}); off ${slow.map((r) => r.movedMs).join(' ')}`);
      // The timeout, the phase of the last heartbeat, then one claim round (and one retry at worst).
      const boundMs = TIMEOUT_MS + INTERVAL_MS + 2 * localConfig().probeTimeoutMs;
      for (const r of fast) {
        assert.ok(r.movedMs <= boundMs, `moved within ${boundMs} ms: ${fast.map((x) => x.movedMs).join(', ')}`);
        assert.ok(r.droppedMs <= TIMEOUT_MS + INTERVAL_MS, `the cut-off victim stopped naming itself primary within ${TIMEOUT_MS + INTERVAL_MS} ms: ${fast.map((x) => x.droppedMs).join(', ')}`);
      }
      assert.ok(Math.min(...slow.map((r) => r.movedMs)) > boundMs, `without heartbeats every move waits for SWIM: ${slow.map((r) => r.movedMs).join(', ')}`);
      for (const oc of [on, off]) assert.deepEqual(oc.checker.violations, [], 'no stale write, no token going back');
    });
  });
}

test('heartbeats: with everything towards a primary lost, it says it hears no quorum, and the others fail over instead of waiting for SWIM', async () => {
  const hasher = await createHasher();
  const seed = simSeeds([6])[0]!;
  withReplay(FILE, seed, () => {
    const on = cluster(seed, hasher, true);
    const fast = isolations(on, 4, true);
    const off = cluster(seed, hasher, false);
    const slow = isolations(off, 4, true);
    console.log(`# seed ${seed}, one-way loss towards the primary: held elsewhere after ms: heartbeats ${fast.map((r) => r.movedMs).join(' ')} (victim dropped ${fast.map((r) => r.droppedMs).join(' ')}); off ${slow.map((r) => r.movedMs).join(' ')}`);
    // The victim's timeout, its heartbeat saying so (sent at once), then one claim round (and one retry at worst).
    const boundMs = TIMEOUT_MS + INTERVAL_MS + 2 * localConfig().probeTimeoutMs;
    for (const r of fast) assert.ok(r.movedMs <= boundMs, `moved within ${boundMs} ms: ${fast.map((x) => x.movedMs).join(', ')}`);
    assert.ok(Math.min(...slow.map((r) => r.movedMs)) > boundMs, `without heartbeats every move waits for SWIM: ${slow.map((r) => r.movedMs).join(', ')}`);
    for (const oc of [on, off]) assert.deepEqual(oc.checker.violations, [], 'no stale write, no token going back');
  });
});

test('heartbeats: one broken link moves nothing, since granters that still hear the primary refuse its successor', async () => {
  const hasher = await createHasher();
  const seed = simSeeds([5])[0]!;
  withReplay(FILE, seed, () => {
    const oc = cluster(seed, hasher, true);
    const c = oc.cluster;
    const x = oc.primaryOf(0)!;
    const parts = heldBy(oc, x);
    // The member that would hold x's first partition if x were barred: cut only the link between the two.
    const tokens = parts.map((p) => oc.leadership(x).snapshot().partitions.get(p).token);
    const others = c.members.map((m) => m.name).filter((n) => n !== x);
    let cutFrom: string | null = null;
    for (const y of others) {
      c.partition([x], [y]);
      c.run(3_000);
      const silentAtY = oc.leadership(y).heartbeatStats()!.silentNow;
      assert.ok(silentAtY >= 1, `${y} finds ${x} silent across the broken link`);
      assert.deepEqual(heldBy(oc, x), parts, `${x} still holds all its partitions with ${y} cut off`);
      assert.deepEqual(parts.map((p) => oc.leadership(x).snapshot().partitions.get(p).token), tokens, 'with the same tokens');
      c.heal();
      c.run(2_000);
      cutFrom = y;
    }
    assert.ok(cutFrom !== null);
    const refused = others.reduce((n, y) => n + oc.leadership(y).ownershipStats()!.grantsRefused, 0);
    console.log(`# one link at a time between ${x} and each other member, 3 s each: ${x} kept ${parts.length} partitions; claims refused by granters: ${refused}`);
    assert.deepEqual(oc.checker.violations, []);
  });
});

test('heartbeats: a member paused longer than the timeout does not take the others for silent when it resumes', async () => {
  const hasher = await createHasher();
  const seed = simSeeds([8])[0]!;
  withReplay(FILE, seed, () => {
    const oc = cluster(seed, hasher, true);
    const c = oc.cluster;
    const x = c.members[2]!.name;
    const before = oc.leadership(x).heartbeatStats()!;
    // On resume its timers run before it reads what arrived meanwhile, as in node.
    c.pause(x, 2_000, true);
    c.run(2_000 + 1_000);
    const after = oc.leadership(x).heartbeatStats()!;
    console.log(`# ${x} paused 2 s: own gaps ${after.ownGaps - before.ownGaps}, members it found silent ${after.silences - before.silences}`);
    assert.ok(after.ownGaps > before.ownGaps, 'the pause was seen as a gap in its own timers');
    assert.equal(after.silences - before.silences, 0, 'nobody was found silent by the paused member');
    assert.deepEqual(oc.checker.violations, []);
  });
});
