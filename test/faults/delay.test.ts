// Delay and jitter on real hosts. This kernel has no netem, so every host's
// daemon sits behind a user-space relay (delay-relay.ts) that delays what the
// host receives; 8 hosts keep the run short.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { killAll, sleep, waitFor } from '../../harness/procs.js';
import { TestHosts, type DelayRelay } from '../../harness/hosts.js';
import { FaultCluster } from '../../harness/fault-cluster.js';

const HOSTS = 8;
const DELAY_S = Number(process.env.SWIMD_FAULT_DELAY_S ?? 60);

const hosts = TestHosts.create(HOSTS);
const cluster = new FaultCluster(hosts, { quorum: 5, partitions: 32, behindRelay: true });
const relays: DelayRelay[] = [];
after(() => {
  cluster.killAll();
  killAll();
  hosts.destroy();
});

test('8 hosts behind delay relays form a cluster', async () => {
  for (let i = 0; i < HOSTS; i++) relays.push(await hosts.startRelay(i, 7946, 7947));
  cluster.startAll();
  await waitFor(() => cluster.agree(cluster.daemons, cluster.names()), 60_000, 'all 8 hosts agree', 500);
  cluster.watchAll();
  await waitFor(() => new Set(cluster.events.filter((e) => e.line.type === 'snapshot').map((e) => e.observer)).size === HOSTS, 20_000, 'every watch stream open');
});

test(`100 ms + up to 100 ms of jitter on every host for ${DELAY_S} s (LAN preset): no member is declared dead`, async () => {
  const t0 = Date.now();
  const before = await Promise.all(relays.map((r) => r.stats()));
  for (const r of relays) await r.setDelay(100, 100);
  await sleep(DELAY_S * 1000);
  for (const r of relays) await r.setDelay(0, 0);
  const afterStats = await Promise.all(relays.map((r) => r.stats()));
  const forwarded = afterStats.reduce((n, s, i) => n + s.forwarded - before[i]!.forwarded, 0);
  const dropped = afterStats.reduce((n, s, i) => n + s.dropped - before[i]!.dropped, 0);
  const suspicions = cluster.memberEvents('suspect', t0).length;
  console.log(`# delay: ${forwarded} datagrams delayed, ${dropped} dropped by the relays, ${suspicions} suspicions, ${cluster.memberEvents('dead', t0).length} deaths`);
  assert.ok(forwarded > HOSTS * DELAY_S, 'traffic really went through the relays');
  assert.deepEqual(cluster.memberEvents('dead', t0), []);
  await waitFor(() => cluster.agree(cluster.daemons, cluster.names()), 30_000, 'all alive after the delay', 500);
});

test('one host whose inbound traffic is 700 ms late (past the 500 ms probe timeout, within the 1 s period) is never declared dead', async () => {
  const t0 = Date.now();
  const slow = cluster.daemons[3]!;
  await relays[3]!.setDelay(700, 0);
  await sleep(30_000);
  await relays[3]!.setDelay(0, 0);
  const deaths = cluster.memberEvents('dead', t0);
  console.log(`# slow host: ${cluster.memberEvents('suspect', t0).filter((e) => e.member === slow.name).length} suspicions of it, ${deaths.length} deaths`);
  assert.deepEqual(deaths, []);
  await waitFor(() => cluster.agree(cluster.daemons, cluster.names()), 30_000, 'all alive afterwards', 500);
});
