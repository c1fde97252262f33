// Properties of partition leadership and fencing tokens over random views and event sequences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { MemberEvent, MemberSnapshot, MemberState } from '../../src/core/member-types.js';
import { createPartitionEngine, type PartitionEngine, type PartitionOptions, type PartitionSnapshot } from '../../src/partition/engine.js';
import { decodeTags, encodeTags } from '../../src/wire/serf-tags.js';

const RUNS = Number(process.env.SWIMD_PROP_RUNS ?? 60);

function snap(name: string, state: MemberState, incarnation: number, tags: Record<string, string> = {}): MemberSnapshot {
  return { name, host: '10.0.0.1', port: 7946, state, incarnation, meta: Object.keys(tags).length ? encodeTags(tags) : new Uint8Array(0), stateChangedAtMs: 0, vsn: [1, 5, 2, 2, 5, 4], contacted: true };
}

const base: PartitionOptions = { partitions: 64, replicas: 3, strategy: 'rendezvous', quorum: 0 };
const engine = (o: Partial<PartitionOptions> = {}): Promise<PartitionEngine> => createPartitionEngine({ ...base, ...o });

const table = (s: PartitionSnapshot): string[] => [...s.partitions].map((p) => `${p.primary}|${p.replicas.join(',')}`);

const memberArb = fc.record({
  zone: fc.constantFrom('a', 'b', 'c', ''),
  weight: fc.constantFrom('1', '1', '2'),
  drain: fc.constantFrom('false', 'false', 'false', 'true'),
});
const viewArb = fc.array(memberArb, { minLength: 1, maxLength: 12 }).map((ms) => ms.map((t, i) => snap(`n${i}`, 'alive', 1, t)));

test('agreement: any order of the same member list gives the same table and tokens', async () => {
  await fc.assert(
    fc.asyncProperty(viewArb, fc.integer(), async (view, salt) => {
      const shuffled = [...view].sort((a, b) => ((a.name.length * 31 + salt) ^ b.name.charCodeAt(1)) - salt);
      const e1 = await engine();
      const e2 = await engine();
      e1.applyMembers(view);
      e2.applyMembers(shuffled.reverse());
      assert.deepEqual(table(e1.snapshot()), table(e2.snapshot()));
      assert.equal(e1.snapshot().token, e2.snapshot().token);
    }),
    { numRuns: RUNS },
  );
});

test('minimal movement: a death moves exactly the dead member’s partitions, each to the oracle’s choice', async () => {
  await fc.assert(
    fc.asyncProperty(viewArb, fc.nat(), async (view, pick) => {
      const e = await engine();
      e.applyMembers(view);
      const before = e.snapshot();
      const victim = view[pick % view.length]!;
      const diff = e.applyEvent({ kind: 'dead', member: snap(victim.name, 'dead', 1), from: 'x' });
      for (const c of diff.changed) {
        const old = before.partitions.get(c.id);
        assert.ok(old.primary === victim.name || old.replicas.includes(victim.name), `partition ${c.id} moved without involving the dead member`);
      }
      for (const p of before.partitions) if (p.primary === victim.name) assert.ok(diff.changed.some((c) => c.id === p.id), `partition ${p.id} kept a dead primary`);
      const oracle = await engine();
      oracle.applyMembers(view.map((m) => (m.name === victim.name ? snap(m.name, 'dead', 1) : m)));
      assert.deepEqual(table(e.snapshot()), table(oracle.snapshot()));
    }),
    { numRuns: RUNS },
  );
});

test('minimal movement: a join moves only partitions the newcomer now holds', async () => {
  await fc.assert(
    fc.asyncProperty(viewArb, memberArb, async (view, t) => {
      const e = await engine();
      e.applyMembers(view);
      const newcomer = snap('newcomer', 'alive', 1, t);
      const diff = e.applyEvent({ kind: 'join', member: newcomer });
      for (const c of diff.changed) assert.ok(c.newPrimary === 'newcomer' || c.replicas.includes('newcomer'), `partition ${c.id} moved without the newcomer`);
      const oracle = await engine();
      oracle.applyMembers([...view, newcomer]);
      assert.deepEqual(table(e.snapshot()), table(oracle.snapshot()));
    }),
    { numRuns: RUNS },
  );
});

