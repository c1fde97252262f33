// False positives under faults, swimd beside Debian's serf (memberlist 0.2.2),
// on the same 16 namespaced hosts (the fault suite's harness), one system after
// the other, both with their LAN settings:
//   1. 10 % inbound loss on every host for --loss seconds;
//   2. one host stopped (SIGSTOP) for 2 s every 20 s, --pauses times.
// Counted per observer: deaths of healthy members (false positives), probes that
// failed by every route (swimd's swimd_failed_probes_total; memberlist's
// "Suspect X has failed, no acks received" log lines), and in the pause
// scenario how many observers declared the paused host dead.
// Needs root, iproute2, nftables and serf (as the fault suite does).
//   node dist/bench/fault-compare.js [--loss 120] [--pauses 3] [--only swimd|serf]
import { spawnSync, type ChildProcess } from 'node:child_process';
import { TestHosts } from '../harness/hosts.js';
import { FaultCluster } from '../harness/fault-cluster.js';
import { killAll, sleep, waitFor } from '../harness/procs.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const LOSS_S = Number(arg('loss', '120'));
const PAUSES = Number(arg('pauses', '3'));
const ONLY = arg('only', '');
const HOSTS = 16;
const PAUSED = 5;

interface Outcome {
  system: string;
  lossFalseDeaths: number;
  lossFailedProbes: number;
  pauseFalseDeaths: number;
  pauseFailedProbes: number;
  pausedDeclaredDeadBy: number;
}

const hosts = TestHosts.create(HOSTS);
process.on('SIGINT', () => process.exit(130));
process.on('exit', () => {
  killAll();
  hosts.destroy();
});

async function stopFor(child: ChildProcess): Promise<void> {
  for (let c = 0; c < PAUSES; c++) {
    child.kill('SIGSTOP');
    await sleep(2000);
    child.kill('SIGCONT');
    await sleep(18_000);
  }
}

async function runSwimd(): Promise<Outcome> {
  const cluster = new FaultCluster(hosts, { quorum: 9, partitions: 64 });
  cluster.startAll();
  await waitFor(() => cluster.agree(cluster.daemons, cluster.names()), 60_000, 'all 16 swimd hosts agree', 500);
  cluster.watchAll();
  await waitFor(() => new Set(cluster.events.filter((e) => e.line.type === 'snapshot').map((e) => e.observer)).size === HOSTS, 20_000, 'every watch stream open');
  const failedProbes = async (): Promise<number> => {
    let total = 0;
    for (const d of cluster.daemons) total += (await d.client.metricSamples()).get('swimd_failed_probes_total') ?? NaN;
    return total;
  };

  let t0 = Date.now();
  let f0 = await failedProbes();
  for (let i = 0; i < HOSTS; i++) hosts.setLoss(i, 10);
  await sleep(LOSS_S * 1000);
  hosts.healAll();
  const lossFalseDeaths = cluster.memberEvents('dead', t0).length;
  const lossFailedProbes = (await failedProbes()) - f0;
  await waitFor(() => cluster.agree(cluster.daemons, cluster.names()), 60_000, 'all alive after the loss', 500);

  const paused = cluster.daemons[PAUSED]!;
  t0 = Date.now();
  f0 = await failedProbes();
  await stopFor(paused.child);
  const deaths = cluster.memberEvents('dead', t0);
  const pauseFailedProbes = (await failedProbes()) - f0;
  cluster.killAll();
  await sleep(1000);
  return {
    system: 'swimd',
    lossFalseDeaths,
    lossFailedProbes,
    pauseFalseDeaths: deaths.filter((d) => d.member !== paused.name).length,
    pauseFailedProbes,
    pausedDeclaredDeadBy: new Set(deaths.filter((d) => d.member === paused.name).map((d) => d.observer)).size,
  };
}

interface SerfLine {
  atMs: number;
  observer: string;
  text: string;
}

