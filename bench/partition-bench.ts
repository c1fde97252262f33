// Failover compute, two ways:
//  (1) the engine alone: from applyEvent(dead) to the new snapshot and its diff;
//  (2) end to end in one daemon process: a SwimNode merges a dead message, the
//      daemon's own event pipeline (src/daemon/pipeline.ts) runs placement,
//      ownership and the watch hub, and a watch client on the API's Unix socket
//      receives the line; timed from the merge to the client reading that line.
//   node --expose-gc dist/bench/partition-bench.js [--quick] [--engine-only] [--e2e-only] [--P 4096] [--N 16] [--only zones] [--stages] [--watch-format full,compact]
// --watch-format: the watch formats the end-to-end reader asks for, one row each (default both):
// `full` (JSON.parse, then every field of every changed partition read), `compact` (the client's
// decoder, then every field read through its columns), `compact-changed` (the same, through the
// decoded line's `changed` objects).
// Every row runs in a fresh process (so one row's heap and JIT state do not
// colour the next) and starts with untimed warm-up deaths. Beside p50/p99 each
// row prints the GCs that overlapped a timed death (count and total pause), the
// deaths the OS preempted, the p99 of the deaths neither interrupted, and the
// heap allocated per death. --stages adds, for end-to-end rows, the mean
// time of each stage of a death (see Stages).
//   node --expose-gc dist/bench/partition-bench.js --heap   (heap used after GC, P 65536, N 1024, a fresh process per figure)
// Each death is followed by the member coming back (a higher incarnation), so
// the cluster stays at N members; only deaths are timed.
import { KeyOps } from '../src/daemon/keys.js';
import { execFileSync } from 'node:child_process';
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
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
import { decodeCompactPartitions, isCompactPartitions } from '../src/client/compact.js';
import type { PartitionChange } from '../src/api/views.js';
import { createPartitionEngine, type PartitionDiff, type PartitionEngine, type PartitionOptions } from '../src/partition/engine.js';
import { MemoryGrantStore } from '../src/partition/grant-store.js';
import { eligibilityOf, Leadership, OWNERSHIP_TAG, OWNERSHIP_TAG_VALUE, type LeadershipDiff } from '../src/partition/leadership.js';
import { VirtualScheduler } from '../src/sim/virtual-scheduler.js';
import { decodeMessage, encodeMessage } from '../src/wire/codec.js';
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
const stages = argv.includes('--stages');
type ReaderFormat = 'full' | 'compact' | 'compact-changed';
const READER_FORMATS: readonly ReaderFormat[] = ['full', 'compact', 'compact-changed'];
const formatsAt = argv.indexOf('--watch-format');
const WATCH_FORMATS = (formatsAt >= 0 ? argv[formatsAt + 1]!.split(',') : ['full', 'compact']).map((f) => {
  if (!(READER_FORMATS as readonly string[]).includes(f)) throw new Error(`--watch-format: expected ${READER_FORMATS.join(', ')}, got ${f}`);
  return f as ReaderFormat;
});
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

/**
 * Deaths to time: at least 200 where a death costs under 5 ms (judged by the
 * warm-up), so the p99 is the 3rd-worst of 200+ and not the worst of a dozen;
 * where a death costs more, as many as fit a time budget (at least 20).
 */
function deathBudget(warmupMedianMs: number): { max: number; min: number; budgetMs: number } {
  if (quick) return { max: 20, min: 5, budgetMs: 500 };
  return warmupMedianMs < 5 ? { max: 400, min: 200, budgetMs: 4000 } : { max: 200, min: 20, budgetMs: 4000 };
}
const WARMUP_DEATHS = quick ? 3 : 10;

/**
 * GC pauses overlapping the timed deaths, collected after the row (entries
 * arrive asynchronously), and the deaths that neither a GC nor the OS
 * scheduler interrupted (no involuntary context switch of the process during
 * it): their p99 is what the code costs without this machine's other load.
 */
