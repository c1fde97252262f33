// The partition-table checksum (incremental and equal to a full recompute),
// the agreement state's wire format, the comparison rules (at rest, episodes,
// one warning), the settings fingerprint, and push/pull carrying the state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { lanConfig } from '../../src/config/presets.js';
import type { MemberEvent, MemberSnapshot } from '../../src/core/member-types.js';
import { SeededRandom } from '../../src/core/prng.js';
import {
  Agreement,
  AGREEMENT_STATE_MAX_BYTES,
  decodeAgreementState,
  encodeAgreementState,
  parseTableConfigTag,
  tableConfigTag,
  TABLE_CONFIG_TAG,
  type AgreementState,
  type LocalTable,
} from '../../src/partition/agreement.js';
import { checksumOf, TableChecksum } from '../../src/partition/checksum.js';
import { createPartitionEngine } from '../../src/partition/engine.js';
import { MemoryGrantStore } from '../../src/partition/grant-store.js';
import { eligibilityOf, Leadership, OWNERSHIP_TAG, OWNERSHIP_TAG_VALUE, type OwnedPartition } from '../../src/partition/leadership.js';
import type { ReadonlyTable } from '../../src/partition/table.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { VirtualScheduler } from '../../src/sim/virtual-scheduler.js';
import { encodeTags } from '../../src/wire/serf-tags.js';
import { viewNode } from '../support/view-node.js';

function tableOf(entries: OwnedPartition[]): ReadonlyTable<OwnedPartition> {
  return { length: entries.length, get: (i) => entries[i]!, [Symbol.iterator]: () => entries[Symbol.iterator]() };
}

const entries = (): OwnedPartition[] => [
  { id: 0, primary: 'a', replicas: ['b', 'c'], token: 7 },
  { id: 1, primary: null, replicas: ['c', 'a'], token: 0 },
  { id: 2, primary: 'b', replicas: ['a'], token: 2 ** 40 + 3 },
];

test('the checksum: the same table gives the same sum, one changed token, holder or replica order another', () => {
  const same = checksumOf(tableOf(entries()));
  assert.match(same, /^[0-9a-f]{16}$/);
  assert.equal(checksumOf(tableOf(entries())), same);
  const changes: ((e: OwnedPartition[]) => void)[] = [
    (e) => (e[0] = { ...e[0]!, token: 8 }),
    (e) => (e[2] = { ...e[2]!, token: 2 ** 40 + 2 ** 32 + 3 }),
    (e) => (e[1] = { ...e[1]!, primary: 'c' }),
    (e) => (e[0] = { ...e[0]!, replicas: ['c', 'b'] }),
    (e) => (e[0] = { ...e[0]!, replicas: ['b'] }),
    (e) => (e[2] = { ...e[2]!, primary: 'a', replicas: ['b'] }),
  ];
  const seen = new Set([same]);
  for (const change of changes) {
    const e = entries();
    change(e);
    const sum = checksumOf(tableOf(e));
    assert.ok(!seen.has(sum), `change ${change.toString()} moves the checksum`);
    seen.add(sum);
  }
});

test('the incremental checksum, updated by slot rows in any order, equals the full one', () => {
  const names = ['a', 'b', 'c'];
  const slot = (n: string | null): number => (n === null ? -1 : names.indexOf(n));
  const sum = new TableChecksum(3);
  assert.equal(sum.value(), checksumOf(tableOf([0, 1, 2].map((id) => ({ id, primary: null, replicas: [], token: 0 })))), 'starts as the empty table');
  for (const e of [...entries()].reverse()) {
    const row = new Int32Array(3).fill(-1);
    row[0] = slot(e.primary);
    e.replicas.forEach((r, k) => (row[k + 1] = slot(r)));
    sum.set(e.id, row, 0, 3, e.token, names);
  }
  assert.equal(sum.value(), checksumOf(tableOf(entries())));
});

