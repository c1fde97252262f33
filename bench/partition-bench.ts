// Failover compute, two ways:
//  (1) the engine alone: from applyEvent(dead) to the new snapshot and its diff;
//  (2) end to end in one daemon process: a SwimNode merges a dead message, the
//      daemon's own event pipeline (src/daemon/pipeline.ts) runs placement,
//      ownership and the watch hub, and a watch client on the API's Unix socket
//      receives the line; timed from the merge to the client reading that line.
//   node --expose-gc dist/bench/partition-bench.js [--quick] [--engine-only] [--e2e-only] [--P 4096] [--N 16] [--only zones]
//   node --expose-gc dist/bench/partition-bench.js --heap   (heap used after GC, P 65536, N 1024, a fresh process per figure)
// Each death is followed by the member coming back (a higher incarnation), so
// the cluster stays at N members; only deaths are timed.
import { KeyOps } from '../src/daemon/keys.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Counter, Histogram, Registry } from 'prom-client';
import { lanConfig } from '../src/config/presets.js';
import type { MemberSnapshot } from '../src/core/member-types.js';
import { SeededRandom } from '../src/core/prng.js';
import { SwimNode } from '../src/core/swim-node.js';
import { SessionHub } from '../src/api/session.js';
import { startApiServer } from '../src/api/server.js';
import { memberView, partitionsView } from '../src/api/views.js';
import { WatchHub } from '../src/api/watch.js';
import { MonitorHub } from '../src/api/monitor.js';
import { wireEventPipeline } from '../src/daemon/pipeline.js';
import { createPartitionEngine, type PartitionOptions } from '../src/partition/engine.js';
import { MemoryGrantStore } from '../src/partition/grant-store.js';
import { eligibilityOf, Leadership, OWNERSHIP_TAG, OWNERSHIP_TAG_VALUE } from '../src/partition/leadership.js';
import { VirtualScheduler } from '../src/sim/virtual-scheduler.js';
import { encodeMessage } from '../src/wire/codec.js';
import { MessageType } from '../src/wire/messages.js';
import { encodeTags } from '../src/wire/serf-tags.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const listArg = (flag: string, dflt: number[]): number[] => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1]!.split(',').map(Number) : dflt;
};
const PS = listArg('--P', [256, 4096, 65536]);
const NS = listArg('--N', [3, 16, 256, 1024]);
const REPLICAS = 3;
const gc = (globalThis as { gc?: () => void }).gc;

interface Variant {
  label: string;
  strategy: 'rendezvous' | 'modulo';
  zones: boolean;
  bounded: boolean;
}
const ALL_VARIANTS: Variant[] = [
  { label: 'rendezvous', strategy: 'rendezvous', zones: false, bounded: false },
  { label: 'rendezvous, 3 zones', strategy: 'rendezvous', zones: true, bounded: false },
  { label: 'rendezvous, bounded ε 0.25', strategy: 'rendezvous', zones: false, bounded: true },
  { label: 'modulo', strategy: 'modulo', zones: false, bounded: false },
];
const onlyAt = argv.indexOf('--only');
/** `--only modulo` (or `zones`, `bounded`, `rendezvous`): the rows whose label contains it. */
const VARIANTS = onlyAt >= 0 ? ALL_VARIANTS.filter((v) => (argv[onlyAt + 1] === 'rendezvous' ? v.label === 'rendezvous' : v.label.includes(argv[onlyAt + 1]!))) : ALL_VARIANTS;

const tagsOf = (v: Variant, i: number): Record<string, string> => (v.zones ? { zone: `z${i % 3}` } : {});
const optionsOf = (v: Variant, P: number): PartitionOptions => ({ partitions: P, replicas: REPLICAS, strategy: v.strategy, quorum: 0, ...(v.bounded ? { boundedLoadEpsilon: 0.25 } : {}) });

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** Deaths to time: enough for a p99 where a death is cheap, bounded by a time budget where it is not. */
function deathBudget(): { max: number; min: number; budgetMs: number } {
  return quick ? { max: 20, min: 5, budgetMs: 500 } : { max: 200, min: 20, budgetMs: 3000 };
}

interface Row {
  variant: string;
  P: number;
  N: number;
  deaths: number;
  p50: number;
  p99: number;
  max: number;
  moved: number;
  changed: number;
}

