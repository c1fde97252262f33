// Failover of an owner, swimd against etcd lease election, on the same
// namespaced hosts and the same fenced storage, in one run (swimd first, then
// etcd). For each system and fault (kill -9 of the owner, isolation of the
// owner's host from every other host while it still reaches storage) it measures,
// over --reps repetitions: the time from the fault to the new owner's first write
// accepted by storage, stale writes (two writers accepted with one token), and
// deposed writes (the old owner accepted after the new one was, on any partition
// it owned; swimd's failover time is that of one partition per repetition,
// partition r mod P, so the owners vary).
//
//   node dist/bench/ownership-compare.js [--reps 10] [--partitions 16] [--systems swimd,etcd] [--faults kill,isolate] [--failover-on-suspect true] [--json FILE]
//
// swimd: 5 daemons, local preset, partitions.quorum 3, a writer per host writing
// every partition its daemon names it primary of (quorum ok) every 10 ms.
// etcd: Debian's etcd-server, three members on hosts 1-3 (heartbeat 50 ms,
// election timeout 500 ms), an elector on each of the 5 hosts (etcd-elector.ts)
// with a 1 s lease. etcd raises a lease's TTL to its minimum, ceil(1.5 x election
// timeout) seconds: 2 s with the default 1 s election timeout, 1 s (the floor of
// its whole-second TTLs) with 500 ms, which is why the members run with 500 ms.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, sleep, tmp, track, waitFor } from '../harness/procs.js';
import { OwnershipRig, STORAGE_PORT, failoverOf } from '../harness/ownership-rig.js';

const here = dirname(fileURLToPath(import.meta.url));
const ELECTOR = join(here, 'etcd-elector.js');

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const REPS = Math.max(1, Math.min(200, Number(flag('reps', '10'))));
const PARTITIONS = Number(flag('partitions', '16'));
const SYSTEMS = flag('systems', 'swimd,etcd').split(',');
const FAULTS = flag('faults', 'kill,isolate').split(',') as Fault[];
const JSON_OUT = flag('json', '');
/** partitions.failoverOnSuspect on every swimd daemon: an isolated owner's partitions move at its suspicion, not its death. */
const ON_SUSPECT = flag('failover-on-suspect', 'false') === 'true';
/** A repetition with no new owner within this window counts as "> WINDOW". */
const WINDOW_MS = 15_000;
/** The fault is held this long after the new owner's first write, to catch the old owner writing on. */
const HOLD_MS = 2000;
const ETCD_TTL_S = 1;

type Fault = 'kill' | 'isolate';
interface Rep {
  failoverMs: number | null;
  victim: string;
  deposed: number;
}
interface Row {
  system: string;
  fault: Fault;
  reps: Rep[];
  stale: number;
}

const rig = OwnershipRig.create({ daemons: 5, partitions: PARTITIONS, quorum: 3, profile: 'local', failoverOnSuspect: ON_SUSPECT });
const etcdDir = join(tmp, `etcd-${process.pid}`);
let teardownDone = false;
function teardown(): void {
  if (teardownDone) return;
  teardownDone = true;
  killAll();
  rig.destroy();
  rmSync(etcdDir, { recursive: true, force: true });
}
process.once('exit', teardown);
process.once('SIGINT', () => process.exit(130));

/** Watches storage until someone other than `victim` has a write for `partition` accepted after `faultAt`. */
async function awaitNewOwner(partition: number, victim: string, faultAt: number): Promise<number | null> {
  const deadline = faultAt + WINDOW_MS;
  while (Date.now() < deadline) {
    const log = await rig.admin.log(faultAt, partition);
    const f = failoverOf(log, partition, victim, faultAt, Number.MAX_SAFE_INTEGER);
    if (f.failoverMs !== null) return f.failoverMs;
    await sleep(50);
  }
  return null;
}