const memberMeta = (weight: number, drain: boolean): Uint8Array => encodeTags({ [OWNERSHIP_TAG]: OWNERSHIP_TAG_VALUE, weight: String(weight), ...(drain ? { drain: 'true' } : {}) });
const snapshotOf = (name: string, state: MemberSnapshot['state'], incarnation: number, meta: Uint8Array): MemberSnapshot => ({ name, host: '10.0.0.1', port: 7946, state, incarnation, meta, stateChangedAtMs: 0, vsn: [1, 5, 2, 2, 5, 4], contacted: true });

type Step = { member: number; kind: 'join' | 'dead' | 'left' | 'update' | 'alive-again'; weight: number; drain: boolean; waitMs: number };
const stepArb = fc.record({
  member: fc.integer({ min: 0, max: 6 }),
  kind: fc.constantFrom<Step['kind']>('join', 'dead', 'left', 'update', 'alive-again'),
  weight: fc.integer({ min: 1, max: 3 }),
  drain: fc.boolean(),
  waitMs: fc.integer({ min: 0, max: 400 }),
});

/** Runs random member events through leadership and checks after each that the kept checksum is the full recompute. */
async function checkIncremental(fencing: 'granted' | 'view', steps: Step[]): Promise<{ changes: number; maxToken: number }> {
  const view = new Map<string, MemberSnapshot>();
  view.set('m0', snapshotOf('m0', 'alive', 1, memberMeta(1, false)));
  const node = viewNode(view);
  const engine = await createPartitionEngine({ partitions: 70, replicas: 3, strategy: 'rendezvous', quorum: 0, eligible: eligibilityOf({ fencing, eligibleTags: {} }) });
  const scheduler = new VirtualScheduler();
  const leadership = new Leadership({ fencing, quorum: 1, eligibleTags: {}, claimTimeoutMs: 50, claimBackoffMaxMs: 200, syncIntervalMs: 100 }, engine, node, { scheduler, random: new SeededRandom(9), store: new MemoryGrantStore() });
  leadership.start();
  let changes = 0;
  let maxToken = 0;
  let last = leadership.snapshot().checksum;
  for (const s of steps) {
    const name = `m${s.member + 1}`;
    const prev = view.get(name);
    const incarnation = (prev?.incarnation ?? 0) + 1;
    const state: MemberSnapshot['state'] = s.kind === 'dead' ? 'dead' : s.kind === 'left' ? 'left' : 'alive';
    const snap = snapshotOf(name, state, incarnation, memberMeta(s.weight, s.drain));
    view.set(name, snap);
    const ev: MemberEvent = s.kind === 'dead' ? { kind: 'dead', member: snap, from: 'm0' } : s.kind === 'left' ? { kind: 'left', member: snap } : { kind: s.kind, member: snap };
    leadership.applyEvent(ev);
    // Let claims, grants and commits run in granted mode: they change tokens and primaries too.
    scheduler.advance(s.waitMs);
    const now = leadership.snapshot();
    assert.equal(now.checksum, checksumOf(now.partitions), `${fencing}: after ${s.kind} of ${name}`);
    if (now.checksum !== last) changes++;
    for (const e of now.partitions) maxToken = Math.max(maxToken, e.token);
    last = now.checksum;
  }
  leadership.stop();
  return { changes, maxToken };
}

test('property: under random member events the incrementally kept checksum equals a full recompute (view and granted tokens)', async () => {
  for (const fencing of ['view', 'granted'] as const) {
    let changed = 0;
    let maxToken = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 25 }), async (steps) => {
        const r = await checkIncremental(fencing, steps);
        changed += r.changes;
        maxToken = Math.max(maxToken, r.maxToken);
      }),
      { numRuns: 40, seed: 4242 },
    );
    assert.ok(changed > 0, `${fencing}: the events moved the table`);
    assert.ok(maxToken > 0, `${fencing}: tokens were set (granted: epochs were committed)`);
  }
});

const CONFIG = { partitions: 64, replicas: 3, strategy: 'rendezvous' as const };
const state = (o: Partial<AgreementState> = {}): AgreementState => ({ name: 'b', checksum: '00112233445566ff', config: CONFIG, eligibleMembers: 3, seq: 12, settled: true, ...o });

