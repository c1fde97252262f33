// Partition-table agreement between real daemons: members with the same
// settings report each other agreeing (same checksum); two members set up with
// different partitions.count report each other disagreeing after a push/pull,
// show it in `swimd partitions` and /v1/health, and log it once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, sleep, tmp, waitFor } from '../../harness/procs.js';
import { localCluster } from '../support/local-cluster.js';

after(killAll);
const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'swimd');
const PUSH_PULL_MS = 2_000;
const swim = `swim: { probeInterval: 200ms, probeTimeout: 100ms, gossipInterval: 50ms, pushPullInterval: ${PUSH_PULL_MS}ms }`;

test('three daemons with the same settings: each reports the other two agreeing on one checksum', async () => {
  const c = await localCluster(['ag-a', 'ag-b', 'ag-c'], ['profile: local', swim, 'partitions: { count: 32, replicas: 2, quorum: 2 }', 'log: { level: warn }']);
  const procs = [0, 1, 2].map((i) => c.start(i));
  try {
    const views = (await waitFor(async () => {
      const vs = await Promise.all([0, 1, 2].map((i) => c.client(i).partitions()));
      return vs.every((v) => v.agreement?.agreeing === 2 && v.agreement.disagreeing.length === 0 && v.agreement.unknown === 0) ? vs : null;
    }, 30_000, 'every daemon to report both others agreeing'))!;
    assert.equal(new Set(views.map((v) => v.checksum)).size, 1, 'one checksum');
    assert.match(views[0]!.checksum, /^[0-9a-f]{16}$/);
    for (const v of views) {
      assert.equal(v.agreement!.checksum, v.checksum);
      assert.deepEqual(v.configMismatches, []);
    }
    const health = await c.client(0).health();
    assert.equal(health.status, 'ok', JSON.stringify(health));
    const samples = await c.client(0).metricSamples();
    assert.equal(samples.get('swimd_partition_agreement_peers{result="agreeing"}'), 2);
    assert.equal(samples.get('swimd_partition_table_checksum'), parseInt(views[0]!.checksum.slice(0, 12), 16));
  } finally {
    for (const p of procs) p.kill('SIGKILL');
  }
});

test('two daemons with different partitions.count report each other disagreeing within a push/pull interval, in the CLI, in health and in the log (once)', async () => {
  const c = await localCluster(['dis-a', 'dis-b'], []);
  const base = ['profile: local', swim, 'log: { level: warn }'];
  const logA = join(tmp, 'dis-a.log');
  const procs = [
    c.start(0, [...base, 'partitions: { count: 16, replicas: 2, quorum: 2, disagreementWarnAfter: 1s }'], logA),
    c.start(1, [...base, 'partitions: { count: 24, replicas: 2, quorum: 2 }']),
  ];
  try {
    // From the moment the two see each other, one push/pull interval (and the API poll) at most.
    await waitFor(async () => {
      const [a, b] = await Promise.all([c.client(0).members(), c.client(1).members()]);
      return a.filter((m) => m.state === 'alive').length === 2 && b.filter((m) => m.state === 'alive').length === 2;
    }, 20_000, 'both members alive in both views', 50);
    const t0 = Date.now();
    let [a, b] = (await waitFor(async () => {
      const vs = await Promise.all([c.client(0).partitions(), c.client(1).partitions()]);
      return vs.every((v) => v.agreement?.disagreeing.length === 1) ? vs : null;
    }, PUSH_PULL_MS + 1_500, 'each daemon to report the other disagreeing', 50))!;
    console.log(`# disagreement reported on both sides ${Date.now() - t0} ms after they met (push/pull interval ${PUSH_PULL_MS} ms)`);
    // A first report may name a checksum from before the peer's table came to rest; later exchanges carry the one it settled on.
    [a, b] = (await waitFor(async () => {
      const vs = await Promise.all([c.client(0).partitions(), c.client(1).partitions()]);
      return vs[0]!.agreement?.disagreeing[0]?.checksum === vs[1]!.checksum && vs[1]!.agreement?.disagreeing[0]?.checksum === vs[0]!.checksum ? vs : null;
    }, 20_000, 'each daemon to report the other\'s current checksum', 100))!;
    assert.equal(a!.agreement!.disagreeing[0]!.name, 'dis-b');
    assert.equal(a!.agreement!.disagreeing[0]!.checksum, b!.checksum);
    assert.equal(b!.agreement!.disagreeing[0]!.name, 'dis-a');
    assert.equal(b!.agreement!.disagreeing[0]!.checksum, a!.checksum);
    assert.notEqual(a!.checksum, b!.checksum);
    assert.deepEqual(a!.configMismatches, [{ name: 'dis-b', theirs: { partitions: 24, replicas: 2, strategy: 'rendezvous' }, ours: { partitions: 16, replicas: 2, strategy: 'rendezvous' } }]);

    const cli = spawnSync(process.execPath, [BIN, 'partitions', '--socket', c.sock(0)], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`checksum ${a!.checksum}`));
    assert.match(cli.stdout, /agreement: 0 agreeing, 1 disagreeing, 0 unknown/);
    assert.match(cli.stdout, new RegExp(`disagrees: dis-b has checksum ${b!.checksum}`));
    assert.match(cli.stdout, /settings differ: dis-b has count 24, replicas 2, rendezvous; this member count 16/);

    for (const [i, theirs, ours] of [[0, 'dis-b runs partitions.count 24', 'partitions.count 16'], [1, 'dis-a runs partitions.count 16', 'partitions.count 24']] as const) {
      const health = await c.client(i).health();
      assert.equal(health.status, 'degraded');
      const reasons = health.reasons as string[];
      assert.ok(reasons.some((r) => r.includes(theirs) && r.includes(`this member runs ${ours}`)), JSON.stringify(reasons));
    }

    // disagreementWarnAfter is 1 s on dis-a: one warning for this episode, however long it lasts; one error for the settings.
    await waitFor(() => existsSync(logA) && readFileSync(logA, 'utf8').includes('partition table disagrees with member dis-b'), 10_000, 'the warning in dis-a\'s log');
    await sleep(2_500);
    const lines = readFileSync(logA, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const warns = lines.filter((l) => l.msg === 'partition table disagrees with member dis-b');
    assert.equal(warns.length, 1, 'warned once per episode');
    assert.equal(warns[0]!.checksum, a!.checksum);
    assert.equal(warns[0]!.theirChecksum, b!.checksum);
    assert.equal(lines.filter((l) => String(l.msg).startsWith('member dis-b computes partitions with other settings')).length, 1, 'the settings mismatch is logged once');
  } finally {
    for (const p of procs) p.kill('SIGKILL');
  }
});