const rowLine = (r: Row): string => `| ${r.variant} | ${r.P} | ${r.N} | ${r.deaths} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.max.toFixed(3)} | ${r.moved.toFixed(1)} | ${r.changed.toFixed(1)} |`;
const header = ['| strategy | P | N | deaths | p50 ms | p99 ms | max ms | primaries moved per death | partitions changed per death |', '|---|---|---|---|---|---|---|---|---|'];

const memberSnap = (name: string, state: MemberSnapshot['state'], incarnation: number, tags: Record<string, string>): MemberSnapshot => ({
  name,
  host: '10.0.0.1',
  port: 7946,
  state,
  incarnation,
  meta: Object.keys(tags).length > 0 ? encodeTags(tags) : new Uint8Array(0),
  stateChangedAtMs: 0,
  vsn: [1, 5, 2, 2, 5, 4],
  contacted: true,
});

async function engineAlone(v: Variant, P: number, N: number): Promise<Row> {
  const e = await createPartitionEngine(optionsOf(v, P));
  const tags = Array.from({ length: N }, (_, i) => tagsOf(v, i));
  e.applyMembers(Array.from({ length: N }, (_, i) => memberSnap(`m${i}`, 'alive', 1, tags[i]!)));
  const incarnation = new Array<number>(N).fill(1);
  const { max, min, budgetMs } = deathBudget();
  const times: number[] = [];
  let moved = 0;
  let changed = 0;
  const started = performance.now();
  for (let i = 0; i < max && (i < min || performance.now() - started < budgetMs); i++) {
    const k = (i * 7919) % N;
    const t0 = performance.now();
    const diff = e.applyEvent({ kind: 'dead', member: memberSnap(`m${k}`, 'dead', incarnation[k]!, tags[k]!), from: 'x' });
    times.push(performance.now() - t0);
    changed += diff.changed.length;
    for (const c of diff.changed) if (c.oldPrimary !== c.newPrimary) moved++;
    incarnation[k]!++;
    e.applyEvent({ kind: 'alive-again', member: memberSnap(`m${k}`, 'alive', incarnation[k]!, tags[k]!) });
  }
  return { variant: v.label, P, N, deaths: times.length, p50: pct(times, 0.5), p99: pct(times, 0.99), max: Math.max(...times), moved: moved / times.length, changed: changed / times.length };
}