class GcWatch {
  private readonly entries: PerformanceEntry[] = [];
  private readonly obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) this.entries.push(e);
  });
  private readonly intervals: number[] = [];
  private readonly preempted: boolean[] = [];
  private switches = 0;
  constructor() {
    this.obs.observe({ entryTypes: ['gc'] });
  }
  /** Call just before a timed death starts. */
  arm(): void {
    this.switches = process.resourceUsage().involuntaryContextSwitches;
  }
  /** Call right after it ends (t0, t1: its timed interval). */
  timed(t0: number, t1: number): void {
    this.intervals.push(t0, t1);
    this.preempted.push(process.resourceUsage().involuntaryContextSwitches !== this.switches);
  }
  async result(): Promise<{ count: number; pauseMs: number; preempted: number; quiet: number; quietP99: number }> {
    await new Promise((r) => setTimeout(r, 20));
    this.obs.disconnect();
    let count = 0;
    let pauseMs = 0;
    const gcIn = new Array<boolean>(this.preempted.length).fill(false);
    for (const e of this.entries) {
      let hit = false;
      for (let j = 0; j < this.intervals.length; j += 2) {
        if (e.startTime < this.intervals[j + 1]! && e.startTime + e.duration > this.intervals[j]!) {
          gcIn[j / 2] = true;
          hit = true;
        }
      }
      if (hit) {
        count++;
        pauseMs += e.duration;
      }
    }
    const quiet: number[] = [];
    for (let i = 0; i < this.preempted.length; i++) if (!gcIn[i] && !this.preempted[i]) quiet.push(this.intervals[2 * i + 1]! - this.intervals[2 * i]!);
    return { count, pauseMs, preempted: this.preempted.filter((x) => x).length, quiet: quiet.length, quietP99: quiet.length > 0 ? pct(quiet, 0.99) : NaN };
  }
}

/** Heap allocated by a death: the median of heapUsed growth across deaths (a GC inside one only lowers that one's figure). */
function medianKiB(deltas: number[]): number {
  return deltas.length === 0 ? 0 : pct(deltas, 0.5) / 1024;
}

interface Row {
  variant: string;
  /** End to end: the watch format the reader asked for and decoded. */
  format?: ReaderFormat;
  /** End to end: mean bytes of the partitions line per changed partition. */
  bytesPerChange?: number;
  P: number;
  N: number;
  deaths: number;
  p50: number;
  p99: number;
  max: number;
  moved: number;
  changed: number;
  gcs: number;
  gcPauseMs: number;
  /** Deaths during which the process was preempted (an involuntary context switch). */
  preempted: number;
  /** Deaths with neither a GC nor a preemption, and their p99. */
  quiet: number;
  quietP99: number;
  allocKiB: number;
  stages?: Stages;
}

/** End to end, mean ms per death: from the merge to the engine; the engine; ownership + flush; the line's text (+ metric, log); the socket write call; until the client read it; the client's decoding of it (in the timed total). */
interface Stages {
  member: number;
  engine: number;
  leadership: number;
  line: number;
  write: number;
  delivery: number;
  parse: number;
  lineKiB: number;
}

const rowLine = (r: Row): string =>
  `| ${r.variant}${r.format ? ` | ${r.format}` : ''} | ${r.P} | ${r.N} | ${r.deaths} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.max.toFixed(3)} | ${r.gcs} | ${r.gcPauseMs.toFixed(1)} | ${r.preempted} | ${r.quiet} | ${r.quiet > 0 ? r.quietP99.toFixed(3) : '–'} | ${r.allocKiB.toFixed(1)} | ${r.moved.toFixed(1)} | ${r.changed.toFixed(1)} |${r.format ? ` ${r.bytesPerChange !== undefined && Number.isFinite(r.bytesPerChange) ? r.bytesPerChange.toFixed(1) : '–'} |` : ''}`;
const header = [
  '| strategy | P | N | deaths | p50 ms | p99 ms | max ms | GCs in timed deaths | GC pause ms (sum) | deaths preempted | quiet deaths | p99 of quiet deaths ms | KiB allocated / death | primaries moved per death | partitions changed per death |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
];
const e2eHeader = [
  '| strategy | watch format | P | N | deaths | p50 ms | p99 ms | max ms | GCs in timed deaths | GC pause ms (sum) | deaths preempted | quiet deaths | p99 of quiet deaths ms | KiB allocated / death | primaries moved per death | partitions changed per death | line bytes / changed partition |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
];
const stageHeader = ['| strategy | watch format | P | N | member line | engine | ownership + flush | line text | socket write | delivery to client | client decode | line KiB |', '|---|---|---|---|---|---|---|---|---|---|---|---|'];
const stageLine = (r: Row): string => {
  const s = r.stages!;
  const f = (x: number): string => x.toFixed(3);
  return `| ${r.variant} | ${r.format} | ${r.P} | ${r.N} | ${f(s.member)} | ${f(s.engine)} | ${f(s.leadership)} | ${f(s.line)} | ${f(s.write)} | ${f(s.delivery)} | ${f(s.parse)} | ${s.lineKiB.toFixed(1)} |`;
};

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

