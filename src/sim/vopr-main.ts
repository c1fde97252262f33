// npm run vopr -- --seeds N [--from S] [--fencing granted|view] [--damping on|off] | --seed S
// Runs seeded fault schedules and judges each history; prints every failing
// seed with its schedule and the command that replays it, and exits 1 if any failed.
import { FLAP_ENABLED } from '../config/knobs.js';
import { createHasher } from '../partition/engine.js';
import { describeScenario, drawScenario, runScenario } from './vopr.js';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const hasher = await createHasher();
const fencing = flag('fencing') === 'view' ? 'view' : 'granted';
// Flap damping runs as in the daemon (its defaults) unless turned off.
const damping = flag('damping') === 'off' ? null : { ...FLAP_ENABLED };
const one = flag('seed');
const seeds: number[] = [];
if (one !== undefined) seeds.push(Number(one));
else {
  const n = Number(flag('seeds') ?? 100);
  const from = Number(flag('from') ?? 1);
  for (let i = 0; i < n; i++) seeds.push(from + i);
}
const t0 = performance.now();
let failed = 0;
let virtualMs = 0;
const kinds: Record<string, number> = {};
for (const seed of seeds) {
  const scenario = drawScenario(seed);
  const r = runScenario(scenario, fencing, hasher, damping);
  virtualMs += r.virtualMs;
  if (one !== undefined) console.log(describeScenario(scenario));
  if (r.violations.length > 0) {
    failed++;
    for (const k of new Set(r.violations.map((v) => v.kind))) kinds[k] = (kinds[k] ?? 0) + 1;
    console.log(`FAIL ${describeScenario(scenario)}`);
    for (const v of r.violations.slice(0, 5)) console.log(`  ${v.kind} at ${v.atMs} ms: ${v.detail}`);
    console.log(`  replay: npm run vopr -- --seed ${seed}${fencing === 'view' ? ' --fencing view' : ''}${damping === null ? ' --damping off' : ''}`);
  } else if (one !== undefined) {
    console.log(`ok: ${r.writes} writes (${r.accepted} accepted, ${r.rejected} rejected), converged ${r.convergeMs} ms after the heal, every partition writable ${r.writableMs} ms later`);
  }
}
const wall = (performance.now() - t0) / 1000;
console.log(`${fencing} tokens, damping ${damping === null ? 'off' : 'on'}: ${seeds.length - failed} of ${seeds.length} seeds passed, ${failed} failed ${JSON.stringify(kinds)}; ${(virtualMs / 1000).toFixed(0)} virtual s in ${wall.toFixed(1)} s`);
process.exitCode = failed > 0 ? 1 : 0;
