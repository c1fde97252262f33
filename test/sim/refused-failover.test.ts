// Partitions of a process that died on a live host move when its host refuses
// the probes, before the member is declared dead: the prober bars it from
// primary and hints the successors with the refusal, and each granter, shown
// the refusal as evidence, bars it too. A crash whose host is gone (no
// refusal) still waits for the death; tokens stay fenced either way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localConfig } from '../../src/config/presets.js';
import { createHasher } from '../../src/partition/engine.js';
import { OwnershipCluster } from '../../src/sim/ownership-cluster.js';
import { simSeeds, withReplay } from './seeds.js';

const FILE = 'dist/test/sim/refused-failover.test.js';
const SIZE = 5;
const PARTITIONS = 64;

interface Failover {
  /** Virtual ms from the kill until every partition is writable again. */
  writableMs: number;
  /** Virtual ms from the kill until the first survivor declared the victim dead. */
  firstDeadMs: number;
  /** Survivors that still held the victim suspect, not dead, when every partition was writable again. */
  suspectAtFailover: number;
}

async function killPrimary(seed: number, hostStaysUp: boolean, refusalSuspicionMult: number): Promise<{ run: Failover; oc: OwnershipCluster }> {
  const oc = new OwnershipCluster({ seed, size: SIZE, config: { ...localConfig(), refusalSuspicionMult }, fencing: 'granted', quorum: 3, partitions: PARTITIONS }, await createHasher()).form();
  const c = oc.cluster;
  const victim = oc.primaryOf(0)!;
  const t0 = c.nowMs();
  oc.crash(victim, hostStaysUp);
  const survivors = c.members.map((m) => m.name).filter((n) => n !== victim);
  // The victim's partitions are unwritable from the kill on (unwritable() skips members that are down).
  const writableMs = c.runUntil(() => oc.unwritable().length === 0, 60_000, 5, 'every partition writable after the kill');
  const suspectAtFailover = survivors.filter((n) => c.member(n).node.member(victim)?.state === 'suspect').length;
  c.runUntil(() => survivors.every((n) => c.member(n).node.member(victim)?.state === 'dead'), 60_000, 5, 'every survivor declares the victim dead');
  const firstDeadMs = Math.min(...c.firstEventTimes('dead', victim, t0).values()) - t0;
  c.run(2_000);
  return { run: { writableMs, firstDeadMs, suspectAtFailover }, oc };
}

for (const seed of simSeeds([2, 9, 31])) {
  test(`kill -9 of a primary on a live host: its partitions are writable elsewhere before it is declared dead; without the refusal they wait for the death (seed ${seed})`, async () => {
    const fast = await killPrimary(seed, true, 1);
    const silent = await killPrimary(seed, false, 1);
    const off = await killPrimary(seed, true, 0);
    withReplay(FILE, seed, () => {
      console.log(`# seed ${seed}: writable again after ${fast.run.writableMs} ms (first death at ${fast.run.firstDeadMs} ms, ${fast.run.suspectAtFailover} survivors still suspecting); host gone: ${silent.run.writableMs} ms (death ${silent.run.firstDeadMs} ms); fast path off: ${off.run.writableMs} ms (death ${off.run.firstDeadMs} ms)`);
      assert.ok(fast.run.writableMs < fast.run.firstDeadMs, `partitions moved before the death (${fast.run.writableMs} < ${fast.run.firstDeadMs} ms)`);
      assert.ok(fast.run.suspectAtFailover >= 1, 'some survivor still held the victim suspect at the failover');
      assert.ok(silent.run.writableMs >= silent.run.firstDeadMs, `no refusal: the move waits for the death (${silent.run.writableMs} ≥ ${silent.run.firstDeadMs} ms)`);
      assert.ok(off.run.writableMs >= off.run.firstDeadMs, `fast path off: the move waits for the death (${off.run.writableMs} ≥ ${off.run.firstDeadMs} ms)`);
      for (const r of [fast, silent, off]) assert.deepEqual(r.oc.checker.violations, [], 'no stale write, no token going back');
    });
  });
}