test('the agreement state round-trips, and what is not swimd\'s or is bad comes back as a drop reason', () => {
  const s = state({ name: 'bé-1', seq: 2 ** 32 - 1, config: { partitions: 1 << 20, replicas: 16, strategy: 'modulo' } });
  const raw = encodeAgreementState(s);
  assert.deepEqual(decodeAgreementState(raw), { ok: true, value: s });
  assert.deepEqual(decodeAgreementState(Uint8Array.from([7, 1, 2, 3])), { ok: false, reason: 'foreign' }, 'Serf\'s state starts with its message type');
  assert.deepEqual(decodeAgreementState(Uint8Array.from([0xf6, 9, 0])), { ok: false, reason: 'version' });
  assert.deepEqual(decodeAgreementState(raw.subarray(0, 20)), { ok: false, reason: 'malformed' });
  assert.deepEqual(decodeAgreementState(raw.subarray(0, raw.length - 1)), { ok: false, reason: 'malformed' });
  const big = new Uint8Array(AGREEMENT_STATE_MAX_BYTES + 1);
  big.set(raw.subarray(0, 2));
  assert.deepEqual(decodeAgreementState(big), { ok: false, reason: 'oversized' });
  const badUtf8 = Uint8Array.from(encodeAgreementState(state({ name: 'x' })));
  badUtf8[badUtf8.length - 1] = 0xff;
  assert.deepEqual(decodeAgreementState(badUtf8), { ok: false, reason: 'malformed' });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
    const d = decodeAgreementState(bytes);
    assert.ok(d.ok || typeof d.reason === 'string');
  }), { numRuns: 2000, seed: 7 });
});

test('the settings fingerprint tag is short and parses back', () => {
  assert.equal(tableConfigTag(CONFIG), '64:3:r');
  assert.equal(tableConfigTag({ partitions: 65536, replicas: 5, strategy: 'modulo' }), '65536:5:m');
  assert.deepEqual(parseTableConfigTag('65536:5:m'), { partitions: 65536, replicas: 5, strategy: 'modulo' });
  assert.equal(parseTableConfigTag('64:3'), null);
  assert.equal(parseTableConfigTag('64:3:x'), null);
});

function harness(opts: { settleMs?: number; warnAfterMs?: number; maxPeers?: number } = {}) {
  let now = 10_000;
  const local: { -readonly [K in keyof LocalTable]: LocalTable[K] } = { checksum: 'aaaaaaaaaaaaaaaa', tableSeq: 5, eligibleMembers: 3, changedAtMs: 0 };
  const peers = new Set(['b', 'c']);
  const members = new Set(['a', 'b', 'c', 'serf-1']);
  const logs: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const ag = new Agreement(
    { self: 'a', config: CONFIG, settleMs: opts.settleMs ?? 1_000, warnAfterMs: opts.warnAfterMs ?? 5_000, maxPeers: opts.maxPeers ?? 100 },
    { nowMs: () => now, local: () => local, isPeer: (n) => peers.has(n), isMember: (n) => members.has(n), log: (level, msg, fields) => logs.push({ level, msg, fields }) },
  );
  return { ag, local, peers, members, logs, advance: (ms: number) => (now += ms), now: () => now };
}

