// swimd against real HashiCorp memberlist peers: Debian's serf agent.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { lanConfig } from '../../src/config/presets.js';
import { retransmitLimit, suspicionTimeoutsMs } from '../../src/core/timing.js';
import { killAll, requireSerf, serfCommand, startSerf, startSwim, waitFor, type SwimProc } from '../../harness/procs.js';

requireSerf();
after(killAll);

// Detection bound for a LAN-profile member in a cluster of n: a probe period, then
// at most the suspicion max timeout, then the dead message's gossip rounds.
function lanDetectionBoundMs(n: number): number {
  const cfg = lanConfig();
  const { maxMs } = suspicionTimeoutsMs(n, cfg.suspicionMult, cfg.suspicionMaxTimeoutMult, cfg.probeIntervalMs);
  return 2 * cfg.probeIntervalMs + maxMs + 2 * retransmitLimit(cfg.retransmitMult, n) * cfg.gossipIntervalMs;
}

const serfAlive = (s: ReturnType<typeof startSerf>, name: string): boolean => s.members().some((m) => m.name === name && m.status === 'alive');

test('swimd and serf agents form one cluster, in both join directions, with failure, leave and restart', async (t) => {
  const s1 = startSerf('s1', 24101, ['-tag', 'role=db']);
  const s2 = startSerf('s2', 24103);
  await waitFor(() => serfCommand(s1.rpc, ['members']).status === 0 && serfCommand(s2.rpc, ['members']).status === 0, 10_000, 'serf agents up');
  assert.equal(serfCommand(s2.rpc, ['join', s1.bind]).status, 0);
  let w1: SwimProc = startSwim('w1', ['--bind', '127.0.0.1:24111', '--join', s1.bind, '--tags', 'zone=a', '--tags', 'weight=2']);

  await t.test('swimd joins through a serf agent; serf lists it alive with its tags, swimd lists every agent', async () => {
    await waitFor(() => serfAlive(s1, 'w1') && serfAlive(s2, 'w1'), 20_000, 'serf sees w1');
    await waitFor(() => w1.stateOf('s1') === 'alive' && w1.stateOf('s2') === 'alive', 20_000, 'w1 sees s1 and s2');
    const seen = s2.members().find((m) => m.name === 'w1')!;
    assert.deepEqual(seen.tags, { zone: 'a', weight: '2' });
    assert.deepEqual(w1.status().members.find((m) => m.name === 's1')!.tags, { role: 'db' });
  });

  const s3 = startSerf('s3', 24105);
  await t.test('a serf agent joins through swimd', async () => {
    await waitFor(() => serfCommand(s3.rpc, ['join', '127.0.0.1:24111']).status === 0, 10_000, 'serf join via swimd');
    await waitFor(() => serfAlive(s3, 's1') && serfAlive(s3, 'w1') && serfAlive(s1, 's3'), 20_000, 's3 in the cluster');
    await waitFor(() => w1.stateOf('s3') === 'alive', 20_000, 'w1 sees s3');
  });

  await t.test('kill -9 of a serf agent: swimd declares it dead within its bound', async () => {
    const bound = lanDetectionBoundMs(4);
    const t0 = Date.now();
    s2.child.kill('SIGKILL');
    await waitFor(() => w1.stateOf('s2') === 'dead', bound + 5_000, 'w1 marks s2 dead');
    console.log(`# swimd declared the killed serf agent dead after ${Date.now() - t0} ms (bound ${bound} ms)`);
  });

  await t.test('serf leave: swimd records the member as left', async () => {
    assert.equal(serfCommand(s3.rpc, ['leave']).status, 0);
    await waitFor(() => w1.stateOf('s3') === 'left', 15_000, 'w1 marks s3 left');
  });

  await t.test('kill -9 of swimd: serf reports it failed; restarted under the same name it is alive again', async () => {
    w1.child.kill('SIGKILL');
    await waitFor(() => s1.members().find((m) => m.name === 'w1')?.status === 'failed', lanDetectionBoundMs(3) + 10_000, 's1 reports w1 failed');
    w1 = startSwim('w1', ['--bind', '127.0.0.1:24111', '--join', s1.bind]);
    await waitFor(() => serfAlive(s1, 'w1'), 30_000, 'w1 alive again on s1');
    await waitFor(() => w1.stateOf('s1') === 'alive', 10_000, 'restarted w1 sees s1');
  });
});

test('encryption: the same key joins, a different key is refused on both sides and counted', async () => {
  const key = Buffer.alloc(16, 7).toString('base64');
  const other = Buffer.alloc(16, 9).toString('base64');
  const s4 = startSerf('s4', 24121, ['-encrypt', key]);
  await waitFor(() => serfCommand(s4.rpc, ['members']).status === 0, 10_000, 'serf up');
  const good = startSwim('w-good', ['--bind', '127.0.0.1:24131', '--join', s4.bind, '--key', key]);
  await waitFor(() => serfAlive(s4, 'w-good') && good.stateOf('s4') === 'alive', 20_000, 'encrypted join');
  const bad = startSwim('w-bad', ['--bind', '127.0.0.1:24133', '--key', other]);
  await waitFor(() => good.stateOf('w-good') === 'alive' && bad.stateOf('w-bad') === 'alive', 10_000, 'w-bad up');
  // serf tries to join the wrongly keyed swimd: its encrypted stream cannot be opened.
  const r = serfCommand(s4.rpc, ['join', '127.0.0.1:24133']);
  assert.notEqual(r.status, 0, `serf join with a different key must fail: ${r.out}`);
  await waitFor(() => (bad.status().stats.drops['stream-decrypt-failed'] ?? 0) > 0, 10_000, 'rejected packets counted');
  assert.equal(bad.stateOf('s4'), undefined, 'w-bad never admitted s4');
  assert.ok(!s4.members().some((m) => m.name === 'w-bad'), 's4 never admitted w-bad');
});