/** Bytes in use on the JS heap: cheaper to ask than process.memoryUsage(), which also reads the process's RSS. */
const heapUsedBytes = (): number => getHeapStatistics().used_heap_size;

/** Partitions of a placement diff whose primary changed (read from the snapshot it produced, which is still current). */
function primariesMoved(diff: PartitionDiff, e: PartitionEngine): number {
  const names = e.slotNames();
  let moved = 0;
  for (let j = 0; j < diff.count; j++) {
    const old = diff.oldPrimarySlots[j]!;
    if ((old < 0 ? null : names[old]!) !== e.primaryOf(diff.ids[j]!)) moved++;
  }
  return moved;
}

async function engineAlone(v: Variant, P: number, N: number): Promise<Row> {
  const e = await createPartitionEngine(optionsOf(v, P));
  const tags = Array.from({ length: N }, (_, i) => tagsOf(v, i));
  e.applyMembers(Array.from({ length: N }, (_, i) => memberSnap(`m${i}`, 'alive', 1, tags[i]!)));
  const incarnation = new Array<number>(N).fill(1);
  const death = (i: number, timed: boolean): number => {
    const k = (i * 7919) % N;
    const ev = { kind: 'dead', member: memberSnap(`m${k}`, 'dead', incarnation[k]!, tags[k]!), from: 'x' } as const;
    const h0 = heapUsedBytes();
    if (timed) gcs.arm();
    const t0 = performance.now();
    const diff = e.applyEvent(ev);
    const t1 = performance.now();
    if (timed) allocs.push(heapUsedBytes() - h0);
    if (timed) {
      gcs.timed(t0, t1);
      changed += diff.count;
      moved += primariesMoved(diff, e);
    }
    incarnation[k]!++;
    e.applyEvent({ kind: 'alive-again', member: memberSnap(`m${k}`, 'alive', incarnation[k]!, tags[k]!) });
    return t1 - t0;
  };
  const gcs = new GcWatch();
  const allocs: number[] = [];
  let moved = 0;
  let changed = 0;
  const warm: number[] = [];
  for (let i = 0; i < WARMUP_DEATHS; i++) warm.push(death(i + 1_000_003, false));
  const { max, min, budgetMs } = deathBudget(pct(warm, 0.5));
  const times: number[] = [];
  const started = performance.now();
  for (let i = 0; i < max && (i < min || performance.now() - started < budgetMs); i++) times.push(death(i, true));
  const g = await gcs.result();
  return { variant: v.label, P, N, deaths: times.length, p50: pct(times, 0.5), p99: pct(times, 0.99), max: Math.max(...times), moved: moved / times.length, changed: changed / times.length, gcs: g.count, gcPauseMs: g.pauseMs, preempted: g.preempted, quiet: g.quiet, quietP99: g.quietP99, allocKiB: medianKiB(allocs) };
}

/** Stage timestamps of the death being timed (--stages): wrappers on the engine and the watch hub, the flush listener and the reader. */
class StageClock {
  active = false;
  t0 = 0;
  private engineStart = 0;
  private engineEnd = 0;
  private flushedAt = 0;
  private writeStart = 0;
  private writeEnd = 0;
  /** Time inside the line writers, which the hub calls from within publishPartitions. */
  private textMs = 0;
  private readStart = 0;
  private readEnd = 0;
  private lineChars = 0;
  private readonly sums: Stages = { member: 0, engine: 0, leadership: 0, line: 0, write: 0, delivery: 0, parse: 0, lineKiB: 0 };
  private n = 0;

  wrap(engine: { applyEvent: (...a: never[]) => unknown }, watch: { publishPartitions: (full: () => string | Uint8Array, compact: () => string | Uint8Array) => void }): void {
    const apply = engine.applyEvent.bind(engine) as (...a: never[]) => unknown;
    engine.applyEvent = (...a: never[]): unknown => {
      const e0 = performance.now();
      const r = apply(...a);
      // The death's own placement, not a re-read it causes.
      if (this.engineStart === 0) {
        this.engineStart = e0;
        this.engineEnd = performance.now();
      }
      return r;
    };
    const publish = watch.publishPartitions.bind(watch);
    const timed = (make: () => string | Uint8Array) => (): string | Uint8Array => {
      const l0 = performance.now();
      const text = make();
      this.textMs += performance.now() - l0;
      return text;
    };
    watch.publishPartitions = (full, compact): void => {
      const w0 = performance.now();
      publish(timed(full), timed(compact));
      if (this.flushedAt > 0) {
        this.writeStart = w0;
        this.writeEnd = performance.now();
      }
    };
  }