test('zone spread and drain: replicas cover distinct zones when enough exist; a drained member is never primary', async () => {
  await fc.assert(
    fc.asyncProperty(viewArb, async (view) => {
      const e = await engine();
      e.applyMembers(view);
      const zones = new Map<string, string>();
      const drained = new Set<string>();
      for (const m of view) {
        const t = m.meta.length ? decodeTags(m.meta)! : {};
        zones.set(m.name, t.zone ?? '');
        if (t.drain === 'true') drained.add(m.name);
      }
      const distinctZones = new Set(zones.values()).size;
      for (const p of e.snapshot().partitions) {
        if (p.primary) assert.ok(!drained.has(p.primary), 'drained member is primary');
        const holders = [p.primary, ...p.replicas].filter((x): x is string => x !== null);
        const hz = new Set(holders.map((h) => zones.get(h)));
        assert.equal(hz.size, Math.min(holders.length, distinctZones), `partition ${p.id} zones ${[...hz]}`);
        if (drained.size < view.length) assert.notEqual(p.primary, null);
      }
    }),
    { numRuns: RUNS },
  );
});

test('bounded load: no member is primary of more than ceil((1 + ε)·P / N) partitions', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 2, max: 20 }), fc.constantFrom(0.1, 0.25, 0.5), async (n, eps) => {
      const e = await engine({ partitions: 256, boundedLoadEpsilon: eps });
      e.applyMembers(Array.from({ length: n }, (_, i) => snap(`m${i}`, 'alive', 1)));
      const cap = Math.ceil(((1 + eps) * 256) / n);
      const counts = new Map<string, number>();
      for (const p of e.snapshot().partitions) counts.set(p.primary!, (counts.get(p.primary!) ?? 0) + 1);
      for (const [m, c] of counts) assert.ok(c <= cap, `${m} is primary of ${c} > ${cap}`);
    }),
    { numRuns: RUNS },
  );
});

// Random histories: each step advances one member's (incarnation, state) the way the core can.
const stepArb = fc.record({ who: fc.nat({ max: 7 }), what: fc.constantFrom('suspect', 'dead', 'left', 'alive', 'bump') });

function advance(cur: MemberSnapshot | undefined, name: string, what: string): MemberEvent {
  if (!cur) return { kind: 'join', member: snap(name, 'alive', 1) };
  switch (what) {
    case 'suspect':
      return cur.state === 'alive' ? { kind: 'suspect', member: snap(name, 'suspect', cur.incarnation), from: 'x' } : { kind: 'alive-again', member: snap(name, 'alive', cur.incarnation + 1) };
    case 'dead':
      return cur.state === 'alive' || cur.state === 'suspect' ? { kind: 'dead', member: snap(name, 'dead', cur.incarnation), from: 'x' } : { kind: 'alive-again', member: snap(name, 'alive', cur.incarnation + 1) };
    case 'left':
      return cur.state === 'alive' || cur.state === 'suspect' ? { kind: 'left', member: snap(name, 'left', cur.incarnation) } : { kind: 'join', member: snap(name, 'alive', cur.incarnation + 1) };
    default:
      return { kind: cur.state === 'alive' ? 'update' : 'alive-again', member: snap(name, 'alive', cur.incarnation + 1) };
  }
}