/** Writes of the cut-off old owner accepted after a new owner's were, over all the partitions it owned. */
async function deposedSince(partitions: number[], victim: string, faultAt: number, untilMs: number): Promise<number> {
  const log = await rig.admin.log(faultAt);
  return partitions.reduce((n, p) => n + failoverOf(log, p, victim, faultAt, untilMs).deposedAccepted, 0);
}

// ---------- swimd ----------

async function swimdPhase(rows: Row[]): Promise<void> {
  await rig.admin.reset();
  for (let i = 0; i < 5; i++) rig.startDaemon(i);
  await rig.waitAllAlive(60_000);
  await rig.waitOneWritablePrimaryEach(30_000, 'swimd: one writable primary per partition');
  rig.startWriters();
  await waitFor(async () => (await rig.admin.stats()).stats.partitions === PARTITIONS, 10_000, 'swimd: every partition written');
  for (const fault of FAULTS) {
    const row: Row = { system: 'swimd', fault, reps: [], stale: 0 };
    const staleBefore = (await rig.admin.stats()).stats.stale;
    for (let r = 0; r < REPS; r++) {
      const partition = r % PARTITIONS;
      const victim = await rig.primaryOf(partition);
      const owned = await rig.partitionsOf(victim);
      const faultAt = Date.now();
      if (fault === 'kill') await rig.killDaemon(victim.index);
      else rig.isolate(victim.index);
      const failoverMs = await awaitNewOwner(partition, victim.name, faultAt);
      if (failoverMs === null) {
        // Say why: nobody claimed it, or its claimant was outranked by the old owner's token.
        const f = failoverOf(await rig.admin.log(faultAt, partition), partition, victim.name, faultAt, Date.now());
        const marks = (await rig.admin.stats()).marks[String(partition)];
        console.log(`#   p${partition}: writes of would-be owners rejected ${f.newPrimaryRejectedBefore} (storage mark ${marks}); ${await rig.describeBeliefs([partition], victim)}`);
      }
      if (fault === 'isolate') await sleep(HOLD_MS);
      const healAt = Date.now();
      if (fault === 'kill') rig.startDaemon(victim.index);
      else rig.heal();
      const deposed = fault === 'isolate' ? await deposedSince(owned, victim.name, faultAt, healAt) : 0;
      row.reps.push({ failoverMs, victim: victim.name, deposed });
      console.log(`swimd ${fault} #${r + 1}: p${partition} owner ${victim.name}, new owner's first accepted write ${failoverMs ?? `> ${WINDOW_MS}`} ms, deposed writes accepted ${deposed}`);
      await rig.waitOneWritablePrimaryEach(60_000, 'swimd: one writable primary per partition after the fault');
      await sleep(1000);
    }
    row.stale = (await rig.admin.stats()).stats.stale - staleBefore;
    rows.push(row);
  }
  rig.stopWriters();
  await rig.stopDaemons();
}

// ---------- etcd ----------

interface Elector {
  host: number;
  name: string;
  child: ChildProcess;
  out: string;
  /** The time of its last "lead" line, or null while it does not lead. */
  leadingSince: number | null;
}

const ETCD_HOSTS = [0, 1, 2];
const etcdProcs: ChildProcess[] = [];
const electors: (Elector | null)[] = [];

