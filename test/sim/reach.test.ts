// Reachability per peer in virtual time: a member whose UDP is filtered both ways
// is reached over TCP only, reported as such once per observer, and never
// declared dead; when UDP comes back the path is direct again. The start-up path
// check tells which of UDP and TCP answers at an address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CoreLogger } from '../../src/base/env.js';
import { lanConfig } from '../../src/config/presets.js';
import { SimCluster } from '../../src/sim/cluster.js';
import type { PathCheck } from '../../src/core/swim-node.js';
import { simSeeds, withReplay } from './seeds.js';

const FILE = 'dist/test/sim/reach.test.js';
const seeds = simSeeds([1, 2]);

interface Logged {
  observer: string;
  level: string;
  msg: string;
}

function recordingCluster(seed: number, size: number): { c: SimCluster; logs: Logged[] } {
  const logs: Logged[] = [];
  const loggerOf = (observer: string): CoreLogger => ({
    isLevelEnabled: (level) => level === 'info' || level === 'warn' || level === 'error',
    log: (level, msg) => {
      if (level !== 'trace' && level !== 'debug') logs.push({ observer, level, msg });
    },
  });
  const c = new SimCluster({ seed, size, config: lanConfig(), loggerOf });
  c.startAll();
  c.joinAll();
  c.runUntil(() => c.converged(), 30_000, 100, 'initial convergence');
  return { c, logs };
}

for (const seed of seeds) {
  test(`a member with UDP blocked both ways is reached over TCP only, warned about once per observer, and never declared dead (seed ${seed})`, () =>
    withReplay(FILE, seed, () => {
      const { c, logs } = recordingCluster(seed, 5);
      const blocked = c.member('m2');
      const others = c.members.filter((m) => m !== blocked);
      // Before the fault every member's answered probes of m2 are direct ones (a shuffled probe order may take two rounds to reach it).
      c.runUntil(() => others.every((o) => o.node.member('m2')?.reach != null), 4 * 5 * 1000, 100, 'every member probed m2');
      for (const o of others) assert.equal(o.node.member('m2')?.reach?.path, 'direct', `${o.name} reached m2 directly before the fault`);
      const t0 = c.nowMs();
      const logsBefore = logs.length;
      c.network.blockDatagrams([blocked.address], others.map((m) => m.address));
      c.network.blockDatagrams(others.map((m) => m.address), [blocked.address]);
      c.run(60_000);
      const deadOrSuspect = c.events.filter((e) => e.atMs >= t0 && (e.ev.kind === 'dead' || e.ev.kind === 'suspect'));
      assert.deepEqual(deadOrSuspect.map((e) => `${e.observer}: ${e.ev.kind} ${e.ev.member.name}`), [], 'nobody is suspected or declared dead');
      assert.ok(c.converged(), 'every member still sees every member alive');
      const warnings = logs.slice(logsBefore).filter((l) => l.level === 'warn' && l.msg.includes('appears blocked'));
      for (const o of others) {
        const seen = o.node.member('m2')!;
        assert.equal(seen.reach?.path, 'tcp', `${o.name} reaches m2 over TCP only`);
        assert.ok(c.nowMs() - seen.reach!.atMs < 10_000, `${o.name} reached m2 recently`);
        assert.equal(o.node.tcpOnlyMembers(), 1, `${o.name} counts one TCP-only member`);
        const mine = warnings.filter((w) => w.observer === o.name);
        assert.equal(mine.length, 1, `${o.name} warned once`);
        assert.equal(mine[0]!.msg, `UDP to m2 ${blocked.address.host}:7946 appears blocked; it answers over TCP only`);
        assert.ok(o.node.stats.tcpOnlyProbes >= 3, `${o.name} had TCP-only probe rounds`);
      }
      // The blocked member sees the same from its side: everyone answers over TCP only.
      for (const o of others) assert.equal(blocked.node.member(o.name)?.reach?.path, 'tcp', `m2 reaches ${o.name} over TCP only`);
      assert.equal(blocked.node.tcpOnlyMembers(), others.length);
      assert.equal(warnings.filter((w) => w.observer === 'm2').length, others.length, 'm2 warned once about each member');
      assert.equal(warnings.length, 2 * others.length, 'no other warnings');

      // UDP comes back: direct again, the episode ends with one info line per pair.
      const t1 = c.nowMs();
      const logsHealed = logs.length;
      c.heal();
      c.runUntil(() => others.every((o) => o.node.member('m2')?.reach?.path === 'direct') && others.every((o) => blocked.node.member(o.name)?.reach?.path === 'direct'), 30_000, 100, 'direct paths again');
      c.run(5_000);
      for (const o of others) assert.equal(o.node.tcpOnlyMembers(), 0, `${o.name} counts no TCP-only member`);
      assert.equal(blocked.node.tcpOnlyMembers(), 0);
      const backAgain = logs.slice(logsHealed).filter((l) => l.level === 'info' && l.msg.includes('answers again'));
      assert.equal(backAgain.length, 2 * others.length, 'each episode ended once');
      assert.deepEqual(c.events.filter((e) => e.atMs >= t1 && (e.ev.kind === 'dead' || e.ev.kind === 'suspect')).length, 0);
    }));
}

