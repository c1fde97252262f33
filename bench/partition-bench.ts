// Failover compute: from the member-dead event to the new snapshot and diff.
//   node dist/bench/partition-bench.js [--quick]
import { createPartitionEngine } from '../src/partition/engine.js';
import type { MemberSnapshot } from '../src/core/member-types.js';

const quick = process.argv.includes('--quick');
const snap = (name: string, state: MemberSnapshot['state'], incarnation: number): MemberSnapshot => ({ name, host: '10.0.0.1', port: 7946, state, incarnation, meta: new Uint8Array(0), stateChangedAtMs: 0, vsn: [], contacted: true });

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

console.log('command: node dist/bench/partition-bench.js');
console.log('\nFailover compute (dead event → snapshot + diff), rendezvous, replicas 3:');
console.log('| P | N | deaths | p50 ms | p99 ms | max ms | partitions moved per death (mean) |');
console.log('|---|---|---|---|---|---|---|');
for (const P of [256, 4096, 65536]) {
  for (const N of [16, 256, 1024]) {
    const e = await createPartitionEngine({ partitions: P, replicas: 3, strategy: 'rendezvous', quorum: 0 });
    e.applyMembers(Array.from({ length: N }, (_, i) => snap(`m${i}`, 'alive', 1)));
    const deaths = Math.min(quick ? 20 : 200, N - 4);
    const times: number[] = [];
    let moved = 0;
    for (let i = 0; i < deaths; i++) {
      const victim = `m${(i * 7919) % N}`;
      const t0 = performance.now();
      const diff = e.applyEvent({ kind: 'dead', member: snap(victim, 'dead', 1), from: 'x' });
      times.push(performance.now() - t0);
      moved += diff.changed.filter((c) => c.oldPrimary !== c.newPrimary).length;
      // bring it back so the cluster size stays N
      e.applyEvent({ kind: 'alive-again', member: snap(victim, 'alive', 2 + i) });
    }
    console.log(`| ${P} | ${N} | ${deaths} | ${pct(times, 0.5).toFixed(3)} | ${pct(times, 0.99).toFixed(3)} | ${Math.max(...times).toFixed(3)} | ${(moved / deaths).toFixed(1)} |`);
  }
}

console.log('\nPrimaries moved per death, rendezvous vs modulo (P 4096, N 64):');
for (const strategy of ['rendezvous', 'modulo'] as const) {
  const e = await createPartitionEngine({ partitions: 4096, replicas: 3, strategy, quorum: 0 });
  e.applyMembers(Array.from({ length: 64 }, (_, i) => snap(`m${i}`, 'alive', 1)));
  let moved = 0;
  for (let i = 0; i < 10; i++) moved += e.applyEvent({ kind: 'dead', member: snap(`m${i}`, 'dead', 1), from: 'x' }).changed.filter((c) => c.oldPrimary !== c.newPrimary).length;
  console.log(`- ${strategy}: ${(moved / 10).toFixed(0)} of 4096 primaries move per death (ideal ${(4096 / 64).toFixed(0)})`);
}

console.log('\nPrimaries per member, plain vs bounded load (P 4096, N 64, ε 0.25):');
for (const eps of [undefined, 0.25]) {
  const e = await createPartitionEngine({ partitions: 4096, replicas: 3, strategy: 'rendezvous', quorum: 0, ...(eps !== undefined ? { boundedLoadEpsilon: eps } : {}) });
  e.applyMembers(Array.from({ length: 64 }, (_, i) => snap(`m${i}`, 'alive', 1)));
  const counts = new Map<string, number>();
  for (const p of e.snapshot().partitions) counts.set(p.primary!, (counts.get(p.primary!) ?? 0) + 1);
  const vals = [...counts.values()];
  console.log(`- ${eps === undefined ? 'plain' : `bounded ε=${eps}`}: max ${Math.max(...vals)}, mean ${(4096 / 64).toFixed(0)}`);
}
