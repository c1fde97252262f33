// What keeping the partition-table checksum costs: one entry update (what a
// flush does per changed partition), the updates one death causes (the dead
// member's primaries and replicas, ≈ P × replicas / N entries), against
// recomputing the checksum over the whole table. Figures are CPU time of this
// process (process.cpuUsage), so other work on a shared machine does not
// inflate them as it inflates wall time.
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

/** CPU milliseconds (user + system) since `from`. */
const cpuMs = (from: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

console.log(`CPU time, medians; replicas ${R}`);
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
    // One entry: batches of updates, timed together; the median batch (the first ones warm the JIT up).
    const batch = 50_000;
    const entryNsRuns: number[] = [];
    let t0 = process.cpuUsage();
    for (let run = 0; run < 7; run++) {
      t0 = process.cpuUsage();
      for (let i = 0; i < batch; i++) {
        const p = (run * batch + i) % P;
        tokens[p]! += 1;
        sum.set(p, rows, p * R, R, tokens[p]!, names);
      }
      entryNsRuns.push((cpuMs(t0) * 1e6) / batch);
    }
    const entryNs = median(entryNsRuns);
    // CPU time has a coarse grain: time batches of deaths and divide.
    const deathMs: number[] = [];
    const deathsPerBatch = Math.max(1, Math.ceil(20_000 / perDeath));
    for (let rep = 0; rep < 9; rep++) {
      t0 = process.cpuUsage();
      for (let d = 0; d < deathsPerBatch; d++) {
        const start = rnd.int(P);
        for (let j = 0; j < perDeath; j++) {
          const p = (start + j * 7) % P;
          tokens[p]! += 1;
          sum.set(p, rows, p * R, R, tokens[p]!, names);
        }
      }
      deathMs.push(cpuMs(t0) / deathsPerBatch);
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
      t0 = process.cpuUsage();
      const full = checksumOf(table);
      fullMs.push(cpuMs(t0));
      if (full !== sum.value()) throw new Error(`P ${P} N ${N}: incremental ${sum.value()} differs from full ${full}`);
    }
    const d = median(deathMs);
    const f = median(fullMs);
    console.log(`| ${P} | ${N} | ${perDeath} | ${entryNs.toFixed(0)} | ${d.toFixed(3)} | ${f.toFixed(1)} | ${(f / d).toFixed(0)} |`);
  }
}
