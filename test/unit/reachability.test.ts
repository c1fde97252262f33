// The per-member reachability rule on its own: when a TCP-only episode starts,
// that it is reported once, what ends it, and that entries go with reaped
// members; and what the start-up seed check says about which path failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CoreContext } from '../../src/core/context.js';
import type { MemberRecord } from '../../src/core/member.js';
import type { MemberTable } from '../../src/core/member-table.js';
import { Reachability } from '../../src/core/reachability.js';
import { newStats } from '../../src/core/stats.js';
import { lanConfig } from '../../src/config/presets.js';
import { ConfigError } from '../../src/config/errors.js';
import { parseDaemonConfig } from '../../src/config/daemon-config.js';
import type { Address } from '../../src/base/env.js';
import type { PathCheck } from '../../src/core/swim-node.js';
import { SeedCheck, seedCheckTimeoutMs, seedPathProblem } from '../../src/daemon/seed-check.js';

function record(name: string): MemberRecord {
  return { name, host: '10.0.0.2', port: 7946, addr: new Uint8Array([10, 0, 0, 2]), meta: new Uint8Array(0), incarnation: 1, state: 'alive', stateChangedAtMs: 0, vsn: [1, 5, 2, 2, 5, 4], changeSeq: 0, contacted: true, verified: null, snapshot: null };
}

function rig(afterProbes = 3) {
  let now = 0;
  const logs: { level: string; msg: string }[] = [];
  const members = new Map<string, MemberRecord>();
  const ctx = {
    cfg: { ...lanConfig(), udpBlockedAfterProbes: afterProbes },
    stats: newStats(),
    env: { scheduler: { nowMs: () => now, setTimer: () => ({ cancel() {} }) } },
    log: { isLevelEnabled: () => true, log: (level: string, msg: string) => logs.push({ level, msg }) },
  } as unknown as CoreContext;
  const table = { get: (n: string) => members.get(n) } as unknown as MemberTable;
  const reach = new Reachability(ctx, table);
  const add = (name: string): MemberRecord => {
    const m = record(name);
    members.set(name, m);
    return m;
  };
  return { reach, ctx, logs, members, add, advance: (ms: number) => (now += ms) };
}

test('an episode starts after the knob\'s count of consecutive TCP-only rounds, is warned about once, and ends at the next UDP ack', () => {
  const { reach, logs, add, advance } = rig(3);
  const m = add('b');
  reach.reachedOverTcpOnly(m);
  reach.reachedOverTcpOnly(m);
  // A round with no answer at all breaks the streak: that is a failing member, not a filter.
  reach.unreached(m);
  reach.reachedOverTcpOnly(m);
  reach.reachedOverTcpOnly(m);
  assert.equal(reach.tcpOnlyCount(), 0);
  assert.equal(logs.length, 0);
  advance(1000);
  reach.reachedOverTcpOnly(m);
  assert.equal(reach.tcpOnlyCount(), 1);
  assert.deepEqual(logs, [{ level: 'warn', msg: 'UDP to b 10.0.0.2:7946 appears blocked; it answers over TCP only' }]);
  assert.deepEqual(m.reach, { path: 'tcp', atMs: 1000 });
  for (let i = 0; i < 5; i++) reach.reachedOverTcpOnly(m);
  assert.equal(logs.length, 1, 'once per episode');
  advance(500);
  reach.reachedOverUdp(m, 'indirect');
  assert.equal(reach.tcpOnlyCount(), 0);
  assert.deepEqual(m.reach, { path: 'indirect', atMs: 1500 });
  assert.deepEqual(logs[1], { level: 'info', msg: 'UDP to b 10.0.0.2:7946 answers again (indirect)' });
  // A new episode needs a new streak.
  reach.reachedOverTcpOnly(m);
  reach.reachedOverTcpOnly(m);
  assert.equal(logs.length, 2);
  reach.reachedOverTcpOnly(m);
  assert.equal(logs.length, 3);
});

test('a dead member leaves the TCP-only count, a reaped one leaves the table, and a stale round for a replaced record is ignored', () => {
  const { reach, members, add } = rig(1);
  const a = add('a');
  const b = add('b');
  reach.reachedOverTcpOnly(a);
  reach.reachedOverTcpOnly(b);
  assert.equal(reach.tcpOnlyCount(), 2);
  b.state = 'dead';
  assert.equal(reach.tcpOnlyCount(), 1);
  members.delete('b');
  reach.forget('b');
  assert.equal(reach.size(), 1);
  // A round that started before `a` was reaped and re-added reports about the old record.
  const old = a;
  const fresh = add('a');
  reach.forget('a');
  reach.reachedOverTcpOnly(old);
  assert.equal(reach.size(), 0);
  assert.equal(fresh.reach, undefined);
});

test('swim.udpBlockedAfterProbes is read from the file, and a bad value names the field', () => {
  const q = 'node: { name: a }\npartitions: { quorum: 2 }\n';
  assert.equal(parseDaemonConfig(`${q}swim: { udpBlockedAfterProbes: 5 }\n`, 't.yaml').swim.udpBlockedAfterProbes, 5);
  assert.equal(parseDaemonConfig(q, 't.yaml').swim.udpBlockedAfterProbes, 3);
  try {
    parseDaemonConfig(`${q}swim: { udpBlockedAfterProbes: 0 }\n`, 't.yaml');
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.errors.map((e) => e.field), ['swim.udpBlockedAfterProbes']);
  }
});

test('the seed check warns about each seed, naming the failed path, only when no seed answers over both', async () => {
  const answers = new Map<string, PathCheck>([
    ['10.0.0.2:7946', { udp: true, tcp: false }],
    ['10.0.0.3:7946', { udp: false, tcp: false }],
    ['10.0.0.4:7946', { udp: true, tcp: true }],
  ]);
  const checker = { checkPath: (to: Address, _t: number, done: (r: PathCheck) => void) => setTimeout(() => done(answers.get(`${to.host}:${to.port}`)!), 1) };
  const run = async (hosts: string[]) => {
    const logs: { level: string; msg: string }[] = [];
    const check = new SeedCheck(checker, hosts.map((h) => ({ host: h, port: 7946 })), 1000, (level, _f, msg) => logs.push({ level, msg }));
    assert.equal(check.view().state, 'checking');
    const view = await check.done;
    return { view, warnings: logs.filter((l) => l.level === 'warn').map((l) => l.msg) };
  };
  const failed = await run(['10.0.0.2', '10.0.0.3']);
  assert.equal(failed.view.state, 'failed');
  assert.deepEqual(failed.warnings, ['seed 10.0.0.2:7946 answers over UDP but not TCP', 'seed 10.0.0.3:7946 answers over neither UDP nor TCP']);
  const ok = await run(['10.0.0.2', '10.0.0.4']);
  assert.equal(ok.view.state, 'ok');
  assert.deepEqual(ok.warnings, [], 'one seed answering over both is enough');
  assert.deepEqual(ok.view.seeds, [{ address: '10.0.0.2:7946', udp: true, tcp: false }, { address: '10.0.0.4:7946', udp: true, tcp: true }]);
  assert.equal(seedPathProblem('10.0.0.5:7946', { udp: false, tcp: true }), 'seed 10.0.0.5:7946 answers over TCP but not UDP');
  assert.equal((await new SeedCheck(checker, [], 1000, () => {}).done).state, 'none');
  assert.equal(seedCheckTimeoutMs({ tcpTimeoutMs: 10_000, probeIntervalMs: 1000 }), 5000);
});
