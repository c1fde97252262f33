// Real daemons on separate (namespaced) hosts under loss, pauses, partitions and
// kills. Durations can be shortened for a quick local run with
// SWIMD_FAULT_LOSS_S and SWIMD_FAULT_PAUSE_CYCLES; CI runs the full ones.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { killAll, sleep, waitFor } from '../../harness/procs.js';
import { TestHosts } from '../../harness/hosts.js';
import { FaultCluster, type HostDaemon } from '../../harness/fault-cluster.js';

const HOSTS = 16;
const LOSS_S = Number(process.env.SWIMD_FAULT_LOSS_S ?? 300);
const PAUSE_CYCLES = Number(process.env.SWIMD_FAULT_PAUSE_CYCLES ?? 3);
const QUORUM = 9;

const hosts = TestHosts.create(HOSTS);
const cluster = new FaultCluster(hosts, { quorum: QUORUM, partitions: 64 });
after(() => {
  cluster.killAll();
  killAll();
  hosts.destroy();
});

/** A toy storage service: per partition it keeps the highest token accepted and rejects lower ones. */
class ToyStorage {
  private readonly highest = new Map<number, number>();
  readonly accepted: { partition: number; writer: string; token: number }[] = [];
  readonly rejected: { partition: number; writer: string; token: number }[] = [];
  write(partition: number, writer: string, token: number): boolean {
    const h = this.highest.get(partition) ?? -1;
    if (token < h) {
      this.rejected.push({ partition, writer, token });
      return false;
    }
    this.highest.set(partition, token);
    this.accepted.push({ partition, writer, token });
    return true;
  }
}

/**
 * Each candidate's application writes to the partition only while its own daemon
 * names it primary (with quorum); resolves once one such write is accepted.
 */
async function untilNewPrimaryWrites(storage: ToyStorage, partition: number, candidates: HostDaemon[], oldToken: number, what: string): Promise<void> {
  let wrote = false;
  let seen = '';
  await waitFor(async () => {
    seen = '';
    for (const d of candidates) {
      const p = await d.client.partition(partition);
      seen += ` ${d.name}:${p.primary}/${p.token}/${p.quorum}`;
      if (p.primary === d.name && p.quorum === 'ok') wrote = storage.write(p.id, d.name, p.token) || wrote;
    }
    return wrote;
  }, 40_000, what, 250).catch((err: Error) => {
    throw new Error(`${err.message}; old primary's token ${oldToken}; last seen:${seen}`);
  });
}

test('a 16-host cluster forms across namespaces', async () => {
  cluster.startAll();
  await waitFor(() => cluster.agree(cluster.daemons, cluster.names()), 60_000, 'all 16 hosts agree', 500);
  cluster.watchAll();
  await waitFor(() => new Set(cluster.events.filter((e) => e.line.type === 'snapshot').map((e) => e.observer)).size === HOSTS, 20_000, 'every watch stream open');
  // Each primary holds a quorum-granted epoch once its claim round is answered.
  await waitFor(async () => {
    for (const d of cluster.daemons) {
      const p = await d.client.partitions();
      if (p.quorum !== 'ok' || !p.partitions.every((x) => x.primary !== null)) return false;
    }
    return true;
  }, 20_000, 'every partition owned, seen from every host', 250);
});

test(`10 % loss on every host for ${LOSS_S} s: no healthy member is ever declared dead`, async () => {
  const t0 = Date.now();
  for (let i = 0; i < HOSTS; i++) hosts.setLoss(i, 10);
  assert.ok(Array.from({ length: HOSTS }, (_, i) => hosts.ruleCount(i)).every((n) => n === 1), 'loss rules in place');
  await sleep(LOSS_S * 1000);
  hosts.healAll();
  const deaths = cluster.memberEvents('dead', t0);
  const suspicions = cluster.memberEvents('suspect', t0);
  console.log(`# loss: ${suspicions.length} suspicions, ${deaths.length} deaths over ${LOSS_S} s`);
  assert.deepEqual(deaths, []);
  await waitFor(() => cluster.agree(cluster.daemons, cluster.names()), 30_000, 'all alive after the loss', 500);
});

test(`one host paused 2 s every 20 s (${PAUSE_CYCLES} times): no other member is ever declared dead`, async () => {
  const t0 = Date.now();
  const paused = cluster.daemons[5]!;
  for (let c = 0; c < PAUSE_CYCLES; c++) {
    paused.child.kill('SIGSTOP');
    await sleep(2000);
    paused.child.kill('SIGCONT');
    await sleep(18_000);
  }
  const falseDeaths = cluster.memberEvents('dead', t0).filter((e) => e.member !== paused.name);
  console.log(`# pause: ${cluster.memberEvents('suspect', t0).length} suspicions; deaths of the paused host: ${cluster.memberEvents('dead', t0).length - falseDeaths.length}`);
  assert.deepEqual(falseDeaths, []);
  await waitFor(() => cluster.agree(cluster.daemons, cluster.names()), 30_000, 'all alive after the pauses', 500);
});