test('tokens: never decrease, rise when a primary changes, agree for equal views, and dominate for dominating views; incremental equals full', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 40 }), fc.nat({ max: 40 }), fc.constantFrom(0, 3), async (steps, cut, quorum) => {
      const e = await engine({ quorum });
      const view = new Map<string, MemberSnapshot>();
      const history: PartitionSnapshot[] = [];
      const dominated = await engine({ quorum });
      for (const [i, s] of steps.entries()) {
        const name = `n${s.who}`;
        const ev = advance(view.get(name), name, s.what);
        view.set(name, ev.member);
        const prev = e.snapshot();
        e.applyEvent(ev);
        if (i < cut) dominated.applyEvent(ev);
        const next = e.snapshot();
        assert.ok(next.token >= prev.token, '(2) token never decreases');
        for (const p of next.partitions) {
          if (p.primary !== prev.partitions.get(p.id).primary) assert.ok(next.token > prev.token, '(3) primary changed without a higher token');
        }
        const oracle = await engine({ quorum });
        oracle.applyMembers([...view.values()]);
        assert.deepEqual(table(next), table(oracle.snapshot()), 'incremental equals full recompute');
        assert.equal(next.token, oracle.snapshot().token, '(1) same view, same token whatever the history');
        if (quorum > 0 && next.liveMembers < quorum) {
          assert.equal(next.quorum, 'no-quorum');
          assert.ok([...next.partitions].every((p) => p.primary === null), 'no primaries without quorum');
        }
        history.push(next);
      }
      const x = dominated.snapshot();
      const y = e.snapshot();
      assert.ok(y.token >= x.token, '(4) dominating view has a token at least as high');
      if (table(x).some((row, i) => row.split('|')[0] !== table(y)[i]!.split('|')[0])) assert.ok(y.token > x.token, '(4) strictly higher when primaries differ');
    }),
    { numRuns: RUNS },
  );
});

test('modulo strategy assigns every partition to a live member, sorted by name', async () => {
  const e = await engine({ strategy: 'modulo' });
  e.applyMembers(['c', 'a', 'b'].map((n) => snap(n, 'alive', 1)));
  for (const p of e.snapshot().partitions) {
    assert.ok(['a', 'b', 'c'].includes(p.primary!));
    assert.equal(p.replicas.length, 2);
  }
});

test('modulo primaries are hash(`${partition}+${view version}`) % n over the members sorted by name, as older versions place them', async () => {
  const { createHasher } = await import('../../src/partition/engine.js');
  const hash = await createHasher();
  const e = await engine({ strategy: 'modulo', partitions: 1500 });
  const names = ['c', 'a', 'b', 'e', 'd'];
  e.applyMembers(names.map((n) => snap(n, 'alive', 1)));
  // A few events so the view version has several digits' worth of history.
  for (let i = 2; i < 14; i++) e.applyEvent({ kind: 'update', member: snap('a', 'alive', i) });
  const sorted = [...names].sort();
  const epoch = e.snapshot().viewVersion;
  for (const p of e.snapshot().partitions) assert.equal(p.primary, sorted[hash(`${p.id}+${epoch}`) % sorted.length], `partition ${p.id}, view ${epoch}`);
});

test('weights: a member of weight w wins about w / Σw of the primaries, in a mixed cluster too', async () => {
  const share = async (weights: number[]): Promise<number[]> => {
    const e = await engine({ partitions: 8192, replicas: 1 });
    e.applyMembers(weights.map((w, i) => snap(`w${i}`, 'alive', 1, w === 1 ? {} : { weight: String(w) })));
    const counts = weights.map(() => 0);
    for (const p of e.snapshot().partitions) counts[Number(p.primary!.slice(1))]!++;
    return counts.map((c) => c / 8192);
  };
  const [heavy, light] = await share([3, 1]);
  assert.ok(Math.abs(heavy! - 0.75) < 0.03, `weight 3 against 1 wins ${heavy}, expected about 0.75 (light ${light})`);
  const four = await share([1, 1, 1, 2]);
  assert.ok(Math.abs(four[3]! - 0.4) < 0.03, `weight 2 among three of weight 1 wins ${four[3]}, expected about 0.4`);
  for (const s of four.slice(0, 3)) assert.ok(Math.abs(s - 0.2) < 0.03, `a weight-1 member wins ${s}, expected about 0.2`);
});

