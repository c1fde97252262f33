// Timers and live timing updates, in virtual time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lanConfig } from '../../src/config/presets.js';
import type { SwimConfig } from '../../src/config/swim-config.js';
import { SimCluster } from '../../src/sim/cluster.js';

const pushPullCount = (c: SimCluster): number => c.members.reduce((sum, m) => sum + m.node.stats.pushPulls, 0);

function settledCluster(config: SwimConfig, size: number, seed: number): SimCluster {
  const c = new SimCluster({ seed, size, config });
  c.startAll();
  c.joinAll();
  c.runUntil(() => c.converged(), 30_000, 100, 'convergence');
  return c;
}

test('a node with push/pull disabled (interval 0) shuts down cleanly, and every timer stops', () => {
  const c = settledCluster({ ...lanConfig(), pushPullIntervalMs: 0 }, 3, 21);
  const node = c.member('m1').node;
  const probesBefore = node.stats.probePeriods;
  assert.doesNotThrow(() => node.shutdown());
  c.run(10_000);
  assert.equal(node.stats.probePeriods, probesBefore, 'no protocol period runs after shutdown');
});

test('a live timing update that turns push/pull on starts it, and one that turns it off stops it', () => {
  const c = settledCluster({ ...lanConfig(), pushPullIntervalMs: 0 }, 3, 22);
  const atStart = pushPullCount(c);
  c.run(60_000);
  assert.equal(pushPullCount(c), atStart, 'disabled: no periodic push/pull (only the joins exchanged state)');

  for (const m of c.members) m.node.updateTiming({ pushPullIntervalMs: 5_000 });
  c.run(30_000);
  const afterOn = pushPullCount(c);
  // Three members each exchanging every 5 s (either role counts) for 30 s: well over a dozen.
  assert.ok(afterOn - atStart >= 12, `push/pull ran ${afterOn - atStart} times in 30 s at a 5 s interval`);

  for (const m of c.members) m.node.updateTiming({ pushPullIntervalMs: 0 });
  c.run(1_000); // an exchange already in flight may still finish
  const afterOff = pushPullCount(c);
  c.run(60_000);
  assert.equal(pushPullCount(c) - afterOff, 0, 'turned off again: no more periodic push/pull');
});

test('a live timing update of the push/pull interval re-arms its timer at the new interval', () => {
  const c = settledCluster({ ...lanConfig(), pushPullIntervalMs: 600_000 }, 3, 23);
  c.run(60_000); // past the start-up ramp
  const before = pushPullCount(c);
  for (const m of c.members) m.node.updateTiming({ pushPullIntervalMs: 2_000 });
  c.run(20_000);
  assert.ok(pushPullCount(c) - before >= 12, `the new 2 s interval applies at once (${pushPullCount(c) - before} exchanges in 20 s)`);
});