async function runSerf(): Promise<Outcome> {
  const lines: SerfLine[] = [];
  const agents: ChildProcess[] = [];
  for (let i = 0; i < HOSTS; i++) {
    const h = hosts.hosts[i]!;
    const name = `h${i + 1}`;
    // -retry-join: a plain -join that fails at start (the seed not up yet) makes serf exit.
    const join = i > 0 ? [`-retry-join=${hosts.hosts[0]!.ip}:7946`, '-retry-interval=1s', '-retry-max=60'] : [];
    const child = hosts.spawnIn(i, 'serf', ['agent', `-node=${name}`, `-bind=${h.ip}:7946`, `-rpc-addr=${h.ip}:7373`, '-log-level=info', ...join]);
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buf += chunk;
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      for (const text of parts) lines.push({ atMs: Date.now(), observer: name, text });
    });
    child.stderr!.resume();
    agents.push(child);
  }
  const aliveCount = (i: number): number => {
    const h = hosts.hosts[i]!;
    const r = spawnSync('ip', ['netns', 'exec', h.ns, 'serf', 'members', `-rpc-addr=${h.ip}:7373`, '-format=json'], { encoding: 'utf8', timeout: 5000 });
    if (r.status !== 0) return -1;
    return (JSON.parse(r.stdout).members as { status: string }[]).filter((m) => m.status === 'alive').length;
  };
  const allAgree = (): boolean => hosts.hosts.every((_, i) => aliveCount(i) === HOSTS);
  await waitFor(allAgree, 90_000, 'all 16 serf agents agree', 1000).catch((err: Error) => {
    const exited = agents.filter((a) => a.exitCode !== null).length;
    throw new Error(`${err.message} (${exited} agents exited; alive counts ${hosts.hosts.map((_, i) => aliveCount(i)).join(' ')}; last log: ${lines.slice(-3).map((l) => l.text).join(' | ')})`);
  });
  const failed = (since: number): SerfLine[] => lines.filter((l) => l.atMs >= since && /EventMemberFailed: /.test(l.text));
  const suspects = (since: number): number => lines.filter((l) => l.atMs >= since && /Suspect \S+ has failed, no acks received/.test(l.text)).length;
  const subject = (l: SerfLine): string => /EventMemberFailed: (\S+)/.exec(l.text)?.[1] ?? '?';

  let t0 = Date.now();
  for (let i = 0; i < HOSTS; i++) hosts.setLoss(i, 10);
  await sleep(LOSS_S * 1000);
  hosts.healAll();
  const lossFalseDeaths = failed(t0).length;
  const lossFailedProbes = suspects(t0);
  // Serf re-joins failed members by itself (its reconnect loop); give it time.
  await waitFor(allAgree, 120_000, 'all serf agents alive after the loss', 1000).catch((err: Error) => console.log(`# ${err.message}`));

  t0 = Date.now();
  const pausedName = `h${PAUSED + 1}`;
  await stopFor(agents[PAUSED]!);
  const deaths = failed(t0);
  const pauseFailedProbes = suspects(t0);
  for (const a of agents) a.kill('SIGKILL');
  await sleep(1000);
  return {
    system: 'serf (memberlist 0.2.2)',
    lossFalseDeaths,
    lossFailedProbes,
    pauseFalseDeaths: deaths.filter((l) => subject(l) !== pausedName).length,
    pauseFailedProbes,
    pausedDeclaredDeadBy: new Set(deaths.filter((l) => subject(l) === pausedName).map((l) => l.observer)).size,
  };
}

async function main(): Promise<void> {
  const results: Outcome[] = [];
  let failure: unknown = null;
  try {
    if (ONLY !== 'serf') results.push(await runSwimd());
    if (ONLY !== 'swimd') results.push(await runSerf());
  } catch (err) {
    // Print what was measured before the failure, then fail.
    failure = err;
  }
  console.log(`command: node dist/bench/fault-compare.js --loss ${LOSS_S} --pauses ${PAUSES}${ONLY ? ` --only ${ONLY}` : ''}`);
  console.log(`\n16 namespaced hosts, LAN settings. Loss: 10 % inbound on every host for ${LOSS_S} s. Pause: h${PAUSED + 1} stopped 2 s every 20 s, ${PAUSES} times.`);
  console.log('| system | loss: false deaths | loss: failed probes | pause: false deaths of others | pause: failed probes | pause: observers declaring the paused host dead |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results) console.log(`| ${r.system} | ${r.lossFalseDeaths} | ${r.lossFailedProbes} | ${r.pauseFalseDeaths} | ${r.pauseFailedProbes} | ${r.pausedDeclaredDeadBy} of ${HOSTS - 1} |`);
  if (failure !== null) throw failure;
}

main()
  .then(() => process.exit(0))
  .catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