test('with TCP pings disabled the same filter gets the member declared dead (the fallback is what keeps it alive)', () =>
  withReplay(FILE, 1, () => {
    const c = new SimCluster({ seed: 1, size: 5, config: { ...lanConfig(), disableTcpPings: true } });
    c.startAll();
    c.joinAll();
    c.runUntil(() => c.converged(), 30_000, 100, 'initial convergence');
    const blocked = c.member('m2');
    const others = c.members.filter((m) => m !== blocked);
    c.network.blockDatagrams([blocked.address], others.map((m) => m.address));
    c.network.blockDatagrams(others.map((m) => m.address), [blocked.address]);
    c.runUntil(() => others.some((o) => o.node.member('m2')?.state === 'dead'), 60_000, 100, 'death of the filtered member');
  }));

test('the warning is rate-limited over all members, and counted when held back', () =>
  withReplay(FILE, 3, () => {
    const { c, logs } = recordingCluster(3, 14);
    c.run(5_000);
    const observer = c.member('m0');
    const rest = c.members.filter((m) => m !== observer);
    c.network.blockDatagrams([observer.address], rest.map((m) => m.address));
    c.network.blockDatagrams(rest.map((m) => m.address), [observer.address]);
    // 13 peers, each probed about every 13 s: every episode starts within the first minute.
    c.run(50_000);
    const warned = logs.filter((l) => l.observer === 'm0' && l.level === 'warn' && l.msg.includes('appears blocked'));
    assert.equal(observer.node.tcpOnlyMembers(), 13);
    assert.equal(warned.length, 10, 'ten warnings a minute at most');
    assert.equal(observer.node.stats.udpBlockedWarnings, 10);
    assert.equal(observer.node.stats.udpBlockedWarningsSuppressed, 3);
  }));

test('the path check tells which of UDP and TCP answers at an address, within its time', () =>
  withReplay(FILE, 4, () => {
    const c = new SimCluster({ seed: 4, size: 4, config: lanConfig() });
    c.startAll();
    const [me, udpOnly, tcpOnly, both] = c.members as [typeof c.members[0], typeof c.members[0], typeof c.members[0], typeof c.members[0]];
    c.network.blockStreams([me.address], [udpOnly.address]);
    c.network.blockDatagrams([me.address], [tcpOnly.address]);
    const results = new Map<string, { r: PathCheck; tookMs: number }>();
    const t0 = c.nowMs();
    for (const target of [udpOnly, tcpOnly, both]) me.node.checkPath(target.address, 2000, (r) => results.set(target.name, { r, tookMs: c.nowMs() - t0 }));
    // An address nobody listens on answers neither.
    me.node.checkPath({ host: '10.9.9.9', port: 7946 }, 2000, (r) => results.set('nobody', { r, tookMs: c.nowMs() - t0 }));
    c.run(2_500);
    assert.deepEqual(results.get(udpOnly.name)?.r, { udp: true, tcp: false });
    assert.deepEqual(results.get(tcpOnly.name)?.r, { udp: false, tcp: true });
    assert.deepEqual(results.get(both.name)?.r, { udp: true, tcp: true });
    assert.deepEqual(results.get('nobody')?.r, { udp: false, tcp: false });
    for (const [name, { tookMs }] of results) assert.ok(tookMs <= 2000 + 5, `${name} check done in ${tookMs} ms`);
  }));

test('an ack relayed by a helper after UDP between two members is cut is recorded as indirect', () =>
  withReplay(FILE, 5, () => {
    const { c } = recordingCluster(5, 5);
    c.run(5_000);
    const [a, b] = [c.member('m0'), c.member('m1')];
    c.network.blockDatagrams([a.address], [b.address]);
    c.network.blockDatagrams([b.address], [a.address]);
    c.runUntil(() => a.node.member('m1')?.reach?.path === 'indirect', 30_000, 100, 'indirect path from m0 to m1');
    assert.equal(a.node.member('m1')?.state, 'alive');
    // Other members still reach m1 directly.
    assert.equal(c.member('m2').node.member('m1')?.reach?.path, 'direct');
    assert.equal(a.node.tcpOnlyMembers(), 0, 'relayed UDP is not TCP only');
  }));

test('a firewall that rejects datagrams (port unreachable) but passes TCP is a TCP-only path too, not a crash', () =>
  withReplay(FILE, 6, () => {
    const { c, logs } = recordingCluster(6, 5);
    c.run(5_000);
    const blocked = c.member('m3');
    const others = c.members.filter((m) => m !== blocked);
    const t0 = c.nowMs();
    c.network.rejectDatagramsTo(blocked.address);
    c.run(60_000);
    assert.deepEqual(c.events.filter((e) => e.atMs >= t0 && (e.ev.kind === 'dead' || e.ev.kind === 'suspect')).map((e) => `${e.observer}: ${e.ev.kind} ${e.ev.member.name}`), []);
    for (const o of others) {
      assert.equal(o.node.member('m3')?.reach?.path, 'tcp', `${o.name} reaches m3 over TCP only`);
      assert.equal(logs.filter((l) => l.observer === o.name && l.msg.startsWith('UDP to m3 ')).length, 1, `${o.name} warned once`);
    }
  }));
