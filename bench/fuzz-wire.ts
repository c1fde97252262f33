// 10^6 fuzz cases through the packet and stream decoders; prints throughput,
// drops by reason and heap before/after (after a forced collection, so run it
// with --expose-gc).  node --expose-gc dist/bench/fuzz-wire.js [cases] [seed]
import { fuzzWire } from '../harness/wire-fuzz.js';

const cases = Number(process.argv[2] ?? 1_000_000);
const seed = Number(process.argv[3] ?? 1);
globalThis.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const t0 = performance.now();
const report = fuzzWire(seed, cases);
const seconds = (performance.now() - t0) / 1000;
globalThis.gc?.();
const heapAfter = process.memoryUsage().heapUsed;
console.log(`fuzz-wire: ${cases} cases (seed ${seed}) in ${seconds.toFixed(1)} s = ${Math.round(cases / seconds)} cases/s`);
console.log(`accepted ${report.accepted} of ${report.decodeCalls} decode calls; exceptions escaped: ${report.thrown.length}`);
console.log('drops by reason:', JSON.stringify(report.drops));
console.log('compound parts dropped alone:', JSON.stringify(report.partDrops));
console.log(`heap used: ${(heapBefore / 1e6).toFixed(1)} MB before, ${(heapAfter / 1e6).toFixed(1)} MB after${globalThis.gc ? ' a forced collection' : ' (no forced collection: run with --expose-gc)'}`);
if (report.thrown.length > 0) {
  console.log(report.thrown.slice(0, 5).join('\n'));
  process.exitCode = 1;
}
