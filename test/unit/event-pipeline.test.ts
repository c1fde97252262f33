// The daemon's event pipeline: a death publishes the member line and one
// partitions line with only the partitions whose published entry moved; the
// snapshot a reader took before the death is left as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { pino } from 'pino';
import { Counter, Histogram, Registry } from 'prom-client';
import type { MemberEvent, MemberSnapshot } from '../../src/core/member-types.js';
import { SeededRandom } from '../../src/core/prng.js';
import { WatchHub } from '../../src/api/watch.js';
import type { WatchLine } from '../../src/api/views.js';
import { wireEventPipeline } from '../../src/daemon/pipeline.js';
import { AfterTurn } from '../../src/daemon/after-turn.js';
import { memberView, partitionsView } from '../../src/api/views.js';
import { createPartitionEngine } from '../../src/partition/engine.js';
import { MemoryGrantStore } from '../../src/partition/grant-store.js';
import { eligibilityOf, Leadership, OWNERSHIP_TAG, OWNERSHIP_TAG_VALUE, type LeadershipNode } from '../../src/partition/leadership.js';
import { VirtualScheduler } from '../../src/sim/virtual-scheduler.js';
import { encodeTags } from '../../src/wire/serf-tags.js';
import { viewNode } from '../support/view-node.js';
import { decodeCompactPartitions, isCompactPartitions } from '../../src/client/compact.js';

class FakeResponse extends EventEmitter {
  written: string[] = [];
  write(text: string): boolean {
    this.written.push(text);
    return true;
  }
  end(): void {}
}

const meta = encodeTags({ [OWNERSHIP_TAG]: OWNERSHIP_TAG_VALUE });
const member = (name: string, state: MemberSnapshot['state'], incarnation: number): MemberSnapshot => ({ name, host: '10.0.0.1', port: 7946, state, incarnation, meta, stateChangedAtMs: 0, vsn: [1, 5, 2, 2, 5, 4], contacted: true });