/** One daemon's pipeline: a SwimNode that hears no packets, granted ownership, the API server and a watch client. */
async function endToEnd(v: Variant, P: number, N: number): Promise<Row> {
  const scheduler = new VirtualScheduler(); // never advanced: no probes, no timeouts, only what the bench injects
  const ownTags = (i: number): Record<string, string> => ({ [OWNERSHIP_TAG]: OWNERSHIP_TAG_VALUE, ...tagsOf(v, i) });
  const node = new SwimNode({
    name: 'm0',
    advertise: { host: '10.0.0.1', port: 7946 },
    config: lanConfig(),
    meta: encodeTags(ownTags(0)),
    env: {
      scheduler,
      random: new SeededRandom(1),
      packets: { sendPacket: () => {}, onPacket: () => {} },
      streams: { request: (_to, _r, _e, _t, done) => done(new Error('no streams in this bench'), null), onRequest: () => {} },
    },
  });
  node.start();
  const alive = (i: number, incarnation: number): Uint8Array =>
    encodeMessage({ type: MessageType.Alive, body: { incarnation, node: `m${i}`, addr: Uint8Array.from([10, 0, (i >> 8) & 255, i & 255]), port: 7946, meta: encodeTags(ownTags(i)), vsn: Uint8Array.from([1, 5, 2, 2, 5, 4]) } });
  node.mergeEvidence(Array.from({ length: N - 1 }, (_, j) => alive(j + 1, 1)));
  const engine = await createPartitionEngine({ ...optionsOf(v, P), eligible: eligibilityOf({ fencing: 'granted', eligibleTags: {} }) });
  const quorum = Math.floor(N / 2) + 1; // a majority both before and after one death
  const leadership = new Leadership(
    { fencing: 'granted', quorum, eligibleTags: {}, claimTimeoutMs: 1000, claimBackoffMaxMs: 4000, syncIntervalMs: 1000 },
    engine,
    node,
    { scheduler, random: new SeededRandom(2), store: new MemoryGrantStore() },
  );
  const registry = new Registry();
  const metrics = {
    partitionChanges: new Counter({ name: 'bench_partition_changes_total', help: 'partition changes', registers: [registry] }),
    failoverCompute: new Histogram({ name: 'bench_failover_compute_seconds', help: 'failover compute', registers: [registry] }),
  };
  // The daemon logs every member event and partition change at info: written, synchronously, to /dev/null.
  const logDest = pino.destination({ dest: '/dev/null', sync: true });
  const log = pino({ level: 'info' }, logDest);
  const watch = new WatchHub(1024, () => ({ type: 'snapshot', members: node.members().map(memberView), partitions: partitionsView(leadership.snapshot()) }));
  // Lines the pipeline publishes, counted where they are published: one per member event, one per leadership change.
  let published = 0;
  node.on(() => published++);
  leadership.on(() => published++);
  wireEventPipeline(node, leadership, watch, log, metrics);
  leadership.start();

  const dir = mkdtempSync(join(tmpdir(), 'swimd-bench-'));
  const socket = join(dir, 'api.sock');
  const api = await startApiServer(socket, 0o600, 16, {
    self: () => ({ name: node.name }),
    members: () => node.members().map(memberView),
    partitions: () => partitionsView(leadership.snapshot()),
    owned: () => leadership.owned(node.name),
    health: () => ({ status: 'ok' }),
    metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
    leave: () => {},
    setTags: () => ({}),
    partitionDetail: () => ({}),
    keys: new KeyOps(null),
    watch,
    sessions: new SessionHub(1, () => {}),
    monitor: new MonitorHub(1024),
  });
  // The watch client: counts complete lines (JSON text holds no raw newline) and notes when the awaited one arrives.
  let received = 0;
  let waitFor = 0;
  let onReached: (() => void) | null = null;
  published = 0; // lines published before the client connected went to nobody
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = request({ socketPath: socket, path: '/v1/watch', method: 'GET' }, resolve);
    req.on('error', reject);
    req.end();
  });
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    let at = 0;
    for (let nl = chunk.indexOf('\n', at); nl >= 0; nl = chunk.indexOf('\n', at)) {
      received++;
      at = nl + 1;
    }
    if (onReached !== null && received >= waitFor) {
      const f = onReached;
      onReached = null;
      f();
    }
  });
  const settle = (): Promise<void> =>
    new Promise((resolve) => {
      waitFor = published + 1; // + the snapshot line every watcher gets first
      if (received >= waitFor) resolve();
      else onReached = resolve;
    });
  await settle();

  const incarnation = new Array<number>(N).fill(1);
  const { max, min, budgetMs } = deathBudget();
  const times: number[] = [];
  let moved = 0;
  let changed = 0;
  // Counted during deaths only: partitions on the watch line, and placement primaries moved
  // (published primaries stay null here, as no peer answers a claim).
  let timing = false;
  leadership.on((_s, diff) => {
    if (timing) changed += diff.changed.length;
  });
  engine.on((_s, diff) => {
    if (timing) for (const c of diff.changed) if (c.oldPrimary !== c.newPrimary) moved++;
  });
  const started = performance.now();
  for (let i = 0; i < max && (i < min || performance.now() - started < budgetMs); i++) {
    const k = 1 + ((i * 7919) % (N - 1)); // never this daemon itself
    timing = true;
    const t0 = performance.now();
    node.mergeEvidence([encodeMessage({ type: MessageType.Dead, body: { incarnation: incarnation[k]!, node: `m${k}`, from: 'm0' } })]);
    await settle();
    times.push(performance.now() - t0);
    timing = false;
    incarnation[k]!++;
    node.mergeEvidence([alive(k, incarnation[k]!)]);
    await settle();
  }
  const deaths = times.length;
  res.destroy();
  watch.closeAll();
  await new Promise<void>((resolve) => {
    api.close(() => resolve());
    api.closeAllConnections();
  });
  leadership.stop();
  node.shutdown();
  logDest.end();
  rmSync(dir, { recursive: true, force: true });
  return {
    variant: v.label,
    P,
    N,
    deaths,
    p50: pct(times, 0.5),
    p99: pct(times, 0.99),
    max: Math.max(...times),
    moved: moved / Math.max(1, deaths),
    changed: changed / Math.max(1, deaths),
  };
}