test('weights: a weighted member joining switches every key to one scale, and the result equals the full recompute', async () => {
  const view = ['a', 'b', 'c', 'd'].map((n) => snap(n, 'alive', 1));
  const e = await engine({ partitions: 1024, replicas: 2 });
  e.applyMembers(view);
  const heavy = snap('h', 'alive', 1, { weight: '4' });
  e.applyEvent({ kind: 'join', member: heavy });
  const oracle = await engine({ partitions: 1024, replicas: 2 });
  oracle.applyMembers([...view, heavy]);
  assert.deepEqual(table(e.snapshot()), table(oracle.snapshot()));
  const won = [...e.snapshot().partitions].filter((p) => p.primary === 'h').length / 1024;
  assert.ok(Math.abs(won - 0.5) < 0.05, `weight 4 among four of weight 1 wins ${won}, expected about 0.5`);
});

test('a member known only from gossip (not yet contacted) holds no role until it is reached', async () => {
  const e = await engine({ partitions: 32, replicas: 2 });
  const members = ['a', 'b', 'c'].map((n) => snap(n, 'alive', 1));
  e.applyMembers([...members, { ...snap('ghost', 'alive', 1), contacted: false }]);
  assert.ok([...e.snapshot().partitions].every((p) => p.primary !== 'ghost' && !p.replicas.includes('ghost')));
  e.applyEvent({ kind: 'update', member: snap('ghost', 'alive', 1) });
  assert.ok([...e.snapshot().partitions].some((p) => p.primary === 'ghost'), 'once contacted it wins its share');
  const full = await engine({ partitions: 32, replicas: 2 });
  full.applyMembers([...members, snap('ghost', 'alive', 1)]);
  assert.deepEqual([...e.snapshot().partitions].map((p) => [p.primary, p.replicas]), [...full.snapshot().partitions].map((p) => [p.primary, p.replicas]), 'the incremental result equals the full recompute');
});

// Histories over tagged members: zones, weights, drain and a role tag change with updates, for every option.
const tagArb = fc.record({
  zone: fc.constantFrom('a', 'b', 'c', ''),
  weight: fc.constantFrom('1', '1', '1', '3'),
  drain: fc.constantFrom('false', 'false', 'false', 'true'),
  role: fc.constantFrom('app', 'app', 'app', 'tool'),
});
const taggedStepArb = fc.record({ who: fc.nat({ max: 13 }), what: fc.constantFrom('suspect', 'dead', 'left', 'alive', 'bump', 'retag'), tags: tagArb });

const optionSets: [string, Partial<PartitionOptions>][] = [
  ['plain', {}],
  ['two replicas', { replicas: 2 }],
  ['one replica', { replicas: 1 }],
  ['eligibility selector', { eligible: (m) => m.tags.role !== 'tool' }],
  ['bounded load', { boundedLoadEpsilon: 0.25 }],
  ['failoverOnSuspect', { failoverOnSuspect: true }],
  ['quorum 3', { quorum: 3 }],
  ['modulo', { strategy: 'modulo' }],
  ['everything at once', { eligible: (m) => m.tags.role !== 'tool', failoverOnSuspect: true, boundedLoadEpsilon: 0.5, quorum: 2 }],
];

