// Simulator benchmark: N members on virtual time with the LAN preset.
//   node dist/bench/sim-bench.js [--members 256,1000] [--seed 7]
// Prints convergence, crash detection by first and last survivor, dissemination
// of one update, traffic per member per second, and speed-up over real time.
import { lanConfig } from '../src/config/presets.js';
import { SimCluster } from '../src/sim/cluster.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const sizes = arg('members', '256,1000').split(',').map(Number);
const seed = Number(arg('seed', '7'));
console.log(`command: node dist/bench/sim-bench.js --members ${sizes.join(',')} --seed ${seed}`);
console.log('| members | converge (virtual s) | join news drained (s) | first suspicion (s) | first dead (s) | last survivor (s) | update to all (s, gossip rounds) | msgs/member/s | bytes/member/s | speed-up vs real time, whole run | steady state |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const n of sizes) {
  const cfg = lanConfig();
  const wall0 = performance.now();
  const c = new SimCluster({ seed, size: n, config: cfg, invariantCheckEveryMs: 5000 });
  c.startAll();
  c.joinAll(5);
  const conv = c.runUntil(() => c.converged(), 600_000, 500, 'convergence');
  // Steady state starts once the join news has been retransmitted out: every
  // broadcast queue empty (with 1,000 members that takes about a minute).
  const drained = c.runUntil(() => c.up().every((m) => m.node.broadcastQueueDepth() === 0), 600_000, 500, 'broadcast queues drained');
  c.run(5_000);
  // steady-state traffic over 30 s
  const sent0 = c.network.stats.sent;
  const bytes0 = c.network.stats.bytes;
  const steadyWall0 = performance.now();
  c.run(30_000);
  const steadySpeedUp = 30 / ((performance.now() - steadyWall0) / 1000);
  const msgsPerMember = (c.network.stats.sent - sent0) / n / 30;
  const bytesPerMember = (c.network.stats.bytes - bytes0) / n / 30;
  // dissemination of one update: a meta change on one member, until all see the new incarnation
  const updater = c.members[1]!;
  const t1 = c.nowMs();
  updater.node.setMeta(Uint8Array.from([0xff, 0x80]));
  const inc = updater.node.member(updater.name)!.incarnation;
  const spread = c.runUntil(() => c.up().every((m) => (m.node.member(updater.name)?.incarnation ?? 0) >= inc), 120_000, 20, 'update spread');
  // crash detection
  const victim = c.members[Math.floor(n / 2)]!.name;
  const t0 = c.nowMs();
  c.crash(victim);
  c.runUntil(() => c.up().every((m) => m.node.member(victim)?.state === 'dead'), 600_000, 100, 'detection');
  const sus = Math.min(...c.firstEventTimes('suspect', victim, t0).values()) - t0;
  const dead = [...c.firstEventTimes('dead', victim, t0).values()].map((t) => t - t0);
  const wallS = (performance.now() - wall0) / 1000;
  const virtualS = c.nowMs() / 1000;
  console.log(
    `| ${n} | ${(conv / 1000).toFixed(1)} | ${((conv + drained) / 1000).toFixed(1)} | ${(sus / 1000).toFixed(2)} | ${(Math.min(...dead) / 1000).toFixed(2)} | ${(Math.max(...dead) / 1000).toFixed(2)} | ${(spread / 1000).toFixed(2)} (${Math.ceil(spread / cfg.gossipIntervalMs)}) | ${msgsPerMember.toFixed(1)} | ${bytesPerMember.toFixed(0)} | ${(virtualS / wallS).toFixed(1)}× (${virtualS.toFixed(0)} s in ${wallS.toFixed(0)} s) | ${steadySpeedUp.toFixed(1)}× |`,
  );
  void t1;
}
