// What keeping the partition-table checksum costs: one entry update (what a
// flush does per changed partition), the updates one death causes (the dead
// member's primaries and replicas, ≈ P × replicas / N entries), against
// recomputing the checksum over the whole table.
//   node dist/bench/checksum-bench.js [--P 4096,65536] [--N 16,1024] [--replicas 3]
import { checksumOf, TableChecksum } from '../src/partition/checksum.js';
import type { OwnedPartition } from '../src/partition/leadership.js';
import type { ReadonlyTable } from '../src/partition/table.js';
import { SeededRandom } from '../src/core/prng.js';

const argv = process.argv.slice(2);
const listArg = (flag: string, dflt: number[]): number[] => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1]!.split(',').map(Number) : dflt;
};
const Ps = listArg('--P', [4096, 65536]);
const Ns = listArg('--N', [16, 1024]);
const R = listArg('--replicas', [3])[0]!;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

console.log(`| P | N | entries per death | one entry update (ns) | updates for one death (ms) | full recompute (ms) | full / per death |`);
console.log(`|---|---|---|---|---|---|---|`);
for (const P of Ps) {
  for (const N of Ns) {
    const rnd = new SeededRandom(P * 31 + N);
    const names = Array.from({ length: N }, (_, i) => `member-${i}.example.internal`);
    const rows = new Int32Array(P * R);
    const tokens = new Float64Array(P);
    for (let p = 0; p < P; p++) {
      for (let k = 0; k < R; k++) rows[p * R + k] = (p + k * 7 + rnd.int(N)) % N;
      tokens[p] = 1 + rnd.int(1000);
    }
    const sum = new TableChecksum(P);
    for (let p = 0; p < P; p++) sum.set(p, rows, p * R, R, tokens[p]!, names);
    const perDeath = Math.max(1, Math.round((P * R) / N));
    // One entry: many updates, timed together.
    const reps = 200_000;
    let t0 = performance.now();
    for (let i = 0; i < reps; i++) {
      const p = i % P;
      tokens[p]! += 1;
      sum.set(p, rows, p * R, R, tokens[p]!, names);
    }
    const entryNs = ((performance.now() - t0) * 1e6) / reps;
    const deathMs: number[] = [];
    for (let rep = 0; rep < 21; rep++) {
      const start = rnd.int(P);
      t0 = performance.now();
      for (let j = 0; j < perDeath; j++) {
        const p = (start + j * 7) % P;
        tokens[p]! += 1;
        sum.set(p, rows, p * R, R, tokens[p]!, names);
      }
      deathMs.push(performance.now() - t0);
    }
    const table: ReadonlyTable<OwnedPartition> = {
      length: P,
      get: (p) => ({ id: p, primary: names[rows[p * R]!]!, replicas: Array.from(rows.subarray(p * R + 1, p * R + R), (s) => names[s]!), token: tokens[p]! }),
      *[Symbol.iterator]() {
        for (let p = 0; p < P; p++) yield this.get(p);
      },
    };
    const fullMs: number[] = [];
    for (let rep = 0; rep < 5; rep++) {
      t0 = performance.now();
      const full = checksumOf(table);
      fullMs.push(performance.now() - t0);
      if (full !== sum.value()) throw new Error(`P ${P} N ${N}: incremental ${sum.value()} differs from full ${full}`);
    }
    const d = median(deathMs);
    const f = median(fullMs);
    console.log(`| ${P} | ${N} | ${perDeath} | ${entryNs.toFixed(0)} | ${d.toFixed(3)} | ${f.toFixed(1)} | ${(f / d).toFixed(0)} |`);
  }
}