  begin(t0: number): void {
    this.t0 = t0;
    this.engineStart = this.engineEnd = this.flushedAt = this.writeStart = this.writeEnd = this.textMs = 0;
    this.readStart = this.readEnd = this.lineChars = 0;
  }

  flushed(at: number): void {
    if (this.active && this.flushedAt === 0) this.flushedAt = at;
  }

  /** The reader decoded a line from r0 to r1; the partitions line is the one read after the write. */
  read(r0: number, r1: number, chars: number): void {
    if (!this.active || this.writeEnd === 0) return;
    this.readStart = r0;
    this.readEnd = r1;
    this.lineChars = chars;
  }

  finish(): void {
    const s = this.sums;
    s.member += this.engineStart - this.t0;
    s.engine += this.engineEnd - this.engineStart;
    if (this.flushedAt > 0 && this.writeEnd > 0 && this.readEnd > 0) {
      s.leadership += this.flushedAt - this.engineEnd;
      s.line += this.writeStart - this.flushedAt + this.textMs;
      s.write += this.writeEnd - this.writeStart - this.textMs;
      s.delivery += this.readStart - this.writeEnd;
      s.parse += this.readEnd - this.readStart;
      s.lineKiB += this.lineChars / 1024;
    }
    this.n++;
  }

  means(): Stages {
    const out = { ...this.sums };
    for (const k of Object.keys(out) as (keyof Stages)[]) out[k] /= Math.max(1, this.n);
    return out;
  }
}

/** What the reader does with every field of every changed partition: adds it up, so none of it is skipped. */
let readerSink = 0;
const nameWeight = (n: string | null): number => (n === null ? 1 : n.length);

/** Decodes one watch line as an application would, in `format`, reading every field of a partitions line; returns its changed count (−1 for other lines). */
function readLine(text: string, format: ReaderFormat): number {
  const line = JSON.parse(text) as { type: string; changed?: PartitionChange[] };
  if (line.type !== 'partitions') return -1;
  if (format === 'full') return readChanged(line.changed!);
  if (!isCompactPartitions(line)) throw new Error('bench: a compact reader got a full partitions line');
  const d = decodeCompactPartitions(line);
  if (format === 'compact-changed') return readChanged(d.changed);
  const c = d.columns;
  const R = c.replicaSlots;
  const names = c.members;
  let sum = 0;
  for (let j = 0; j < c.count; j++) {
    const old = c.oldPrimary[j]!;
    const now = c.newPrimary[j]!;
    sum += c.ids[j]! + c.tokens[j]! + (old < 0 ? 1 : names[old]!.length) + (now < 0 ? 1 : names[now]!.length);
    for (let k = 0; k < R; k++) {
      const r = c.replicas[j * R + k]!;
      if (r < 0) break;
      sum += names[r]!.length;
    }
  }
  readerSink += sum;
  return c.count;
}

function readChanged(changed: readonly PartitionChange[]): number {
  let sum = 0;
  for (const c of changed) {
    sum += c.id + c.token + nameWeight(c.oldPrimary) + nameWeight(c.newPrimary);
    for (const r of c.replicas) sum += r.length;
  }
  readerSink += sum;
  return changed.length;
}