function etcdctl(host: number, args: string[]): { ok: boolean; out: string } {
  const endpoints = ETCD_HOSTS.map((h) => `http://${rig.hosts.hosts[h]!.ip}:2379`).join(',');
  const r = spawnSync('ip', ['netns', 'exec', rig.hosts.hosts[host]!.ns, 'etcdctl', `--endpoints=${endpoints}`, '--command-timeout=2s', ...args], {
    encoding: 'utf8',
    timeout: 10_000,
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function startEtcd(): void {
  const cluster = ETCD_HOSTS.map((h) => `e${h + 1}=http://${rig.hosts.hosts[h]!.ip}:2380`).join(',');
  for (const h of ETCD_HOSTS) {
    const ip = rig.hosts.hosts[h]!.ip;
    const dir = join(etcdDir, `e${h + 1}`);
    mkdirSync(dir, { recursive: true });
    const args = [
      `--name=e${h + 1}`,
      `--data-dir=${dir}`,
      `--listen-client-urls=http://${ip}:2379`,
      `--advertise-client-urls=http://${ip}:2379`,
      `--listen-peer-urls=http://${ip}:2380`,
      `--initial-advertise-peer-urls=http://${ip}:2380`,
      `--initial-cluster=${cluster}`,
      '--initial-cluster-state=new',
      '--initial-cluster-token=ownership-bench',
      '--heartbeat-interval=50',
      '--election-timeout=500',
      '--logger=zap',
      '--log-level=error',
    ];
    const child = track(rig.hosts.spawnIn(h, 'etcd', args, { stdio: ['ignore', 'ignore', 'pipe'] }));
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-2000)));
    child.once('exit', (code) => {
      if (!teardownDone) console.log(`# etcd e${h + 1} exited ${code}: ${err}`);
    });
    etcdProcs.push(child);
  }
}