test('agreement: equal checksums agree; a difference counts only with both tables at rest or other settings; unknown until then', () => {
  const h = harness();
  assert.deepEqual(h.ag.report(['b', 'c']), { checksum: 'aaaaaaaaaaaaaaaa', agreeing: 0, disagreeing: [], unknown: 2 });
  assert.equal(h.ag.receive(encodeAgreementState(state({ name: 'b', checksum: 'aaaaaaaaaaaaaaaa' }))), null);
  // Our table just changed: c's other checksum is not yet a disagreement.
  h.local.changedAtMs = h.now() - 10;
  assert.equal(h.ag.receive(encodeAgreementState(state({ name: 'c' }))), null);
  assert.deepEqual(h.ag.report(['b', 'c']), { checksum: 'aaaaaaaaaaaaaaaa', agreeing: 1, disagreeing: [], unknown: 1 });
  // Ours at rest, c's still moving: still unknown.
  h.advance(2_000);
  h.ag.receive(encodeAgreementState(state({ name: 'c', settled: false })));
  assert.equal(h.ag.report(['b', 'c']).unknown, 1);
  // Both at rest: c disagrees, with its checksum and the comparison's age.
  h.ag.receive(encodeAgreementState(state({ name: 'c' })));
  h.advance(300);
  assert.deepEqual(h.ag.report(['b', 'c']).disagreeing, [{ name: 'c', checksum: '00112233445566ff', ageMs: 300 }]);
  // Other settings: a disagreement at once, whatever the tables are doing.
  h.local.changedAtMs = h.now();
  h.ag.receive(encodeAgreementState(state({ name: 'b', settled: false, config: { ...CONFIG, partitions: 128 } })));
  assert.deepEqual(h.ag.report(['b', 'c']).disagreeing.map((d) => d.name), ['b', 'c']);
});

test('agreement: a disagreement that lasts warnAfter is warned of once per episode, with both checksums; agreeing ends the episode', () => {
  const h = harness({ warnAfterMs: 5_000 });
  h.ag.receive(encodeAgreementState(state({ name: 'b' })));
  h.advance(4_000);
  h.ag.tick();
  assert.equal(h.logs.length, 0, 'not yet');
  h.advance(1_500);
  h.ag.tick();
  h.advance(10_000);
  h.ag.tick();
  h.ag.receive(encodeAgreementState(state({ name: 'b' })));
  const warns = h.logs.filter((l) => l.level === 'warn');
  assert.equal(warns.length, 1);
  assert.equal(warns[0]!.fields.checksum, 'aaaaaaaaaaaaaaaa');
  assert.equal(warns[0]!.fields.theirChecksum, '00112233445566ff');
  assert.equal(warns[0]!.fields.member, 'b');
  // Agreement ends the episode; the next disagreement is a new one, warned of again once it lasts.
  h.ag.receive(encodeAgreementState(state({ name: 'b', checksum: 'aaaaaaaaaaaaaaaa' })));
  assert.ok(h.logs.some((l) => l.level === 'info' && l.msg.includes('agrees with member b again')));
  h.ag.receive(encodeAgreementState(state({ name: 'b' })));
  h.advance(6_000);
  h.ag.tick();
  assert.equal(h.logs.filter((l) => l.level === 'warn').length, 2);
  // After our own table changed, the old comparison no longer warns by itself.
  const h2 = harness({ warnAfterMs: 1_000 });
  h2.ag.receive(encodeAgreementState(state({ name: 'c' })));
  h2.local.checksum = 'bbbbbbbbbbbbbbbb';
  h2.advance(5_000);
  h2.ag.tick();
  assert.equal(h2.logs.length, 0);
});

test('agreement: only alive swimd peers are remembered, within the bound, and forgotten when they go', () => {
  const h = harness({ maxPeers: 1 });
  assert.equal(h.ag.receive(encodeAgreementState(state({ name: 'a' }))), 'self');
  assert.equal(h.ag.receive(encodeAgreementState(state({ name: 'forged' }))), 'unknown-sender');
  assert.equal(h.ag.receive(Uint8Array.from([7, 0, 0])), 'foreign');
  assert.equal(h.ag.receive(encodeAgreementState(state({ name: 'b' }))), null);
  assert.equal(h.ag.receive(encodeAgreementState(state({ name: 'c' }))), 'peers-full');
  assert.equal(h.ag.peerCount(), 1);
  h.peers.delete('b');
  h.ag.tick();
  assert.equal(h.ag.peerCount(), 0, 'a member no longer alive is dropped');
  h.peers.add('b');
  h.ag.receive(encodeAgreementState(state({ name: 'b' })));
  h.ag.forget('b', true);
  assert.equal(h.ag.peerCount(), 0);
});

