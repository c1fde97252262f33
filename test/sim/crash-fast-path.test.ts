// The crash fast path: a member whose process died on a host that is still up
// is refused by that host (ICMP port unreachable, TCP reset). The prober
// suspects it at once and it is dead after refusalSuspicionMult probe
// intervals, instead of after a full Lifeguard suspicion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localConfig } from '../../src/config/presets.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { retransmitLimit, suspicionTimeoutsMs } from '../../src/core/timing.js';
import type { SwimConfig } from '../../src/base/swim-config.js';
import { simSeeds, withReplay } from './seeds.js';

const FILE = 'dist/test/sim/crash-fast-path.test.js';
const seeds = simSeeds([3, 4]);
const N = 16;

function cluster(seed: number, cfg: SwimConfig): SimCluster {
  const c = new SimCluster({ seed, size: N, config: cfg });
  c.startAll();
  c.joinAll();
  c.runUntil(() => c.converged(), 30_000, 50, 'initial convergence');
  c.run(3_000);
  return c;
}

/** Kills `victim`; returns when the first survivor suspected it, the first declared it dead, and the last did (virtual ms after the kill). */
function killAndTime(c: SimCluster, victim: string, hostStaysUp: boolean, boundMs: number): { suspectMs: number; firstDeadMs: number; lastDeadMs: number } {
  const t0 = c.nowMs();
  c.crash(victim, hostStaysUp);
  const lastDeadMs = c.runUntil(() => c.up().every((m) => ['dead', 'left'].includes(m.node.member(victim)?.state ?? 'dead')), boundMs, 10, 'detection by every survivor');
  const suspectMs = Math.min(...c.firstEventTimes('suspect', victim, t0).values()) - t0;
  const firstDeadMs = Math.min(...c.firstEventTimes('dead', victim, t0).values()) - t0;
  return { suspectMs, firstDeadMs, lastDeadMs };
}

for (const seed of seeds) {
  test(`kill -9 on a live host: declared dead one probe interval after the refused probe, far sooner than a silent crash (seed ${seed})`, () =>
    withReplay(FILE, seed, () => {
      const cfg = localConfig();
      const { minMs, maxMs } = suspicionTimeoutsMs(N, cfg.suspicionMult, cfg.suspicionMaxTimeoutMult, cfg.probeIntervalMs);
      const gossipMs = retransmitLimit(cfg.retransmitMult, N) * cfg.gossipIntervalMs;
      // Round robin over a shuffled list: every survivor probes the victim within N − 1
      // periods; a survivor that misses the dead message falls back on its own suspicion.
      const boundMs = (N - 1) * cfg.probeIntervalMs + maxMs + 2 * gossipMs;
      const c = cluster(seed, cfg);
      const refusedBefore = c.network.stats.refused;
      const fast = killAndTime(c, 'm5', true, boundMs);
      const refused = c.up().reduce((n, m) => n + m.node.stats.refusedProbes, 0);
      assert.ok(c.network.stats.refused > refusedBefore && refused > 0, 'the host refused and a prober took it as evidence');
      // The refused probe starts the suspicion and its prober declares death
      // refusalSuspicionMult periods later (health score 0 in a quiet cluster).
      const fastMs = fast.firstDeadMs - fast.suspectMs;
      assert.ok(fastMs <= cfg.refusalSuspicionMult * cfg.probeIntervalMs + 1, `first suspicion to first death ${fastMs} ms`);

      // The same kill where the host itself is gone: no refusal, the whole suspicion runs.
      const slow = killAndTime(c, 'm9', false, boundMs);
      const slowMs = slow.firstDeadMs - slow.suspectMs;
      console.log(`# seed ${seed}: kill on a live host: suspected ${fast.suspectMs} ms, first dead ${fast.firstDeadMs} ms, all ${fast.lastDeadMs} ms; silent crash: ${slow.suspectMs} / ${slow.firstDeadMs} / ${slow.lastDeadMs} ms`);
      assert.ok(slowMs >= minMs, `a silent crash waits out the suspicion (${slowMs} ms, min ${minMs.toFixed(0)} ms)`);
      assert.ok(fastMs < minMs, 'the fast path beats the shortest suspicion');
    }));

  test(`with refusalSuspicionMult 0 a refused probe is an ordinary failed probe (seed ${seed})`, () =>
    withReplay(FILE, seed, () => {
      const cfg = { ...localConfig(), refusalSuspicionMult: 0 };
      const { minMs, maxMs } = suspicionTimeoutsMs(N, cfg.suspicionMult, cfg.suspicionMaxTimeoutMult, cfg.probeIntervalMs);
      const c = cluster(seed, cfg);
      const took = killAndTime(c, 'm5', true, (N + 1) * cfg.probeIntervalMs + maxMs + 10_000);
      assert.equal(c.up().reduce((n, m) => n + m.node.stats.refusedProbes, 0), 0, 'no refusal was taken as evidence');
      assert.ok(took.firstDeadMs - took.suspectMs >= minMs, `detection waited for the suspicion: ${took.firstDeadMs - took.suspectMs} ms`);
    }));

  test(`a member restarted on the same port is alive at its new incarnation and never declared dead there (seed ${seed})`, () =>
    withReplay(FILE, seed, () => {
      const cfg = localConfig();
      const c = cluster(seed, cfg);
      const victim = 'm7';
      const oldInc = c.member('m1').node.member(victim)!.incarnation;
      c.crash(victim, true);
      // Down long enough for probes to be refused, back well before anyone could forget it.
      c.runUntil(() => c.up().some((m) => m.node.stats.refusedProbes > 0), 10 * cfg.probeIntervalMs, 5, 'a refused probe');
      c.restart(victim);
      // It learns it is suspected (from the prober, by gossip or push/pull) and refutes.
      c.runUntil(() => c.converged() && c.up().every((m) => (m.node.member(victim)?.incarnation ?? 0) > oldInc), 20_000, 50, 'the restarted member alive everywhere at a newer incarnation');
      const t0 = c.nowMs();
      c.run(20 * cfg.probeIntervalMs);
      const later = c.events.filter((e) => e.atMs >= t0 && e.ev.member.name === victim && (e.ev.kind === 'dead' || e.ev.kind === 'suspect'));
      assert.deepEqual(later.map((e) => `${e.observer}:${e.ev.kind}@${e.ev.member.incarnation}`), [], 'nobody suspects the new process');
    }));
}

test('a firewall rejecting UDP to a live member is not taken for a crash: TCP answers, nobody declares it dead', () =>
  withReplay(FILE, seeds[0]!, () => {
    const cfg = localConfig();
    const c = cluster(seeds[0]!, cfg);
    const victim = 'm6';
    const t0 = c.nowMs();
    c.network.rejectDatagramsTo(c.member(victim).address);
    c.run(30 * cfg.probeIntervalMs);
    const refusedBefore = c.network.stats.refused;
    assert.ok(refusedBefore > 0, 'datagrams to the member were refused');
    const dead = c.events.filter((e) => e.atMs >= t0 && e.ev.kind === 'dead').map((e) => `${e.observer}:${e.ev.member.name}`);
    assert.deepEqual(dead, [], 'nobody was declared dead');
    assert.equal(c.up().reduce((n, m) => n + m.node.stats.refusedProbes, 0), 0, 'no refusal counted as a crash while TCP answered');
    c.network.unblockAll();
    c.runUntil(() => c.converged(), 20_000, 50, 'alive everywhere after the firewall opens');
  }));
