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
import { SILENT_MISSES } from '../../src/core/crash-watch.js';

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
      const { maxMs } = suspicionTimeoutsMs(N, cfg.suspicionMult, cfg.suspicionMaxTimeoutMult, cfg.probeIntervalMs);
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

      // The same kill where the host itself is gone: no refusal, the whole suspicion runs
      // (its shortest timeout now counts the 15 members left).
      const slow = killAndTime(c, 'm9', false, boundMs);
      const slowMs = slow.firstDeadMs - slow.suspectMs;
      const minAfterMs = suspicionTimeoutsMs(N - 1, cfg.suspicionMult, cfg.suspicionMaxTimeoutMult, cfg.probeIntervalMs).minMs;
      console.log(`# seed ${seed}: kill on a live host: suspected ${fast.suspectMs} ms, first dead ${fast.firstDeadMs} ms, all ${fast.lastDeadMs} ms; silent crash: ${slow.suspectMs} / ${slow.firstDeadMs} / ${slow.lastDeadMs} ms`);
      assert.ok(slowMs >= minAfterMs, `a silent crash waits out the suspicion (${slowMs} ms, min ${minAfterMs.toFixed(0)} ms)`);
      assert.ok(fastMs < minAfterMs, 'the fast path beats the shortest suspicion');
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

/**
 * Fails each of `victims` in turn in a cluster of `size` (kill -9 on a live host,
 * or cut off from everyone), then brings it back; returns when the first
 * survivor suspected it (ms after the fault).
 */
function firstSuspicions(seed: number, cfg: SwimConfig, size: number, victims: string[], fault: 'kill' | 'isolate'): number[] {
  const c = new SimCluster({ seed, size, config: cfg });
  c.startAll();
  c.joinAll();
  c.runUntil(() => c.converged(), 30_000, 50, 'initial convergence');
  c.run(3_000);
  const out: number[] = [];
  for (const victim of victims) {
    const t0 = c.nowMs();
    if (fault === 'kill') c.crash(victim, true);
    else c.partition([victim], c.up().map((m) => m.name).filter((n) => n !== victim));
    c.runUntil(() => c.firstEventTimes('suspect', victim, t0).size > 0, 30_000, 5, `a suspicion of ${victim}`);
    out.push(Math.round(Math.min(...c.firstEventTimes('suspect', victim, t0).values()) - t0));
    if (fault === 'kill') c.restart(victim);
    else c.heal();
    c.runUntil(() => c.converged(), 60_000, 50, `${victim} back everywhere`);
    // Lifeguard slows a member that was cut off until its health score is back at 0: wait for it.
    c.runUntil(() => c.up().every((m) => m.node.healthScore() === 0), 120_000, 50, 'every health score back at 0');
    c.run(2_000);
  }
  return out;
}

const VICTIMS = ['m1', 'm3', 'm2', 'm4', 'm0', 'm3', 'm1', 'm2', 'm4', 'm0', 'm2', 'm1'];

test('crash watch: in a small cluster a kill -9 on a live host is suspected within one watch interval; without it, at the next probe round of the victim', () =>
  withReplay(FILE, seeds[0]!, () => {
    const cfg = localConfig();
    const watched = firstSuspicions(seeds[0]!, cfg, 5, VICTIMS, 'kill');
    const unwatched = firstSuspicions(seeds[0]!, { ...cfg, crashWatchIntervalMs: 0 }, 5, VICTIMS, 'kill');
    console.log(`# first suspicion after kill -9, 5 members, ms: watch every ${cfg.crashWatchIntervalMs} ms ${watched.join(' ')}; no watch ${unwatched.join(' ')}`);
    // A refused watch ping starts a probe round at once; its ping and TCP ping are refused within a few round trips.
    const boundMs = cfg.crashWatchIntervalMs + cfg.probeTimeoutMs;
    assert.ok(Math.max(...watched) <= boundMs, `every kill suspected within ${boundMs} ms: ${watched.join(', ')}`);
    // Four probers, each probing the victim once in a shuffled round of four periods: some kill waits longer.
    assert.ok(Math.max(...unwatched) > boundMs, `without the watch some kill waits for a probe round: ${unwatched.join(', ')}`);
  }));

test('crash watch: a member cut off from everyone gets a probe round after three silent watch pings, and is suspected at its end', () =>
  withReplay(FILE, seeds[0]!, () => {
    const cfg = localConfig();
    const watched = firstSuspicions(seeds[0]!, cfg, 5, VICTIMS, 'isolate');
    const unwatched = firstSuspicions(seeds[0]!, { ...cfg, crashWatchIntervalMs: 0 }, 5, VICTIMS, 'isolate');
    console.log(`# first suspicion after isolation, 5 members, ms: watch every ${cfg.crashWatchIntervalMs} ms ${watched.join(' ')}; no watch ${unwatched.join(' ')}`);
    // Three silent pings (plus the tick's phase), then a whole probe round (direct, indirect, TCP) that fails.
    const boundMs = (SILENT_MISSES + 1) * cfg.crashWatchIntervalMs + cfg.probeIntervalMs;
    assert.ok(Math.max(...watched) <= boundMs, `every isolation suspected within ${boundMs} ms: ${watched.join(', ')}`);
    assert.ok(Math.max(...unwatched) > boundMs, `without the watch some isolation waits for a probe round: ${unwatched.join(', ')}`);
  }));

test('a suspicion heard from another member is checked with a ping of its own: every survivor declares a kill -9 on a live host dead soon after the first', () => {
  // Probe 100 ms (local preset otherwise), 16 members, four kills in each of three clusters.
  const cfg = { ...localConfig(), probeIntervalMs: 100, probeTimeoutMs: 50 };
  const spreads: number[] = [];
  for (const seed of [1, 2, 3]) {
    withReplay(FILE, seed, () => {
      const c = new SimCluster({ seed, size: 16, config: cfg });
      c.startAll();
      c.joinAll();
      c.runUntil(() => c.converged(), 30_000, 50, 'initial convergence');
      c.run(3_000);
      for (const victim of ['m3', 'm7', 'm11', 'm14']) {
        const t0 = c.nowMs();
        c.crash(victim, true);
        const lastDeadMs = c.runUntil(() => c.up().every((m) => ['dead', 'left'].includes(m.node.member(victim)?.state ?? 'dead')), 60_000, 5, 'every survivor declares it dead');
        const firstSuspectMs = Math.min(...c.firstEventTimes('suspect', victim, t0).values()) - t0;
        spreads.push(Math.round(lastDeadMs - firstSuspectMs));
        c.restart(victim);
        c.runUntil(() => c.converged(), 30_000, 50, `${victim} back everywhere`);
        c.run(2_000);
      }
    });
  }
  console.log(`# first suspicion to the last survivor's death, ms: ${spreads.join(' ')}`);
  // Each survivor hears the suspicion by gossip, finds the host refusing and dies it one probe interval
  // later on its own evidence, whether or not the dead message reaches it.
  const gossipMs = retransmitLimit(cfg.retransmitMult, 16) * cfg.gossipIntervalMs;
  const boundMs = gossipMs + cfg.refusalSuspicionMult * cfg.probeIntervalMs + 2 * cfg.probeTimeoutMs;
  assert.ok(Math.max(...spreads) <= boundMs, `every survivor within ${boundMs} ms of the first suspicion: ${spreads.join(', ')}`);
});