test('agreement: the state goes only to swimd peers and only answers a swimd state', () => {
  const h = harness();
  const serfState = Uint8Array.from([7, 0x81, 0xa1, 0x41]);
  assert.equal(h.ag.stateFor('b', null)[0], 0xf6, 'to a swimd peer by name');
  assert.equal(h.ag.stateFor('serf-1', null).length, 0, 'never to a member without the ownership tag');
  assert.equal(h.ag.stateFor(null, null).length, 0, 'never to an address not known by name (a seed)');
  assert.equal(h.ag.stateFor(null, serfState).length, 0, 'never in answer to Serf');
  assert.equal(decodeAgreementState(h.ag.stateFor(null, encodeAgreementState(state()))).ok, true, 'in answer to swimd');
});

test('fingerprint: a member with other settings is logged at error once and reported until it is set up alike or gone', () => {
  const h = harness();
  const other = { [OWNERSHIP_TAG]: '1', [TABLE_CONFIG_TAG]: '128:3:r' };
  h.ag.observeMember('b', other);
  h.ag.observeMember('b', other);
  h.ag.observeMember('c', { [TABLE_CONFIG_TAG]: tableConfigTag(CONFIG) });
  h.ag.observeMember('serf-1', { role: 'x' });
  const errors = h.logs.filter((l) => l.level === 'error');
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.msg, /member b computes partitions with other settings \(partitions.count 128, replicas 3, strategy rendezvous; this member partitions.count 64/);
  assert.deepEqual(h.ag.configMismatches(), [{ name: 'b', theirs: { partitions: 128, replicas: 3, strategy: 'rendezvous' }, ours: CONFIG }]);
  h.ag.observeMember('b', { [TABLE_CONFIG_TAG]: '64:3:r' });
  assert.deepEqual(h.ag.configMismatches(), []);
  h.ag.observeMember('b', other);
  h.members.delete('b');
  h.ag.tick();
  assert.deepEqual(h.ag.configMismatches(), [], 'forgotten once gone from the view');
});

test('push/pull carries the user state both ways between members that have a delegate; refused states are counted drops', () => {
  const c = new SimCluster({ seed: 31, size: 3, config: { ...lanConfig(), pushPullIntervalMs: 2_000 } });
  const seen = new Map<string, { sentTo: (string | null)[]; answered: number; got: string[] }>();
  for (const m of c.members) {
    const rec = { sentTo: [] as (string | null)[], answered: 0, got: [] as string[] };
    seen.set(m.name, rec);
    // m2 has no delegate: it sends nothing and ignores what it gets, as a plain memberlist would.
    if (m.name === 'm2') continue;
    m.node.setUserState({
      localState: (peer, incoming) => {
        if (incoming) rec.answered++;
        else rec.sentTo.push(peer);
        return new TextEncoder().encode(`state-of-${m.name}`);
      },
      remoteState: (s) => {
        const text = new TextDecoder().decode(s);
        rec.got.push(text);
        return text.startsWith('state-of-') ? null : 'malformed';
      },
    });
  }
  c.startAll();
  c.joinAll();
  c.runUntil(() => c.converged(), 30_000, 100, 'convergence');
  c.run(30_000);
  const m0 = seen.get('m0')!;
  const m1 = seen.get('m1')!;
  assert.ok(m0.got.includes('state-of-m1') && m1.got.includes('state-of-m0'), 'the two delegates heard each other');
  assert.ok(!m0.got.some((g) => g === 'state-of-m2'), 'nothing from the member without a delegate');
  assert.ok(m0.sentTo.some((p) => p === 'm1' || p === 'm2'), 'the initiator is told whom it dials');
  assert.ok(m0.answered + m1.answered > 0, 'answers are asked for with the incoming state');
  assert.equal(c.member('m0').node.stats.drops['user-state-malformed'] ?? 0, 0);
  // A delegate that refuses a state gets it counted.
  c.member('m1').node.setUserState({ localState: () => new TextEncoder().encode('garbage'), remoteState: () => null });
  c.run(30_000);
  assert.ok((c.member('m0').node.stats.drops['user-state-malformed'] ?? 0) > 0, 'refused states are counted by reason');
});