test('a death publishes one partitions line naming exactly the partitions whose entry moved', async () => {
  const names = Array.from({ length: 8 }, (_, i) => `m${i}`);
  const view = new Map(names.map((n) => [n, member(n, 'alive', 1)]));
  const listeners = new Set<(ev: MemberEvent) => void>();
  const node: LeadershipNode & { on(l: (ev: MemberEvent) => void): () => void } = {
    ...viewNode(view),
    on: (l) => (listeners.add(l), () => listeners.delete(l)),
  };
  const engine = await createPartitionEngine({ partitions: 200, replicas: 3, strategy: 'rendezvous', quorum: 0, eligible: eligibilityOf({ fencing: 'granted', eligibleTags: {} }) });
  const scheduler = new VirtualScheduler();
  const leadership = new Leadership({ fencing: 'granted', quorum: 5, eligibleTags: {}, claimTimeoutMs: 100, claimBackoffMaxMs: 400, syncIntervalMs: 1000 }, engine, node, { scheduler, random: new SeededRandom(3), store: new MemoryGrantStore() });
  const registry = new Registry();
  const metrics = { partitionChanges: new Counter({ name: 'c', help: 'c', registers: [registry] }), failoverCompute: new Histogram({ name: 'h', help: 'h', registers: [registry] }) };
  const hub = new WatchHub(16, () => ({ type: 'resync', reason: 'snapshot' }));
  wireEventPipeline(node, leadership, hub, pino({ level: 'silent' }), metrics);
  leadership.start();
  const res = new FakeResponse();
  hub.add(res as unknown as ServerResponse);
  const compactRes = new FakeResponse();
  hub.add(compactRes as unknown as ServerResponse, 'compact');

  const before = leadership.snapshot();
  const beforeRows = [...before.partitions].map((p) => JSON.stringify(p));
  const placedBefore = engine.snapshot();
  const victim = 'm3';
  const held = new Set([...placedBefore.partitions].filter((p) => p.primary === victim || p.replicas.includes(victim)).map((p) => p.id));
  assert.ok(held.size > 0, 'the victim holds partitions');

  const dead = member(victim, 'dead', 1);
  view.set(victim, dead);
  for (const l of listeners) l({ kind: 'dead', member: dead, from: 'm1' });

  const lines = res.written.slice(1).map((l) => JSON.parse(l) as WatchLine);
  assert.equal(lines.length, 2, 'a member line, then one partitions line');
  assert.equal(lines[0]!.type, 'member');
  const line = lines[1]!;
  assert.ok(line.type === 'partitions');
  const after = leadership.snapshot();
  const moved = [...after.partitions].filter((p, i) => JSON.stringify(p) !== beforeRows[i]).map((p) => p.id);
  assert.ok(moved.length > 0);
  assert.deepEqual(line.changed.map((c) => c.id).sort((a, b) => a - b), moved, 'the line carries exactly the partitions that moved');
  for (const id of moved) assert.ok(held.has(id), `partition ${id} moved though the victim held no part of it`);
  for (const c of line.changed) assert.deepEqual(c.replicas, after.partitions.get(c.id).replicas);
  assert.deepEqual([...before.partitions].map((p) => JSON.stringify(p)), beforeRows, 'the earlier snapshot is unchanged');
  for (const p of after.partitions) assert.ok(!p.replicas.includes(victim) && p.primary !== victim, `partition ${p.id} still names the dead member`);
  // A compact reader gets the same two lines: the member line as it is, the partitions line packed.
  const compactLines = compactRes.written.slice(1).map((l) => JSON.parse(l) as unknown);
  assert.equal(compactLines.length, 2);
  assert.deepEqual(compactLines[0], lines[0]);
  const packed = compactLines[1]!;
  assert.ok(isCompactPartitions(packed), 'the compact reader\'s partitions line is compact');
  assert.deepEqual(JSON.parse(JSON.stringify(decodeCompactPartitions(packed))), line, 'and decodes to the full line');
  leadership.stop();
});