test('an 8|8 partition for 30 s: each side marks the other dead, neither claims primaries (quorum 9), all agree within 5 s of the heal with higher tokens', async () => {
  const before = await cluster.daemons[0]!.client.partitions();
  const a = cluster.daemons.slice(0, 8);
  const b = cluster.daemons.slice(8);
  hosts.partition(a.map((d) => d.index), b.map((d) => d.index));
  const sideSeesOtherDead = async (side: HostDaemon[], other: HostDaemon[]): Promise<boolean> => {
    for (const d of side) {
      const ms = await d.client.members();
      if (!other.every((o) => ms.find((m) => m.name === o.name)?.state === 'dead')) return false;
    }
    return true;
  };
  await waitFor(async () => (await sideSeesOtherDead(a, b)) && (await sideSeesOtherDead(b, a)), 30_000, 'both sides mark the other dead', 500);
  for (const d of cluster.daemons) {
    const p = await d.client.partitions();
    assert.equal(p.quorum, 'no-quorum', `${d.name} keeps quorum with 8 of 16`);
    assert.ok(p.partitions.every((x) => x.primary === null), `${d.name} claims a primary without quorum`);
  }
  hosts.healAll();
  const healedAt = Date.now();
  await waitFor(() => cluster.agree(cluster.daemons, cluster.names()), 5_000, 'agreement within 5 s of the heal', 100);
  const tables = await Promise.all(cluster.daemons.map(async (d) => JSON.stringify((await d.client.partitions()).partitions.map((p) => p.primary))));
  console.log(`# partition healed: members agree after ${Date.now() - healedAt} ms`);
  await waitFor(async () => {
    const t = await Promise.all(cluster.daemons.map(async (d) => JSON.stringify((await d.client.partitions()).partitions.map((p) => p.primary))));
    return t.every((x) => x === t[0]) && !t[0]!.includes('null');
  }, 5_000, 'same partition table everywhere, every partition owned', 100);
  void tables;
  const after = await cluster.daemons[0]!.client.partitions();
  assert.equal(after.quorum, 'ok');
  // Both sides dropped their holds without quorum, so every partition was granted anew.
  for (const p of after.partitions) assert.ok(p.token > before.partitions[p.id]!.token, `partition ${p.id}: token ${p.token} after the split, ${before.partitions[p.id]!.token} before`);
});

test('kill -9 of a primary: survivors move its partitions with larger tokens; storage never accepts the ex-primary after the new primary writes', async () => {
  const storage = new ToyStorage();
  const victim = cluster.daemons[9]!;
  const survivors = cluster.daemons.filter((d) => d !== victim);
  const table = await survivors[0]!.client.partitions();
  const partition = table.partitions.find((p) => p.primary === victim.name)!;
  assert.ok(partition, 'the victim is primary of some partition');
  const staleToken = (await victim.client.partition(partition.id)).token;
  assert.ok(storage.write(partition.id, victim.name, staleToken), 'the primary writes before it dies');
  const killedAt = Date.now();
  victim.child.kill('SIGKILL');
  await untilNewPrimaryWrites(storage, partition.id, survivors, staleToken, 'a new primary writes');
  // The dead primary's application (it does not know it was replaced) retries with its token.
  assert.equal(storage.write(partition.id, victim.name, staleToken), false, 'the ex-primary is fenced off');
  const movedLines = () => cluster.events.filter((e) => e.atMs >= killedAt && e.line.type === 'partitions' && e.line.changed.some((c) => c.id === partition.id && c.oldPrimary === victim.name));
  // The first survivor to declare the death may write before the news has
  // reached every other survivor: wait for the dissemination, bounded.
  await waitFor(() => new Set(movedLines().map((e) => e.observer)).size === survivors.length, 15_000, 'every survivor’s watch stream shows the move', 250).catch((err: Error) => {
    const seen = new Set(movedLines().map((e) => e.observer));
    throw new Error(`${err.message}; missing: ${survivors.filter((d) => !seen.has(d.name)).map((d) => d.name).join(', ')}`);
  });
  const moved = movedLines();
  for (const e of moved) {
    if (e.line.type !== 'partitions') continue;
    // A survivor first stops naming the dead member (same token), then names the new owner with its higher epoch.
    for (const c of e.line.changed) if (c.id === partition.id && c.newPrimary !== null) assert.ok(c.token > staleToken, `new owner ${c.newPrimary} has token ${c.token}, the dead one had ${staleToken}`);
  }
  assert.ok(storage.accepted.filter((w) => w.writer === victim.name).every((w) => w.token === staleToken));
});

test('a paused primary that resumes believing it is still primary is fenced off', async () => {
  const storage = new ToyStorage();
  const alive = cluster.daemons.filter((d) => d.child.exitCode === null && d.child.signalCode === null);
  const victim = alive[2]!;
  const others = alive.filter((d) => d !== victim);
  const table = await others[0]!.client.partitions();
  const partition = table.partitions.find((p) => p.primary === victim.name);
  assert.ok(partition, 'the victim is primary of some partition');
  const token = (await victim.client.partition(partition.id)).token;
  assert.ok(storage.write(partition.id, victim.name, token));
  victim.child.kill('SIGSTOP');
  try {
    await untilNewPrimaryWrites(storage, partition.id, others, token, 'a new primary writes while the old one is paused');
  } finally {
    victim.child.kill('SIGCONT');
  }
  assert.equal(storage.write(partition.id, victim.name, token), false, 'the resumed ex-primary is fenced off');
  await waitFor(() => cluster.agree(alive, alive.map((d) => d.name)), 30_000, 'the paused member refutes and is alive again', 500);
});