// With one zone the engine ranks most partitions from its per-partition candidate lists; with several, from every member.
for (const [label, o] of optionSets.flatMap(([l, x]) => [[`${l}, zones`, x, true] as const, [`${l}, one zone`, x, false] as const]).map(([l, x, z]) => [l, { ...x, zones: z }] as const)) {
  test(`incremental equals full recompute, the diff names exactly the partitions that moved, old snapshots never change: ${label}`, async () => {
    const { zones, ...engineOpts } = o;
    await fc.assert(
      fc.asyncProperty(fc.array(taggedStepArb, { minLength: 1, maxLength: 40 }), async (steps) => {
        const opts: Partial<PartitionOptions> = { partitions: 48, ...engineOpts };
        const e = await engine(opts);
        const view = new Map<string, MemberSnapshot>();
        const tagsOf = new Map<string, Record<string, string>>();
        for (const s of steps) {
          const name = `n${s.who}`;
          const cur = view.get(name);
          let ev: MemberEvent;
          if (s.what === 'retag' || cur === undefined) {
            const tags = zones ? s.tags : { ...s.tags, zone: '' };
            tagsOf.set(name, tags);
            ev = cur === undefined ? { kind: 'join', member: snap(name, 'alive', 1, tags) } : { kind: cur.state === 'alive' ? 'update' : 'alive-again', member: snap(name, 'alive', cur.incarnation + 1, tags) };
          } else {
            const plain = advance(cur, name, s.what);
            ev = { ...plain, member: snap(name, plain.member.state, plain.member.incarnation, tagsOf.get(name)!) } as MemberEvent;
          }
          view.set(name, ev.member);
          const prev = e.snapshot();
          const prevRows = table(prev);
          const diff = e.applyEvent(ev);
          const next = e.snapshot();
          const oracle = await engine(opts);
          oracle.applyMembers([...view.values()]);
          const nextRows = table(next);
          assert.deepEqual(nextRows, table(oracle.snapshot()), 'incremental equals full recompute');
          const moved = nextRows.flatMap((row, p) => (row !== prevRows[p] ? [p] : []));
          assert.deepEqual(diff.changed.map((c) => c.id), moved, 'the diff lists exactly the partitions whose holders changed, in id order');
          for (const c of diff.changed) {
            const a = next.partitions.get(c.id);
            assert.equal(c.newPrimary, a.primary);
            assert.deepEqual(c.replicas, a.replicas);
            assert.equal(c.oldPrimary, prev.partitions.get(c.id).primary);
          }
          assert.deepEqual(table(prev), prevRows, 'a published snapshot does not change afterwards');
          for (const m of view.keys()) {
            const owned = e.owned(m);
            const rows = [...next.partitions];
            assert.deepEqual(owned.primary, rows.filter((p) => p.primary === m).map((p) => p.id), `${m} primaries`);
            assert.deepEqual(owned.replica, rows.filter((p) => p.replicas.includes(m)).map((p) => p.id), `${m} replicas`);
          }
        }
      }),
      { numRuns: Math.max(10, Math.floor(RUNS / 3)) },
    );
  });
}

test('a snapshot table reads like a read-only array: length, get, iteration, JSON, and a RangeError outside it', async () => {
  const e = await engine({ partitions: 130, replicas: 2 });
  e.applyMembers(['a', 'b', 'c'].map((n) => snap(n, 'alive', 1)));
  const t = e.snapshot().partitions;
  assert.equal(t.length, 130);
  assert.equal([...t].length, 130);
  assert.deepEqual([...t].map((p) => p.id), Array.from({ length: 130 }, (_, i) => i));
  assert.deepEqual(JSON.parse(JSON.stringify(t)), JSON.parse(JSON.stringify([...t])));
  assert.deepEqual(t.get(129), [...t][129]);
  assert.throws(() => t.get(130), RangeError);
  assert.throws(() => t.get(-1), RangeError);
  assert.throws(() => t.get(1.5), RangeError);
});

test('more deaths than a partition lists candidates, then every member back: each step equals the full recompute', async () => {
  for (const o of [{}, { boundedLoadEpsilon: 0.25 }, { replicas: 1 }] as Partial<PartitionOptions>[]) {
    const opts = { partitions: 256, ...o };
    const e = await engine(opts);
    const view = Array.from({ length: 14 }, (_, i) => snap(`m${i}`, 'alive', 1));
    e.applyMembers(view);
    const check = async (what: string): Promise<void> => {
      const oracle = await engine(opts);
      oracle.applyMembers(view);
      assert.deepEqual(table(e.snapshot()), table(oracle.snapshot()), what);
    };
    for (let i = 0; i < 11; i++) {
      view[i] = snap(`m${i}`, 'dead', 1);
      e.applyEvent({ kind: 'dead', member: view[i]!, from: 'x' });
      await check(`after ${i + 1} deaths (${JSON.stringify(o)})`);
    }
    for (let i = 0; i < 11; i++) {
      view[i] = snap(`m${i}`, 'alive', 2);
      e.applyEvent({ kind: 'alive-again', member: view[i]! });
      await check(`after ${i + 1} returns (${JSON.stringify(o)})`);
    }
  }
});