async function main(): Promise<void> {
  console.log(`command: node --expose-gc dist/bench/partition-bench.js${argv.length ? ' ' + argv.join(' ') : ''}`);
  console.log(`replicas ${REPLICAS}; times in ms; each death is followed by the member's return, which is not timed`);
  if (!argv.includes('--e2e-only')) {
    console.log('\n(1) Engine alone: applyEvent(dead) → new snapshot + diff');
    for (const l of header) console.log(l);
    for (const P of PS) for (const N of NS) for (const v of VARIANTS) console.log(rowLine(await engineAlone(v, P, N)));
  }
  if (!argv.includes('--engine-only')) {
    console.log('\n(2) End to end in one daemon process: dead message merged by the SwimNode → the watch client has read the line (the partitions line when one is published, else the member line)');
    for (const l of header) console.log(l);
    for (const P of PS) for (const N of NS) for (const v of VARIANTS) console.log(rowLine(await endToEnd(v, P, N)));
  }
}

function settledHeap(): number {
  // Several collections: one can leave garbage that a finaliser or weak reference still held.
  for (let i = 0; i < 4; i++) gc!();
  const m = process.memoryUsage();
  // Typed arrays keep their bytes outside the JS heap: count them too.
  return m.heapUsed + m.arrayBuffers;
}

/** In a fresh process: heap used after GC by the engine (and leadership over it) with the table filled, P 65536, N 1024. */
async function heapOne(variant: number, withLeadership: boolean): Promise<void> {
  const v = ALL_VARIANTS[variant]!;
  const P = 65536;
  const N = 1024;
  const members = Array.from({ length: N }, (_, i) => memberSnap(`m${i}`, 'alive', 1, { [OWNERSHIP_TAG]: OWNERSHIP_TAG_VALUE, ...tagsOf(v, i) }));
  const base = settledHeap();
  const engine = await createPartitionEngine({ ...optionsOf(v, P), eligible: eligibilityOf({ fencing: 'granted', eligibleTags: {} }) });
  let leadership: Leadership | null = null;
  if (withLeadership) {
    const scheduler = new VirtualScheduler();
    const node = { name: 'm0', members: () => members, member: (n: string) => members.find((m) => m.name === n), onUserMessage: () => () => {}, sendUserMessage: () => true, userMessageBudgetBytes: () => 1200, evidenceOf: () => [], mergeEvidence: () => {} };
    leadership = new Leadership({ fencing: 'granted', quorum: N / 2 + 1, eligibleTags: {}, claimTimeoutMs: 1000, claimBackoffMaxMs: 4000, syncIntervalMs: 1000 }, engine, node, { scheduler, random: new SeededRandom(2), store: new MemoryGrantStore() });
    leadership.start();
  } else {
    engine.applyMembers(members);
  }
  const used = settledHeap() - base;
  console.log(JSON.stringify({ variant: v.label, withLeadership, MiB: used / 2 ** 20, partitions: engine.snapshot().partitions.length, leadership: leadership !== null }));
}

async function heapTable(): Promise<void> {
  console.log(`command: node --expose-gc dist/bench/partition-bench.js --heap`);
  console.log('\nHeap used + array buffers after GC, P 65536, N 1024, replicas 3 (each figure from a fresh process; the member list itself excluded):');
  console.log('| strategy | engine | engine + leadership |');
  console.log('|---|---|---|');
  const self = fileURLToPath(import.meta.url);
  for (let i = 0; i < ALL_VARIANTS.length; i++) {
    const fig = (lead: boolean): string => {
      const out = execFileSync(process.execPath, ['--expose-gc', self, '--heap-one', String(i), lead ? 'lead' : 'engine'], { encoding: 'utf8' });
      return `${(JSON.parse(out.trim().split('\n').at(-1)!) as { MiB: number }).MiB.toFixed(1)} MiB`;
    };
    console.log(`| ${ALL_VARIANTS[i]!.label} | ${fig(false)} | ${fig(true)} |`);
  }
}

const heapOneAt = argv.indexOf('--heap-one');
if (heapOneAt >= 0) {
  if (!gc) throw new Error('--heap-one needs --expose-gc');
  await heapOne(Number(argv[heapOneAt + 1]), argv[heapOneAt + 2] === 'lead');
} else if (argv.includes('--heap')) {
  if (!gc) throw new Error('--heap needs --expose-gc');
  await heapTable();
} else {
  await main();
}
