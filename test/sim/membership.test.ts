// Whole-cluster behaviour in virtual time through the real core and codec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lanConfig } from '../../src/config/presets.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { retransmitLimit, suspicionTimeoutsMs } from '../../src/core/timing.js';
import { simSeeds, withReplay } from './seeds.js';

const FILE = 'dist/test/sim/membership.test.js';
const seeds = simSeeds([1, 2]);
const names = (c: SimCluster): string[] => c.members.map((m) => m.name);

function converge(c: SimCluster, maxMs = 30_000): number {
  c.startAll();
  c.joinAll();
  return c.runUntil(() => c.converged(), maxMs, 100, 'initial convergence');
}

for (const seed of seeds) {
  test(`64 members converge from joins, and a crashed one is declared dead by all within the bound (seed ${seed})`, () =>
    withReplay(FILE, seed, () => {
      const cfg = lanConfig();
      const c = new SimCluster({ seed, size: 64, config: cfg });
      const took = converge(c);
      console.log(`# seed ${seed}: 64 members converged in ${took} virtual ms`);
      c.run(5_000);
      const victim = 'm17';
      const t0 = c.nowMs();
      c.crash(victim);
      // Bound: the victim is probed within one period and that probe fails at the end of the
      // next; the suspicion then lasts at most its max timeout; the dead message then needs
      // up to retransmitLimit gossip rounds (twice over for loss-free slack) to reach everyone.
      const n = 64;
      const { maxMs } = suspicionTimeoutsMs(n, cfg.suspicionMult, cfg.suspicionMaxTimeoutMult, cfg.probeIntervalMs);
      const boundMs = 2 * cfg.probeIntervalMs + maxMs + 2 * retransmitLimit(cfg.retransmitMult, n) * cfg.gossipIntervalMs;
      const tookDead = c.runUntil(() => c.up().every((m) => ['dead', 'left'].includes(m.node.member(victim)?.state ?? 'dead')), boundMs, 50, 'detection by every survivor');
      const dead = c.firstEventTimes('dead', victim, t0);
      const suspects = c.firstEventTimes('suspect', victim, t0);
      const first = Math.min(...suspects.values()) - t0;
      assert.equal(dead.size, 63, 'every survivor recorded the death');
      assert.ok(first >= cfg.probeTimeoutMs, `first suspicion ${first} ms cannot precede a probe timeout`);
      console.log(`# seed ${seed}: first suspicion ${first.toFixed(0)} ms, last survivor ${tookDead} ms (bound ${boundMs.toFixed(0)} ms)`);
    }));

  test(`a paused member resumes, refutes, and is alive everywhere; nobody is declared dead (seed ${seed})`, () =>
    withReplay(FILE, seed, () => {
      const cfg = lanConfig();
      const c = new SimCluster({ seed, size: 32, config: cfg });
      converge(c);
      c.run(3_000);
      const victim = 'm7';
      const t0 = c.nowMs();
      const { minMs } = suspicionTimeoutsMs(32, cfg.suspicionMult, cfg.suspicionMaxTimeoutMult, cfg.probeIntervalMs);
      // Stall until someone suspects the member, then resume: long enough to be suspected,
      // shorter than any suspicion timeout.
      c.pause(victim);
      const pausedMs = c.runUntil(() => c.firstEventTimes('suspect', victim, t0).size > 0, minMs, 10, 'a suspicion during the pause');
      c.resume(victim);
      assert.ok(pausedMs < minMs);
      c.runUntil(() => c.converged(), 10_000, 50, 'alive again everywhere');
      assert.ok(c.member(victim).node.stats.refutes > 0, 'the paused member refuted');
      assert.equal(c.events.filter((e) => e.atMs >= t0 && e.ev.kind === 'dead').length, 0, 'no member was declared dead');
    }));

  test(`10 % loss on every link for 60 s with the LAN preset declares no healthy member dead (seed ${seed})`, () =>
    withReplay(FILE, seed, () => {
      const c = new SimCluster({ seed, size: 32, config: lanConfig() });
      converge(c);
      const t0 = c.nowMs();
      c.setLoss(0.1);
      c.run(60_000);
      c.setLoss(0);
      const lossy = c.events.filter((e) => e.atMs >= t0);
      const suspicions = lossy.filter((e) => e.ev.kind === 'suspect').length;
      const share = c.network.stats.lost / c.network.stats.sent;
      assert.ok(share > 0.05 && share < 0.15, `loss was really applied: ${share}`);
      assert.deepEqual(lossy.filter((e) => e.ev.kind === 'dead').map((e) => `${e.observer}:${e.ev.member.name}`), []);
      console.log(`# seed ${seed}: ${c.network.stats.lost} datagrams lost, ${suspicions} suspicions, 0 deaths`);
      c.runUntil(() => c.converged(), 10_000, 100, 'all alive after the loss stops');
    }));

  test(`a 50|50 partition: each side marks the other dead, then all agree again after the heal (seed ${seed})`, () =>
    withReplay(FILE, seed, () => {
      const cfg = lanConfig();
      const c = new SimCluster({ seed, size: 32, config: cfg });
      converge(c);
      const all = names(c);
      const a = all.slice(0, 16);
      const b = all.slice(16);
      c.partition(a, b);
      const sideSeesOtherDead = (side: string[], other: string[]): boolean =>
        side.every((o) => other.every((x) => c.member(o).node.member(x)?.state === 'dead'));
      c.runUntil(() => sideSeesOtherDead(a, b) && sideSeesOtherDead(b, a), 120_000, 200, 'both sides mark the other dead');
      c.heal();
      // Bound: one reconnect interval until a member retries a dead peer, plus a few
      // gossip rounds for the refutations it triggers to reach everyone.
      const boundMs = cfg.reconnectIntervalMs + 10_000;
      const took = c.runUntil(() => c.converged(), boundMs, 100, 'agreement after the heal');
      console.log(`# seed ${seed}: partition healed, all 32 agree after ${took} virtual ms (bound ${boundMs} ms)`);
    }));

  test(`a member restarted under the same name is alive again on all members within 10 s (seed ${seed})`, () =>
    withReplay(FILE, seed, () => {
      const c = new SimCluster({ seed, size: 32, config: lanConfig() });
      converge(c);
      c.crash('m9');
      c.runUntil(() => c.up().every((m) => m.node.member('m9')?.state === 'dead'), 120_000, 100, 'crash detected');
      const t0 = c.nowMs();
      c.restart('m9');
      const took = c.runUntil(() => c.converged(), 10_000, 50, 'restarted member alive everywhere');
      const seen = c.up().map((m) => m.node.member('m9')!);
      assert.ok(seen.every((s) => s.state === 'alive' && s.incarnation > 1), 'alive with a refuted, higher incarnation');
      console.log(`# seed ${seed}: restarted member alive everywhere after ${took} ms (from ${t0})`);
    }));
}