function startElector(host: number): Elector {
  // Each elector prefers its own host's member (hosts 4 and 5 start elsewhere) and fails over in order.
  const order = [...ETCD_HOSTS.slice(host % 3), ...ETCD_HOSTS.slice(0, host % 3)];
  const endpoints = order.map((h) => `http://${rig.hosts.hosts[h]!.ip}:2379`).join(',');
  const name = `h${host + 1}`;
  const child = track(
    rig.hosts.spawnIn(host, process.execPath, [ELECTOR, '--name', name, '--endpoints', endpoints, '--storage', `${rig.storageIp}:${STORAGE_PORT}`, '--ttl', String(ETCD_TTL_S)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const e: Elector = { host, name, child, out: '', leadingSince: null };
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => {
    e.out = (e.out + c).slice(-10_000);
    for (const line of c.split('\n')) {
      if (line.startsWith('lead ')) e.leadingSince = Date.now();
      else if (line === 'lost') e.leadingSince = null;
    }
  });
  electors[host] = e;
  return e;
}

function leader(): Elector | null {
  const leading = electors.filter((e): e is Elector => !!e && e.leadingSince !== null && e.child.exitCode === null && e.child.signalCode === null);
  leading.sort((a, b) => b.leadingSince! - a.leadingSince!);
  return leading[0] ?? null;
}

async function etcdHealthy(): Promise<boolean> {
  return etcdctl(3, ['endpoint', 'health']).out.split('\n').filter((l) => /is healthy/.test(l)).length === ETCD_HOSTS.length;
}

async function etcdPhase(rows: Row[]): Promise<void> {
  const version = spawnSync('etcd', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
  console.log(`# ${version}`);
  await rig.admin.reset();
  startEtcd();
  await waitFor(etcdHealthy, 30_000, 'etcd: three healthy members', 500);
  for (let h = 0; h < 5; h++) startElector(h);
  await waitFor(() => leader(), 15_000, 'etcd: an elector leads');
  await waitFor(async () => (await rig.admin.stats()).stats.partitions === 1, 10_000, 'etcd: the leader writes');
  const granted = electors.map((e) => /lease (\d+)/.exec(e!.out)?.[1]).find((x) => x);
  console.log(`# etcd lease: requested TTL ${ETCD_TTL_S} s, granted ${granted} s`);
  for (const fault of FAULTS) {
    const row: Row = { system: 'etcd', fault, reps: [], stale: 0 };
    const staleBefore = (await rig.admin.stats()).stats.stale;
    for (let r = 0; r < REPS; r++) {
      const victim = (await waitFor(() => leader(), 10_000, 'etcd: a leader before the fault'))!;
      const faultAt = Date.now();
      if (fault === 'kill') victim.child.kill('SIGKILL');
      else rig.isolate(victim.host);
      const failoverMs = await awaitNewOwner(0, victim.name, faultAt);
      if (fault === 'isolate') await sleep(HOLD_MS);
      const healAt = Date.now();
      if (fault === 'kill') startElector(victim.host);
      else {
        rig.heal();
        victim.leadingSince = null;
      }
      const deposed = fault === 'isolate' ? await deposedSince([0], victim.name, faultAt, healAt) : 0;
      const colocated = ETCD_HOSTS.includes(victim.host) ? ' (shares its host with an etcd member)' : '';
      row.reps.push({ failoverMs, victim: victim.name, deposed });
      console.log(`etcd ${fault} #${r + 1}: owner ${victim.name}${colocated}, new owner's first accepted write ${failoverMs ?? `> ${WINDOW_MS}`} ms, deposed writes accepted ${deposed}`);
      await waitFor(etcdHealthy, 30_000, 'etcd: three healthy members after the fault', 250);
      await waitFor(() => leader(), 10_000, 'etcd: a leader after the fault');
      await sleep(1000);
    }
    row.stale = (await rig.admin.stats()).stats.stale - staleBefore;
    rows.push(row);
  }
  for (const e of electors) e?.child.kill('SIGKILL');
  for (const p of etcdProcs) p.kill('SIGKILL');
}

// ---------- report ----------

function percentile(xs: (number | null)[], q: number): number | null {
  const sorted = xs.map((x) => x ?? Infinity).sort((a, b) => a - b);
  const v = sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return Number.isFinite(v) ? v : null;
}
const fmt = (v: number | null): string => (v === null ? `> ${WINDOW_MS}` : String(v));

function table(rows: Row[]): string {
  const lines = [
    '| fault | system | reps | failover p50 (ms) | failover p99 (ms) | stale writes accepted | deposed writes accepted | p50 swimd/etcd | p99 swimd/etcd |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const fault of FAULTS) {
    const s = rows.find((r) => r.system === 'swimd' && r.fault === fault);
    const e = rows.find((r) => r.system === 'etcd' && r.fault === fault);
    const ratio = (q: number): string => {
      if (!s || !e) return '-';
      const a = percentile(s.reps.map((x) => x.failoverMs), q);
      const b = percentile(e.reps.map((x) => x.failoverMs), q);
      if (a === null) return b === null ? '-' : `> ${(WINDOW_MS / b).toFixed(1)}`;
      return b === null ? '-' : (a / b).toFixed(2);
    };
    for (const r of [s, e]) {
      if (!r) continue;
      const f = r.reps.map((x) => x.failoverMs);
      const deposed = r.reps.reduce((n, x) => n + x.deposed, 0);
      const missed = f.filter((x) => x === null).length;
      lines.push(
        `| ${fault === 'kill' ? 'kill -9 of the owner' : 'owner isolated (1\\|4)'} | ${r.system} | ${r.reps.length}${missed ? ` (${missed} no new owner within ${WINDOW_MS / 1000} s)` : ''} | ${fmt(percentile(f, 0.5))} | ${fmt(percentile(f, 0.99))} | ${r.stale} | ${fault === 'kill' ? '-' : deposed} | ${r === s ? ratio(0.5) : ''} | ${r === s ? ratio(0.99) : ''} |`,
      );
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  console.log(`# ownership failover: reps ${REPS}, systems ${SYSTEMS.join(',')}, faults ${FAULTS.join(',')}, swimd partitions ${PARTITIONS}${ON_SUSPECT ? ", failoverOnSuspect" : ""}`);
  await rig.startStorage();
  if (SYSTEMS.includes('swimd')) await swimdPhase(rows);
  if (SYSTEMS.includes('etcd')) await etcdPhase(rows);
  const md = table(rows);
  console.log(`\n${md}\n`);
  if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ reps: REPS, partitions: PARTITIONS, windowMs: WINDOW_MS, rows }, null, 2));
}

main().then(
  () => {
    teardown();
    process.exit(0);
  },
  (err: unknown) => {
    console.error(err);
    teardown();
    process.exit(1);
  },
);
