// Seeded fault schedules judged by the history checker (src/sim/history.ts).
// Fixed seeds 1..N (N from SWIMD_VOPR_SEEDS, default 200) plus a few fresh ones
// per run; a failure prints its schedule and the command that replays it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLAP_ENABLED } from '../../src/config/knobs.js';
import { createHasher } from '../../src/partition/engine.js';
import { describeScenario, drawScenario, runScenario, type RunResult } from '../../src/sim/vopr.js';

const SEEDS = Number(process.env.SWIMD_VOPR_SEEDS ?? 200);
const FRESH = 4;
const DAMPED_SEEDS = Number(process.env.SWIMD_VOPR_DAMPED_SEEDS ?? 40);

function report(r: RunResult, damped = false): string {
  return `${describeScenario(r.scenario)}\n${r.violations.map((v) => `  ${v.kind} at ${v.atMs} ms: ${v.detail}`).join('\n')}\n  replay: npm run vopr -- --seed ${r.scenario.seed}${damped ? '' : ' --damping off'}`;
}

test(`quorum-granted epochs: no stale write, no token going back, no stall, over ${SEEDS} fixed and ${FRESH} fresh fault schedules`, async () => {
  const hasher = await createHasher();
  const fresh = Array.from({ length: FRESH }, () => 100_000 + Math.floor(Math.random() * 2 ** 30));
  console.log(`# fresh vopr seeds this run: ${fresh.join(' ')}`);
  const failures: string[] = [];
  let writes = 0;
  let rejected = 0;
  for (const seed of [...Array.from({ length: SEEDS }, (_, i) => i + 1), ...fresh]) {
    const r = runScenario(drawScenario(seed), 'granted', hasher);
    writes += r.accepted;
    rejected += r.rejected;
    if (r.violations.length > 0) failures.push(report(r));
  }
  assert.equal(failures.length, 0, failures.join('\n'));
  // The applications really wrote, and storage really fenced someone (stalled applications, deposed owners).
  assert.ok(writes > SEEDS * 1000, `${writes} accepted writes`);
  assert.ok(rejected > 0, 'some stale writes were offered and rejected');
});

test(`with flap damping as the daemon runs it: no stale write, no token going back, no stall, over ${DAMPED_SEEDS} fixed fault schedules`, async () => {
  const hasher = await createHasher();
  const failures: string[] = [];
  for (let seed = 1; seed <= DAMPED_SEEDS; seed++) {
    const r = runScenario(drawScenario(seed), 'granted', hasher, { ...FLAP_ENABLED });
    if (r.violations.length > 0) failures.push(report(r, true));
  }
  assert.equal(failures.length, 0, failures.join('\n'));
});

test('the same checker catches the view-version token: an isolated primary keeps writing with a token its successor shares', async () => {
  const hasher = await createHasher();
  let staleWrites = 0;
  let runs = 0;
  for (let seed = 1; seed <= 40 && staleWrites < 3; seed++) {
    runs++;
    const r = runScenario(drawScenario(seed), 'view', hasher);
    if (r.violations.some((v) => v.kind === 'stale-write')) staleWrites++;
  }
  assert.ok(staleWrites >= 3, `only ${staleWrites} of ${runs} seeds showed a stale write under view-version tokens`);
});