test('one seed reproduces a run exactly; another seed gives another run', () => {
  const runOnce = (seed: number): string[] => {
    const c = new SimCluster({ seed, size: 16, config: lanConfig(), keepLog: true });
    c.setLoss(0.05);
    converge(c);
    c.crash('m3');
    c.run(20_000);
    return c.log;
  };
  const a = runOnce(42);
  assert.ok(a.length > 50);
  assert.deepEqual(runOnce(42), a);
  assert.notDeepEqual(runOnce(43), a);
});

test('a stalled member counts the protocol periods it missed; members that ran on time count none', () => {
  const seed = 5;
  withReplay(FILE, seed, () => {
    const cfg = lanConfig();
    const c = new SimCluster({ seed, size: 8, config: cfg });
    converge(c);
    const before = c.member('m3').node.stats.missedProbePeriods;
    c.pause('m3', 3_500);
    c.run(10_000);
    const m3 = c.member('m3').node.stats;
    assert.ok(m3.missedProbePeriods - before >= 2, `m3 missed ${m3.missedProbePeriods - before} periods in a 3.5 s stall of 1 s periods`);
    assert.ok(m3.maxProbeLatenessMs >= 1_500, `m3's worst lateness ${m3.maxProbeLatenessMs} ms`);
    for (const m of c.members.filter((x) => x.name !== 'm3')) {
      assert.equal(m.node.stats.missedProbePeriods, 0, `${m.name} missed none`);
      assert.equal(m.node.stats.maxProbeLatenessMs, 0, `${m.name} ran every period on time in virtual time`);
    }
  });
});