/** One daemon's pipeline: a SwimNode that hears no packets, granted ownership, the API server and a watch client. */
async function endToEnd(v: Variant, P: number, N: number, format: ReaderFormat): Promise<Row> {
  const scheduler = new VirtualScheduler(); // never advanced: no probes, no timeouts, only what the bench injects
  let receive: ((from: { host: string; port: number }, data: Uint8Array, atMs: number) => void) | null = null;
  const ownTags = (i: number): Record<string, string> => ({ [OWNERSHIP_TAG]: OWNERSHIP_TAG_VALUE, ...tagsOf(v, i) });
  const node = new SwimNode({
    name: 'm0',
    advertise: { host: '10.0.0.1', port: 7946 },
    config: lanConfig(),
    meta: encodeTags(ownTags(0)),
    env: {
      scheduler,
      random: new SeededRandom(1),
      // Members hold partition roles only once this daemon reached them itself: the bench answers the pings that verify them, and nothing else.
      packets: {
        sendPacket: (to, data) => {
          if (data[0] !== MessageType.Ping) return;
          const d = decodeMessage(data);
          if (!d.ok || d.value.type !== MessageType.Ping) return;
          const ack = encodeMessage({ type: MessageType.AckResp, body: { seqNo: d.value.body.seqNo, payload: null } });
          setImmediate(() => receive?.(to, ack, scheduler.nowMs()));
        },
        onPacket: (h) => {
          receive = h;
        },
      },
      streams: { request: (_to, _r, _e, _t, done) => done(new Error('no streams in this bench'), null), onRequest: () => {} },
    },
  });
  node.start();
  const alive = (i: number, incarnation: number): Uint8Array =>
    encodeMessage({ type: MessageType.Alive, body: { incarnation, node: `m${i}`, addr: Uint8Array.from([10, 1, (i >> 8) & 255, i & 255]) /* not 10.0.0.1, the daemon's own */, port: 7946, meta: encodeTags(ownTags(i)), vsn: Uint8Array.from([1, 5, 2, 2, 5, 4]) } });
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
  const stage = new StageClock();
  leadership.on(() => {
    published++;
    stage.flushed(performance.now());
  });
  if (stages) stage.wrap(engine, watch);
  wireEventPipeline(node, leadership, watch, log, metrics);
  leadership.start();
  // Bounded: each verification needs one ping and its answer, a few in flight at a time.
  for (let i = 0; i < 100_000 && !node.members().every((m) => m.contacted); i++) await new Promise((r) => setImmediate(r));
  if (!node.members().every((m) => m.contacted)) throw new Error('bench: members were not all verified');

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
  let timing = false;
  // The watch client: decodes every complete line in `format` (as src/client does) and notes when the awaited one arrives.
  let received = 0;
  let waitFor = 0;
  let onReached: (() => void) | null = null;
  /** During timed deaths: characters of partitions lines and the partitions they carried. */
  let lineChars = 0;
  let lineChanges = 0;
  published = 0; // lines published before the client connected went to nobody
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = request({ socketPath: socket, path: format === 'full' ? '/v1/watch' : '/v1/watch?format=compact', method: 'GET' }, resolve);
    req.on('error', reject);
    req.end();
  });
  res.setEncoding('utf8');
  let pending = '';
  res.on('data', (chunk: string) => {
    let at = 0;
    for (let nl = chunk.indexOf('\n', at); nl >= 0; nl = chunk.indexOf('\n', at)) {
      const text = pending === '' ? chunk.slice(at, nl) : pending + chunk.slice(at, nl);
      pending = '';
      at = nl + 1;
      const r0 = performance.now();
      const changes = readLine(text, format);
      stage.read(r0, performance.now(), text.length);
      if (timing && changes >= 0) {
        lineChars += text.length;
        lineChanges += changes;
      }
      received++;
    }
    if (at < chunk.length) pending += chunk.slice(at);
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
  const gcs = new GcWatch();
  const allocs: number[] = [];
  let moved = 0;
  let changed = 0;
  // Counted during deaths only (timing): partitions on the watch line, and placement primaries moved
  // (published primaries stay null here, as no peer answers a claim).
  // Kept and counted after the timed section: counting is not the daemon's work.
  let leadershipDiff: LeadershipDiff | null = null;
  let engineDiff: PartitionDiff | null = null;
  leadership.on((_s, diff) => {
    if (timing && leadershipDiff === null) leadershipDiff = diff;
  });
  engine.on((_s, diff) => {
    if (timing && engineDiff === null) engineDiff = diff;
  });
  const death = async (i: number, timed: boolean): Promise<number> => {
    const k = 1 + ((i * 7919) % (N - 1)); // never this daemon itself
    const msg = [encodeMessage({ type: MessageType.Dead, body: { incarnation: incarnation[k]!, node: `m${k}`, from: 'm0' } })];
    timing = timed;
    stage.active = timed && stages;
    const h0 = heapUsedBytes();
    if (timed) gcs.arm();
    const t0 = performance.now();
    stage.begin(t0);
    node.mergeEvidence(msg);
    const h1 = heapUsedBytes();
    await settle();
    const t1 = performance.now();
    timing = false;
    if (timed) {
      changed += (leadershipDiff as LeadershipDiff | null)?.count ?? 0;
      const ed = engineDiff as PartitionDiff | null;
      if (ed !== null) moved += primariesMoved(ed, engine);
      gcs.timed(t0, t1);
      allocs.push(h1 - h0);
      if (stage.active) stage.finish();
    }
    stage.active = false;
    leadershipDiff = null;
    engineDiff = null;
    incarnation[k]!++;
    node.mergeEvidence([alive(k, incarnation[k]!)]);
    await settle();
    return t1 - t0;
  };
  const warm: number[] = [];
  for (let i = 0; i < WARMUP_DEATHS; i++) warm.push(await death(i + 1_000_003, false));
  const { max, min, budgetMs } = deathBudget(pct(warm, 0.5));
  const times: number[] = [];
  const started = performance.now();
  for (let i = 0; i < max && (i < min || performance.now() - started < budgetMs); i++) times.push(await death(i, true));
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
  if (!Number.isFinite(readerSink)) throw new Error('bench: the reader read nothing');
  return {
    variant: v.label,
    format,
    bytesPerChange: lineChars / lineChanges,
    P,
    N,
    deaths,
    p50: pct(times, 0.5),
    p99: pct(times, 0.99),
    max: Math.max(...times),
    moved: moved / Math.max(1, deaths),
    changed: changed / Math.max(1, deaths),
    ...(await gcs.result().then((g) => ({ gcs: g.count, gcPauseMs: g.pauseMs, preempted: g.preempted, quiet: g.quiet, quietP99: g.quietP99 }))),
    allocKiB: medianKiB(allocs),
    ...(stages ? { stages: stage.means() } : {}),
  };
}

/** Runs one row in a fresh process (same node flags, same bench flags) and returns what it measured. */
function rowInChild(mode: 'engine' | 'e2e', v: Variant, P: number, N: number, format: ReaderFormat = 'full'): Row {
  const flags = [quick ? ['--quick'] : [], stages ? ['--stages'] : []].flat();
  const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--row', mode, String(ALL_VARIANTS.indexOf(v)), String(P), String(N), format, ...flags], { encoding: 'utf8', maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Row;
}

async function main(): Promise<void> {
  console.log(`command: node --expose-gc dist/bench/partition-bench.js${argv.length ? ' ' + argv.join(' ') : ''}`);
  console.log(`replicas ${REPLICAS}; times in ms; each row in a fresh process after ${WARMUP_DEATHS} untimed deaths; each death is followed by the member's return, which is not timed`);
  if (!argv.includes('--e2e-only')) {
    console.log('\n(1) Engine alone: applyEvent(dead) → new snapshot + diff');
    for (const l of header) console.log(l);
    for (const P of PS) for (const N of NS) for (const v of VARIANTS) console.log(rowLine(rowInChild('engine', v, P, N)));
  }
  if (!argv.includes('--engine-only')) {
    console.log('\n(2) End to end in one daemon process: dead message merged by the SwimNode → the watch client has read and decoded the line (the partitions line when one is published, else the member line), every field of every changed partition read');
    for (const l of e2eHeader) console.log(l);
    const rows: Row[] = [];
    for (const P of PS) for (const N of NS) for (const v of VARIANTS) for (const f of WATCH_FORMATS) {
      const r = rowInChild('e2e', v, P, N, f);
      rows.push(r);
      console.log(rowLine(r));
    }
    if (stages) {
      console.log('\n(3) End to end, mean ms per death by stage: merge → engine call (member line, log); engine; ownership + leadership flush; partitions line text (+ metric, log); the socket write call; until the client has read it; the client decoding it and reading every field (in the timed total)');
      for (const l of stageHeader) console.log(l);
      for (const r of rows) console.log(stageLine(r));
    }
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
const rowAt = argv.indexOf('--row');
if (rowAt >= 0) {
  const [mode, vi, P, N, format] = argv.slice(rowAt + 1, rowAt + 6);
  const v = ALL_VARIANTS[Number(vi)]!;
  const r = mode === 'engine' ? await engineAlone(v, Number(P), Number(N)) : await endToEnd(v, Number(P), Number(N), format as ReaderFormat);
  console.log(JSON.stringify(r));
} else if (heapOneAt >= 0) {
  if (!gc) throw new Error('--heap-one needs --expose-gc');
  await heapOne(Number(argv[heapOneAt + 1]), argv[heapOneAt + 2] === 'lead');
} else if (argv.includes('--heap')) {
  if (!gc) throw new Error('--heap needs --expose-gc');
  await heapTable();
} else {
  await main();
}
