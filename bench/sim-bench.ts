// Simulator benchmark: N members on virtual time with the LAN preset.
//   node dist/bench/sim-bench.js [--members 256,1000] [--seed 7]
//   node dist/bench/sim-bench.js --payload 64,256,1000,2000,10000
// Prints convergence, crash detection by first and last survivor, dissemination
// of one update, traffic per member per second, speed-up over real time (and
// over CPU time, steadier on a shared machine) and the heap; then the size of one push/pull state exchange at each size run. With
// --payload it prints only push/pull sizes, of views built without a
// simulation (same names, addresses and versions as the simulated members).
import { ipToBytes } from '../src/core/addresses.js';
import type { MemberSnapshot } from '../src/core/member-types.js';
import { lanConfig } from '../src/config/presets.js';
import { SimCluster } from '../src/sim/cluster.js';
import { encodeMessage } from '../src/wire/codec.js';
import { compressMessage } from '../src/wire/compress.js';
import { MessageType, WireState, type PushNodeState } from '../src/wire/messages.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const WIRE_STATE = { alive: WireState.Alive, suspect: WireState.Suspect, dead: WireState.Dead, left: WireState.Left } as const;

/** The push/pull message a member with this view sends (no user state), as anti-entropy builds it. */
function pushPullOf(view: readonly Pick<MemberSnapshot, 'name' | 'host' | 'port' | 'meta' | 'incarnation' | 'state' | 'vsn'>[]): Uint8Array {
  const nodes: PushNodeState[] = view.map((m) => ({ name: m.name, addr: ipToBytes(m.host), port: m.port, meta: m.meta, incarnation: m.incarnation, state: WIRE_STATE[m.state], vsn: Uint8Array.from(m.vsn) }));
  return encodeMessage({ type: MessageType.PushPull, body: { join: false, nodes, userState: new Uint8Array(0) } });
}

/** Bytes of one entry's field names (msgpack fixstr headers included): go-msgpack writes a Go struct as a map keyed by field name. */
const KEY_BYTES = ['Addr', 'Incarnation', 'Meta', 'Name', 'Port', 'State', 'Vsn'].reduce((n, k) => n + 1 + k.length, 1);

const payloadRows: string[] = [];
function payloadRow(n: number, how: string, msg: Uint8Array): void {
  const packed = compressMessage(msg);
  const per = msg.length / n;
  payloadRows.push(`| ${n} | ${how} | ${msg.length} | ${per.toFixed(1)} | ${KEY_BYTES} (${((100 * KEY_BYTES) / per).toFixed(0)} %) | ${packed.length} | ${(packed.length / n).toFixed(1)} | ${((2 * msg.length) / 1e6).toFixed(3)} |`);
}
function printPayload(): void {
  console.log('\npush/pull state exchange, one direction (the reply is the same size again); LZW is what enableCompression sends\n');
  console.log('| members | view | bytes | bytes per member | of which field names | LZW bytes | LZW bytes per member | one exchange, both ways (MB, uncompressed) |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of payloadRows) console.log(r);
}

const payloadSizes = arg('payload', '');
if (payloadSizes !== '') {
  console.log(`command: node dist/bench/sim-bench.js --payload ${payloadSizes}`);
  for (const n of payloadSizes.split(',').map(Number)) {
    const vsn = [1, 5, 2, 2, 5, 4];
    const view = Array.from({ length: n }, (_, i) => {
      const j = i + 1;
      return { name: `m${i}`, host: `10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}`, port: 7946, meta: new Uint8Array(0), incarnation: 1, state: 'alive' as const, vsn };
    });
    payloadRow(n, 'built', pushPullOf(view));
  }
  printPayload();
  process.exit(0);
}

const sizes = arg('members', '256,1000').split(',').map(Number);
const seed = Number(arg('seed', '7'));
console.log(`command: node dist/bench/sim-bench.js --members ${sizes.join(',')} --seed ${seed}`);
console.log('| members | converge (virtual s) | join news drained (s) | first suspicion (s) | first dead (s) | last survivor (s) | update to all (s, gossip rounds) | msgs/member/s | bytes/member/s | speed-up vs real time, whole run | steady state | virtual s per CPU s, whole run | heap (MB) |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const n of sizes) {
  const cfg = lanConfig();
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  // Only suspicion and death events are read below; the N² join events are left out of the log.
  const c = new SimCluster({ seed, size: n, config: cfg, invariantCheckEveryMs: 5000, recordEvent: (ev) => ev.kind === 'suspect' || ev.kind === 'dead' });
  c.startAll();
  c.joinAll(5);
  const conv = c.runUntil(() => c.converged(), 600_000, 500, 'convergence');
  payloadRow(n, 'member 0 after convergence', pushPullOf(c.members[0]!.node.members()));
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
  const heapMb = process.memoryUsage().heapUsed / 1e6;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  console.log(
    `| ${n} | ${(conv / 1000).toFixed(1)} | ${((conv + drained) / 1000).toFixed(1)} | ${(sus / 1000).toFixed(2)} | ${(Math.min(...dead) / 1000).toFixed(2)} | ${(Math.max(...dead) / 1000).toFixed(2)} | ${(spread / 1000).toFixed(2)} (${Math.ceil(spread / cfg.gossipIntervalMs)}) | ${msgsPerMember.toFixed(1)} | ${bytesPerMember.toFixed(0)} | ${(virtualS / wallS).toFixed(1)}× (${virtualS.toFixed(0)} s in ${wallS.toFixed(0)} s) | ${steadySpeedUp.toFixed(1)}× | ${(virtualS / cpuS).toFixed(1)} (${cpuS.toFixed(0)} CPU s) | ${heapMb.toFixed(0)} |`,
  );
}
printPayload();
