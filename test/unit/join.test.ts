import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Address } from '../../src/base/env.js';
import { parseDaemonConfig } from '../../src/config/daemon-config.js';
import { ConfigError } from '../../src/config/errors.js';
import { familyOfBind, JoinRetry, resolveAddressOnce, resolveSeeds, retryDelayMs, ResolveError, type JoinRetryDeps, type Lookup } from '../../src/daemon/join-resolver.js';
import { MemberSnapshotWriter, parseSnapshot, readSnapshot, rejoinAddresses, SNAPSHOT_FILE, type SnapshotMember } from '../../src/daemon/member-snapshot.js';
import { isSerfAgent, SerfLeave } from '../../src/daemon/serf-leave.js';
import { decodeSerfIntent, encodeSerfLeaveIntent } from '../../src/wire/serf-intent.js';
import { encodeTags } from '../../src/wire/serf-tags.js';

const Q = 'partitions: { quorum: 2 }\n';

function errorsOf(text: string): string[] {
  try {
    parseDaemonConfig(text, 'test.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message.split('\n').slice(1).map((l) => l.trim());
  }
  assert.fail('expected a ConfigError');
}

test('config: host names in join, node.bind and node.advertise are kept unresolved; bad ones name the field', () => {
  const cfg = parseDaemonConfig('node: { name: a, bind: "swimd-0.local:7000", advertise: pod.ns.svc.cluster.local:7000 }\njoin: ["db-0.svc:7946", 10.0.0.1:7946, localhost, "[::1]:9"]\n' + Q, 't.yaml');
  assert.deepEqual(cfg.node.bind, { host: 'swimd-0.local', port: 7000 });
  assert.deepEqual(cfg.node.advertise, { host: 'pod.ns.svc.cluster.local', port: 7000 });
  assert.deepEqual(cfg.join, [{ host: 'db-0.svc', port: 7946 }, { host: '10.0.0.1', port: 7946 }, { host: 'localhost', port: 7946 }, { host: '::1', port: 9 }]);
  assert.deepEqual(cfg.joinRetry, { intervalMs: 1000, max: 10 }, 'the list form keeps the default retry');

  const errs = errorsOf('node: { name: a, bind: "bad_host:1" }\njoin: [ok.example:1, "db 0.svc:7946", "x.svc:99999", "-lead.svc:1", 5]\n' + Q);
  assert.ok(errs.some((e) => e.startsWith('node.bind: expected host:port') && e.endsWith('got "bad_host:1"')), errs.join(' | '));
  assert.ok(errs.some((e) => e.startsWith('join[1]: expected host:port') && e.endsWith('got "db 0.svc:7946"')), errs.join(' | '));
  assert.ok(errs.some((e) => e.startsWith('join[2]: port out of range')), errs.join(' | '));
  assert.ok(errs.some((e) => e.startsWith('join[3]: expected host:port')), errs.join(' | '));
  assert.ok(errs.some((e) => e.startsWith('join[4]: expected an address')), errs.join(' | '));
  assert.ok(!errs.some((e) => e.startsWith('join[0]')), 'a good name is accepted');
});

test('config: join as a mapping with seeds and retry knobs; its errors name join.*', () => {
  const cfg = parseDaemonConfig('node: { name: a }\njoin: { seeds: [swimd.default.svc:7946], retryInterval: 500ms, retryMax: 3 }\n' + Q, 't.yaml');
  assert.deepEqual(cfg.join, [{ host: 'swimd.default.svc', port: 7946 }]);
  assert.deepEqual(cfg.joinRetry, { intervalMs: 500, max: 3 });
  const noSeeds = parseDaemonConfig('node: { name: a }\njoin: { retryMax: 2 }\n' + Q, 't.yaml');
  assert.deepEqual(noSeeds.join, []);
  const errs = errorsOf('node: { name: a }\njoin: { seeds: ["a b:1"], retryInterval: soon, retryMax: 0, every: 1s }\n' + Q);
  for (const f of ['join.seeds[0]: expected host:port', 'join.retryInterval: expected a duration', 'join.retryMax: expected an integer from 1', 'join.every: unknown key']) {
    assert.ok(errs.some((e) => e.startsWith(f)), `${f} in ${errs.join(' | ')}`);
  }
  assert.ok(errorsOf('node: { name: a }\njoin: 7946\n' + Q).some((e) => e.startsWith('join: expected a list of addresses')));
});

/** A fake resolver: a table of names, answers that can change, and a log of lookups. */
function fakeLookup(table: Record<string, string[] | Error>): Lookup & { calls: string[]; table: typeof table } {
  const calls: string[] = [];
  const fn = (async (name: string) => {
    calls.push(name);
    const v = table[name];
    if (v === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    if (v instanceof Error) throw v;
    return v.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  }) as unknown as Lookup & { calls: string[]; table: typeof table };
  fn.calls = calls;
  fn.table = table;
  return fn;
}

test('resolveSeeds: every address of a name, IPv6 only where the socket can use it, at most 64 per name, failures reported', async () => {
  const many = Array.from({ length: 100 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
  const lookup = fakeLookup({ 'svc.local': ['10.0.0.1', '10.0.0.2', 'fd00::3', '10.0.0.1'], localhost: ['127.0.0.1', '::1'], big: many });
  const seeds: Address[] = [{ host: '192.0.2.9', port: 1 }, { host: 'svc.local', port: 7946 }, { host: 'gone.local', port: 7946 }, { host: 'localhost', port: 5 }, { host: '::1', port: 6 }];
  const r4 = await resolveSeeds(seeds, lookup, 4);
  assert.deepEqual(r4.addresses.map((a) => `${a.host}:${a.port}`), ['192.0.2.9:1', '10.0.0.1:7946', '10.0.0.2:7946', '127.0.0.1:5']);
  assert.deepEqual(r4.skipped.sort(), ['[::1]:5', '[::1]:6', '[fd00::3]:7946'], 'a udp4 socket cannot send to IPv6: skipped, names and literals alike');
  const r6 = await resolveSeeds(seeds, lookup, 6);
  assert.deepEqual(r6.addresses.map((a) => `${a.host}:${a.port}`), ['fd00::3:7946', '::1:5', '::1:6']);
  assert.deepEqual(r4.failures, [{ name: 'gone.local:7946', error: 'ENOTFOUND' }]);
  assert.ok(!lookup.calls.includes('192.0.2.9'), 'IP literals are not looked up');
  assert.deepEqual([familyOfBind('0.0.0.0'), familyOfBind('127.0.0.1'), familyOfBind('::'), familyOfBind('::1')], [4, 4, 6, 6]);
  const any = await resolveSeeds([{ host: 'localhost', port: 5 }], lookup, 'any');
  assert.deepEqual(any.addresses, [{ host: '127.0.0.1', port: 5 }, { host: '::1', port: 5 }]);
  const capped = await resolveSeeds([{ host: 'big', port: 1 }], lookup, 4);
  assert.equal(capped.addresses.length, 64);
  assert.equal(capped.skipped.length, 36);
});

test('resolveAddressOnce: a bind name resolves to its IPv4 address; an unknown name names the field', async () => {
  const lookup = fakeLookup({ localhost: ['::1', '127.0.0.1'], v6only: ['fd00::1'] });
  assert.deepEqual(await resolveAddressOnce({ host: 'localhost', port: 7 }, 'node.bind', lookup), { host: '127.0.0.1', port: 7 });
  assert.deepEqual(await resolveAddressOnce({ host: 'v6only', port: 7 }, 'node.bind', lookup), { host: 'fd00::1', port: 7 });
  assert.deepEqual(await resolveAddressOnce({ host: '10.0.0.1', port: 7 }, 'node.bind', lookup), { host: '10.0.0.1', port: 7 });
  await assert.rejects(resolveAddressOnce({ host: 'nope.invalid', port: 7 }, 'node.advertise', lookup), (e: unknown) => e instanceof ResolveError && e.code === 'ADDRESS_UNRESOLVED' && /^node\.advertise: "nope\.invalid:7" does not resolve \(ENOTFOUND\)/.test(e.message));
});

/** JoinRetry over fakes: joins answer from a set of reachable addresses; timers fire when the test says. */
function harness(over: Partial<JoinRetryDeps> & { reachable: Set<string>; lookup: Lookup }) {
  const joined: string[][] = [];
  const timers: { ms: number; fn: () => void }[] = [];
  const seedsSet: string[][] = [];
  const logs: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  let alive = 0;
  const deps: JoinRetryDeps = {
    seeds: [],
    family: 4,
    retryIntervalMs: 100,
    retryMax: 4,
    join: async (addresses) => {
      const keys = addresses.map((a) => `${a.host}:${a.port}`);
      joined.push(keys);
      const contacted = keys.filter((k) => over.reachable.has(k)).length;
      return { contacted, error: contacted > 0 ? null : 'connect ECONNREFUSED' };
    },
    setSeeds: (a) => seedsSet.push(a.map((x) => `${x.host}:${x.port}`)),
    fallback: () => [],
    aliveOthers: () => alive,
    setTimer: (ms, fn) => {
      const t = { ms, fn };
      timers.push(t);
      return () => {
        const i = timers.indexOf(t);
        if (i >= 0) timers.splice(i, 1);
      };
    },
    log: (level, msg, fields) => logs.push({ level, msg, fields }),
    ...over,
  };
  const jr = new JoinRetry(deps);
  const settleTick = () => new Promise((r) => setImmediate(r));
  return {
    jr,
    joined,
    timers,
    seedsSet,
    logs,
    setAlive: (n: number) => (alive = n),
    /** Fires the pending retry timer and lets the attempt run. */
    async fire(): Promise<number> {
      const t = timers.shift();
      assert.ok(t, 'a retry is pending');
      t.fn();
      for (let i = 0; i < 5; i++) await settleTick();
      return t.ms;
    },
    settleTick,
  };
}

test('JoinRetry: a name with several addresses is joined at all of them; one unreachable address does not fail the join', async () => {
  const lookup = fakeLookup({ 'swimd.svc': ['10.0.0.1', '10.0.0.2', '10.0.0.3'] });
  const h = harness({ lookup, reachable: new Set(['10.0.0.2:7946']), seeds: [{ host: 'swimd.svc', port: 7946 }] });
  h.jr.start();
  const st = await h.jr.settled;
  assert.equal(st.state, 'joined');
  assert.equal(st.via, 'seeds');
  assert.deepEqual(h.joined, [['10.0.0.1:7946', '10.0.0.2:7946', '10.0.0.3:7946']]);
  assert.deepEqual(h.seedsSet.at(-1), ['10.0.0.1:7946', '10.0.0.2:7946', '10.0.0.3:7946'], 'the reconnect loop gets the resolved seeds');
  assert.equal(h.timers.length, 0, 'no retry after a join');
  const attemptLog = h.logs.find((l) => l.msg === 'joining seeds')!;
  assert.deepEqual(attemptLog.fields.seeds, ['swimd.svc:7946']);
  assert.deepEqual(attemptLog.fields.addresses, ['10.0.0.1:7946', '10.0.0.2:7946', '10.0.0.3:7946']);
});

test('JoinRetry: a name that does not resolve at first is retried with a doubling delay and resolved again each time', async () => {
  const lookup = fakeLookup({});
  const h = harness({ lookup, reachable: new Set(['10.0.0.7:7946']), seeds: [{ host: 'late.svc', port: 7946 }], retryMax: 6 });
  h.jr.start();
  await h.settleTick();
  assert.equal(h.jr.status().state, 'retrying');
  assert.match(h.jr.status().reason!, /late\.svc:7946: ENOTFOUND/);
  assert.equal(await h.fire(), 100);
  assert.equal(h.jr.status().state, 'retrying');
  // The service now has a pod.
  lookup.table['late.svc'] = ['10.0.0.7'];
  assert.equal(await h.fire(), 200);
  const st = await h.jr.settled;
  assert.equal(st.state, 'joined');
  assert.equal(st.attempts, 3);
  assert.deepEqual(lookup.calls, ['late.svc', 'late.svc', 'late.svc'], 'resolved on every attempt');
  assert.deepEqual(h.joined, [['10.0.0.7:7946']], 'nothing to join until the name resolved');
  assert.deepEqual(h.logs.filter((l) => l.level === 'warn').map((l) => l.fields.retryInMs), [100, 200]);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(100, n)), [100, 200, 400, 800, 800, 800], 'doubling, capped at 8 × interval');
});

test('JoinRetry: after retryMax attempts reach nobody, it stops and reports failed with the reason; the reconnect loop may still join later', async () => {
  const lookup = fakeLookup({ 'db.svc': ['10.0.0.1'] });
  const h = harness({ lookup, reachable: new Set(), seeds: [{ host: 'db.svc', port: 7946 }], retryMax: 3 });
  h.jr.start();
  await h.settleTick();
  await h.fire();
  await h.fire();
  const st = await h.jr.settled;
  assert.equal(st.state, 'failed');
  assert.equal(st.attempts, 3);
  assert.match(st.reason!, /no seed answered \(connect ECONNREFUSED\)/);
  assert.equal(h.timers.length, 0, 'no attempt after retryMax');
  assert.equal(h.joined.length, 3);
  assert.equal(h.logs.at(-1)!.level, 'warn');
  h.setAlive(1);
  assert.equal(h.jr.status().state, 'joined', 'a member brought in later by the reconnect loop counts as joined');
});

test('JoinRetry: seeds that fail fall back to the snapshot addresses; only-self seeds and no seeds at all are "alone", not failures', async () => {
  const lookup = fakeLookup({});
  const h = harness({ lookup, reachable: new Set(['10.0.0.9:7946']), seeds: [{ host: '10.0.0.1', port: 7946 }], fallback: () => [{ host: '10.0.0.9', port: 7946 }] });
  h.jr.start();
  const st = await h.jr.settled;
  assert.equal(st.state, 'joined');
  assert.equal(st.via, 'snapshot');
  assert.deepEqual(h.joined, [['10.0.0.1:7946'], ['10.0.0.9:7946']]);

  const self = harness({ lookup, reachable: new Set(), seeds: [{ host: '10.0.0.1', port: 7946 }], join: async () => ({ contacted: 0, error: null }) });
  self.jr.start();
  assert.equal((await self.jr.settled).state, 'alone');
  const none = harness({ lookup, reachable: new Set() });
  none.jr.start();
  assert.equal((await none.jr.settled).state, 'alone');
  assert.equal(none.joined.length, 0);
});

const M = (name: string, host: string, port: number, state: SnapshotMember['state']): SnapshotMember => ({ name, host, port, state });

test('member snapshot: written atomically and read back; rejoin order alive first; a leave mark means no rejoin; corrupt files are ignored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'swimd-snap-'));
  const members = [M('self', '127.0.0.1', 1, 'alive'), M('c', '127.0.0.1', 4, 'dead'), M('b', '127.0.0.1', 3, 'alive'), M('d', '127.0.0.1', 5, 'left'), M('a', '127.0.0.1', 2, 'suspect')];
  const logs: string[] = [];
  const w = new MemberSnapshotWriter({ dir, selfName: 'self', members: () => members, serfLamportTime: () => 41, log: (_l, msg) => logs.push(msg) }, null);
  await w.flush();
  assert.ok(!existsSync(join(dir, `${SNAPSHOT_FILE}.tmp`)), 'the temporary file was renamed');
  const { content, problem } = readSnapshot(dir);
  assert.equal(problem, null);
  assert.equal(content!.left, false);
  assert.equal(content!.serfLamportTime, 41);
  assert.deepEqual(content!.members.map((m) => m.name), ['b', 'a', 'c', 'd'], 'self is not kept; alive first');
  assert.deepEqual(rejoinAddresses(content).map((a) => a.port), [3, 2, 4], 'alive, suspect, dead; never a member that left');
  await w.recordLeave();
  w.joined();
  await w.flush();
  const after = readSnapshot(dir).content!;
  assert.equal(after.left, true);
  assert.equal(after.left, true, 'a member joining during the leave does not undo it');
  assert.deepEqual(rejoinAddresses(after), [], 'after swimd leave: nothing to rejoin');
  // Joining again clears the mark at the next write.
  const w2 = new MemberSnapshotWriter({ dir, selfName: 'self', members: () => members, serfLamportTime: () => 41, log: () => {} }, after);
  await w2.flush();
  assert.equal(readSnapshot(dir).content!.left, true, 'the mark carries over until the member joins');
  w2.joined();
  await w2.flush();
  assert.equal(readSnapshot(dir).content!.left, false);

  for (const bad of ['{"version":1,"left":false,"members":[{"name":"x","host":"h","port":70000,"state":"alive"}]}', 'not json', '{"version":2}', '[]', '{"version":1,"left":"no","members":[]}']) {
    writeFileSync(join(dir, SNAPSHOT_FILE), bad);
    const r = readSnapshot(dir);
    assert.equal(r.content, null, bad);
    assert.ok(r.problem && r.problem.includes(SNAPSHOT_FILE), bad);
  }
  // Writes queued back to back do not overlap; the last one holds the latest membership.
  const live = [M('x', '127.0.0.1', 9, 'alive')];
  const w3 = new MemberSnapshotWriter({ dir, selfName: 'self', members: () => live, serfLamportTime: () => 0, log: () => {} }, null);
  const p1 = w3.flush();
  live.push(M('y', '127.0.0.1', 10, 'alive'));
  const p2 = w3.flush();
  await Promise.all([p1, p2]);
  assert.equal(w3.writes, 2);
  assert.deepEqual(readSnapshot(dir).content!.members.map((m) => m.name), ['x', 'y']);
  assert.throws(() => parseSnapshot('{"version":1,"left":false,"members":' + JSON.stringify(Array(1025).fill(M('x', 'h', 1, 'alive'))) + '}'), /at most 1024/);
  assert.deepEqual(readSnapshot(mkdtempSync(join(tmpdir(), 'swimd-snap-'))), { content: null, problem: null }, 'no file: nothing to say');
  assert.ok(readFileSync(join(dir, SNAPSHOT_FILE), 'utf8').length > 0);
});

test('Serf leave intent: exact encoding, strict decoding, Serf agents told twice with a Lamport time above any seen', () => {
  const bytes = encodeSerfLeaveIntent(5, 'w1');
  // type 0, fixmap 2, "LTime" 5, "Node" "w1"
  assert.deepEqual([...bytes], [0x00, 0x82, 0xa5, ...Buffer.from('LTime'), 0x05, 0xa4, ...Buffer.from('Node'), 0xa2, ...Buffer.from('w1')]);
  assert.deepEqual(decodeSerfIntent(bytes), { kind: 'leave', lamportTime: 5, node: 'w1' });
  assert.deepEqual(decodeSerfIntent(encodeSerfLeaveIntent(70_000, 'n')), { kind: 'leave', lamportTime: 70_000, node: 'n' });
  const join = Uint8Array.from([0x01, ...bytes.subarray(1)]);
  assert.equal(decodeSerfIntent(join)!.kind, 'join');
  for (const bad of [new Uint8Array(0), Uint8Array.of(0), Uint8Array.of(3, 0x80), bytes.subarray(0, bytes.length - 1), Uint8Array.of(0, 0x81, 0xa5, ...Buffer.from('LTime'), 0xa1, 0x41), Uint8Array.of(0xf5, 1, 2), Uint8Array.of(0, 0x80)]) {
    assert.equal(decodeSerfIntent(bad), null, Buffer.from(bad).toString('hex'));
  }

  const serfMeta = encodeTags({ role: 'db' });
  const swimdMeta = encodeTags({ 'swimd-own': '1', zone: 'a' });
  assert.equal(isSerfAgent({ meta: serfMeta }), true);
  assert.equal(isSerfAgent({ meta: encodeTags({}) }), true, 'a Serf agent without tags still sends the tag header');
  assert.equal(isSerfAgent({ meta: swimdMeta }), false);
  assert.equal(isSerfAgent({ meta: Uint8Array.of(0xff, 0xc0) }), true, 'a nil tag map');
  assert.equal(isSerfAgent({ meta: new Uint8Array(0) }), false, 'plain memberlist');

  const sent: { to: string; payload: Uint8Array }[] = [];
  const base = { incarnation: 1, stateChangedAtMs: 0, vsn: [], contacted: true };
  const members = [
    { ...base, name: 'me', host: '127.0.0.1', port: 1, state: 'alive' as const, meta: swimdMeta },
    { ...base, name: 's1', host: '127.0.0.1', port: 2, state: 'alive' as const, meta: serfMeta },
    { ...base, name: 's2', host: '127.0.0.1', port: 3, state: 'dead' as const, meta: serfMeta },
    { ...base, name: 'w2', host: '127.0.0.1', port: 4, state: 'alive' as const, meta: swimdMeta },
    { ...base, name: 's3', host: '127.0.0.1', port: 5, state: 'suspect' as const, meta: encodeTags({}) },
  ];
  const sl = new SerfLeave({ name: 'me', members: () => members, sendUserMessage: (to, payload) => (sent.push({ to: `${to.host}:${to.port}`, payload }), true) }, 10);
  assert.equal(sl.onUserMessage({ host: '127.0.0.1', port: 2 }, Uint8Array.of(0xf5, 1, 1)), false, 'not a Serf intent: left for the next delegate');
  assert.equal(sl.onUserMessage({ host: '127.0.0.1', port: 2 }, Uint8Array.from([0x01, ...encodeSerfLeaveIntent(30, 's1').subarray(1)])), true);
  assert.equal(sl.lamport(), 30, 'witnessed');
  sl.onUserMessage({ host: '127.0.0.1', port: 2 }, encodeSerfLeaveIntent(2 ** 50, 'x'));
  assert.equal(sl.lamport(), 30, 'an absurd Lamport time is not witnessed');
  const told = sl.announce();
  assert.deepEqual(told, { agents: 2, lamportTime: 31 });
  assert.deepEqual(sent.map((s) => s.to), ['127.0.0.1:2', '127.0.0.1:2', '127.0.0.1:5', '127.0.0.1:5'], 'alive and suspect Serf agents only, twice each');
  assert.deepEqual(decodeSerfIntent(sent[0]!.payload), { kind: 'leave', lamportTime: 31, node: 'me' });
});