test('with reports after the turn, a death\'s claims leave before any watch line; the lines keep their order, and a watcher added meanwhile gets a snapshot that already shows them', async () => {
  const names = Array.from({ length: 8 }, (_, i) => `m${i}`);
  const view = new Map(names.map((n) => [n, member(n, 'alive', 1)]));
  const listeners = new Set<(ev: MemberEvent) => void>();
  const order: string[] = [];
  const node: LeadershipNode & { on(l: (ev: MemberEvent) => void): () => void } = {
    ...viewNode(view),
    sendUserMessage: () => {
      order.push('datagram');
      return true;
    },
    on: (l) => (listeners.add(l), () => listeners.delete(l)),
  };
  const engine = await createPartitionEngine({ partitions: 200, replicas: 3, strategy: 'rendezvous', quorum: 0, eligible: eligibilityOf({ fencing: 'granted', eligibleTags: {} }) });
  const scheduler = new VirtualScheduler();
  const turns: (() => void)[] = [];
  const afterTurn = new AfterTurn(1_000, (fn) => turns.push(fn));
  const leadership = new Leadership({ fencing: 'granted', quorum: 5, eligibleTags: {}, claimTimeoutMs: 100, claimBackoffMaxMs: 400, syncIntervalMs: 1000 }, engine, node, { scheduler, random: new SeededRandom(3), store: new MemoryGrantStore(), defer: (fn) => afterTurn.first(fn) });
  const registry = new Registry();
  const metrics = { partitionChanges: new Counter({ name: 'c', help: 'c', registers: [registry] }), failoverCompute: new Histogram({ name: 'h', help: 'h', registers: [registry] }) };
  const hub = new WatchHub(16, () => ({ type: 'snapshot', members: [...view.values()].map(memberView), partitions: partitionsView(leadership.snapshot()) }), 1 << 20, () => afterTurn.drain());
  wireEventPipeline(node, leadership, hub, pino({ level: 'silent' }), metrics, (fn) => afterTurn.later(fn));
  leadership.start();
  afterTurn.drain();
  const early = new FakeResponse();
  early.write = (text: string): boolean => {
    early.written.push(text);
    order.push(`line ${(JSON.parse(text) as WatchLine).type}`);
    return true;
  };
  hub.add(early as unknown as ServerResponse);
  order.length = 0;

  const victim = 'm3';
  const victimsPrimaries = [...engine.snapshot().partitions].filter((p) => p.primary === victim).map((p) => p.id);
  const dead = member(victim, 'dead', 1);
  view.set(victim, dead);
  for (const l of listeners) l({ kind: 'dead', member: dead, from: 'm1' });
  assert.ok(order.length > 0 && order.every((o) => o === 'datagram'), `only claims leave inside the turn: ${order.join(', ')}`);

  // A reader that connects before the turn ends: its snapshot already shows the death, so it gets no line about it.
  const late = new FakeResponse();
  hub.add(late as unknown as ServerResponse);
  const lateLines = late.written.map((l) => JSON.parse(l) as WatchLine);
  assert.equal(lateLines.length, 1);
  const snap = lateLines[0]!;
  assert.ok(snap.type === 'snapshot');
  assert.ok(snap.partitions.partitions.every((p) => p.primary !== victim && !p.replicas.includes(victim)), 'the snapshot shows the death');
  // The earlier reader got the lines first, in the order of the events: member, then partitions.
  const earlyLines = early.written.slice(1).map((l) => (JSON.parse(l) as WatchLine).type);
  assert.deepEqual(earlyLines, ['member', 'partitions']);
  const firstLine = order.findIndex((o) => o.startsWith('line'));
  assert.ok(firstLine > 0 && order.slice(0, firstLine).every((o) => o === 'datagram'));
  for (const fn of turns.splice(0)) fn();
  assert.deepEqual(early.written.slice(1).map((l) => (JSON.parse(l) as WatchLine).type), ['member', 'partitions'], 'no line twice');
  assert.equal(late.written.length, 1);
  // Nobody granted the claims: the victim's partitions show no primary, neither in the table nor on the stream.
  const shown = leadership.snapshot().partitions;
  for (const id of victimsPrimaries) assert.equal(shown.get(id).primary, null);
  const line = JSON.parse(early.written[2]!) as WatchLine;
  assert.ok(line.type === 'partitions' && line.changed.every((c) => c.newPrimary === null || c.newPrimary !== 'm0' || leadership.ownership!.heldEpoch(c.id) > 0));
  leadership.stop();
});

test('eligibility: granted fencing needs the ownership tag, and every selector tag must match exactly', () => {
  const m = (tags: Record<string, string>) => ({ tags }) as unknown as Parameters<ReturnType<typeof eligibilityOf>>[0];
  const own = { [OWNERSHIP_TAG]: OWNERSHIP_TAG_VALUE };
  const granted = eligibilityOf({ fencing: 'granted', eligibleTags: { tier: 'db', rack: 'r7' } });
  assert.equal(granted(m({ ...own, tier: 'db', rack: 'r7', zone: 'a' })), true);
  assert.equal(granted(m({ tier: 'db', rack: 'r7' })), false, 'no ownership tag');
  assert.equal(granted(m({ ...own, tier: 'db' })), false, 'a selector tag missing');
  assert.equal(granted(m({ ...own, tier: 'db', rack: 'r8' })), false, 'a selector tag with another value');
  const view = eligibilityOf({ fencing: 'view', eligibleTags: {} });
  assert.equal(view(m({})), true, 'view fencing with no selector: everyone');
  assert.equal(eligibilityOf({ fencing: 'view', eligibleTags: { tier: '' } })(m({})), false, 'an empty wanted value still needs the tag');
});
