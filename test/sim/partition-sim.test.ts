// Partition leadership on top of the simulated cluster: every member computes
// the table from its own view, with no election round.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lanConfig } from '../../src/config/presets.js';
import { createPartitionEngine, type PartitionEngine } from '../../src/partition/engine.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { simSeeds, withReplay } from './seeds.js';

const FILE = 'dist/test/sim/partition-sim.test.js';

async function clusterWithEngines(seed: number, size: number, quorum = 0): Promise<{ c: SimCluster; engines: Map<string, PartitionEngine> }> {
  const c = new SimCluster({ seed, size, config: lanConfig() });
  const engines = new Map<string, PartitionEngine>();
  for (const m of c.members) {
    const e = await createPartitionEngine({ partitions: 128, replicas: 3, strategy: 'rendezvous', quorum });
    m.node.on((ev) => e.applyEvent(ev));
    engines.set(m.name, e);
  }
  c.startAll();
  c.joinAll();
  c.runUntil(() => c.converged(), 30_000, 100, 'convergence');
  return { c, engines };
}

const tableOf = (e: PartitionEngine): string => JSON.stringify([...e.snapshot().partitions].map((p) => [p.primary, p.replicas]));

for (const seed of simSeeds([3])) {
  test(`after convergence all members compute the same table and tokens; a crash moves the same partitions everywhere with larger tokens (seed ${seed})`, async () => {
    const { c, engines } = await clusterWithEngines(seed, 8);
    withReplay(FILE, seed, () => {
      // A member known only from gossip holds no role until this member has reached it, which can take
      // a probe round after the views converged.
      const agree = (): boolean => {
        const ts = [...engines.values()].map(tableOf);
        return ts.every((t) => t === ts[0]);
      };
      c.runUntil(agree, 30_000, 100, 'every member has reached every other');
      const tables = [...engines.values()].map(tableOf);
      assert.ok(tables.every((t) => t === tables[0]), 'every member computes the same table');
      const tokens = new Set([...engines.values()].map((e) => e.snapshot().token));
      assert.equal(tokens.size, 1, 'and the same tokens');
      const before = engines.get('m0')!.snapshot();
      const victim = 'm5';
      const owned = [...before.partitions].filter((p) => p.primary === victim).map((p) => p.id);
      assert.ok(owned.length > 0, 'the victim was primary somewhere');
      c.crash(victim);
      c.runUntil(() => c.up().every((m) => m.node.member(victim)?.state === 'dead'), 120_000, 100, 'crash detected');
      const survivors = c.up().map((m) => engines.get(m.name)!);
      const after = survivors.map((e) => e.snapshot());
      assert.ok(after.every((s) => JSON.stringify([...s.partitions]) === JSON.stringify([...after[0]!.partitions])), 'survivors agree on the new table');
      for (const id of owned) {
        const p = after[0]!.partitions.get(id);
        assert.notEqual(p.primary, victim);
        assert.notEqual(p.primary, null);
      }
      const moved = [...after[0]!.partitions].filter((p, i) => p.primary !== before.partitions.get(i).primary).map((p) => p.id);
      assert.deepEqual(moved, owned, 'only the dead member’s partitions moved');
      assert.ok(after.every((s) => s.token > before.token), 'tokens rose');
    });
  });
}

test('quorum 5 with a 3|5 split: the 3-side claims no primaries, the 5-side keeps all, tokens rise after the heal', async () => {
  const seed = 11;
  const { c, engines } = await clusterWithEngines(seed, 8, 5);
  withReplay(FILE, seed, () => {
    const tokenBefore = engines.get('m0')!.snapshot().token;
    const small = ['m0', 'm1', 'm2'];
    const big = ['m3', 'm4', 'm5', 'm6', 'm7'];
    c.partition(small, big);
    c.runUntil(() => small.every((n) => engines.get(n)!.snapshot().quorum === 'no-quorum'), 120_000, 200, 'minority loses quorum');
    c.runUntil(() => big.every((b) => small.every((s) => c.member(b).node.member(s)?.state === 'dead')), 120_000, 200, 'majority marks the minority dead');
    for (const n of small) assert.ok([...engines.get(n)!.snapshot().partitions].every((p) => p.primary === null), `${n} claims nothing`);
    for (const n of big) {
      const s = engines.get(n)!.snapshot();
      assert.equal(s.quorum, 'ok');
      assert.ok([...s.partitions].every((p) => p.primary !== null && big.includes(p.primary)), `${n} assigns every partition inside the majority`);
    }
    c.heal();
    c.runUntil(() => c.converged(), 30_000, 100, 'heal');
    c.run(2_000);
    const tokens = [...engines.values()].map((e) => e.snapshot().token);
    assert.ok(tokens.every((t) => t > tokenBefore), 'tokens after the split exceed those before it');
    const tables = [...engines.values()].map(tableOf);
    assert.ok(tables.every((t) => t === tables[0]), 'all agree after the heal');
  });
});
