// The grant rules of quorum-granted epochs, on Ownership instances wired by a
// small in-test network in virtual time (views are set by hand).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ownership, type OwnershipView } from '../../src/partition/ownership.js';
import { MemoryGrantStore, type Grant } from '../../src/partition/grant-store.js';
import { decodeOwnership, encodeOwnership, OwnershipKind, type OwnershipMsg } from '../../src/partition/ownership-wire.js';
import { SeededRandom } from '../../src/core/prng.js';
import { VirtualScheduler } from '../../src/sim/virtual-scheduler.js';

interface Member {
  name: string;
  own: Ownership;
  store: MemoryGrantStore;
  rightful: Map<number, string>;
  alive: Set<string>;
  /** Payloads this member sent, decoded. */
  sent: { to: string; msg: OwnershipMsg }[];
}

function group(names: string[], quorum: number, partitions = 4) {
  const clock = new VirtualScheduler();
  const random = new SeededRandom(7);
  const blocked = new Set<string>();
  const members = new Map<string, Member>();
  const merged: string[] = [];
  const make = (name: string, store: MemoryGrantStore): Member => {
    const m: Member = { name, own: undefined as unknown as Ownership, store, rightful: members.get(name)?.rightful ?? new Map(), alive: members.get(name)?.alive ?? new Set(names), sent: [] };
    const view: OwnershipView = {
      rightful: (p) => m.rightful.get(p) ?? null,
      aliveEligibleCount: () => m.alive.size,
      aliveEligible: () => m.alive,
      isAliveEligible: (n) => m.alive.has(n),
      isEligibleMember: (n) => names.includes(n),
      outranking: () => [],
      listeners: () => m.alive,
    };
    m.own = new Ownership(
      { self: name, partitions, quorum, claimTimeoutMs: 100, claimBackoffMaxMs: 400, syncIntervalMs: 1_000, syncMessagesPerTick: 2, maxEvidence: 8 },
      {
        scheduler: clock,
        random: random.fork(),
        view,
        store,
        send: (to, payload) => {
          const d = decodeOwnership(payload);
          assert.ok(d.ok);
          m.sent.push({ to, msg: d.msg });
          if (blocked.has(`${name}>${to}`)) return true;
          clock.setTimer(1, () => members.get(to)?.own.onMessage(payload));
          return true;
        },
        budgetBytes: () => 1_200,
        evidenceOf: (ns) => [...ns].map((n) => new TextEncoder().encode(`${name} says ${n}`)),
        mergeEvidence: (msgs) => {
          for (const e of msgs) merged.push(`${name} merged "${new TextDecoder().decode(e)}"`);
        },
      },
    );
    members.set(name, m);
    return m;
  };
  for (const n of names) make(n, new MemoryGrantStore());
  const get = (n: string): Member => members.get(n)!;
  const setRightful = (p: number, who: string, observers = names): void => {
    for (const o of observers) get(o).rightful.set(p, who);
  };
  const cut = (side: string[], rest: string[]): void => {
    for (const a of side) for (const b of rest) {
      blocked.add(`${a}>${b}`);
      blocked.add(`${b}>${a}`);
    }
  };
  const heal = (): void => blocked.clear();
  return { clock, get, setRightful, cut, heal, merged, restart: (n: string) => make(n, get(n).store.reopen()), start: () => { for (const n of names) get(n).own.start(); } };
}

test('the rightful primary gets a quorum-granted epoch and announces it; everyone learns the owner', () => {
  const g = group(['a', 'b', 'c', 'd', 'e'], 3);
  g.setRightful(0, 'a');
  g.get('a').own.reconcile([0]);
  assert.equal(g.get('a').own.heldEpoch(0), 0, 'not before the grants arrive');
  g.clock.advance(10);
  assert.equal(g.get('a').own.heldEpoch(0), 1);
  for (const n of ['b', 'c', 'd', 'e']) {
    assert.equal(g.get(n).own.knownOwnerOf(0), 'a');
    assert.equal(g.get(n).own.knownEpochOf(0), 1);
  }
  // Every grant was recorded before it was sent: each granter's store holds it.
  for (const n of ['b', 'c', 'd', 'e']) assert.deepEqual(g.get(n).store.load(), [{ partition: 0, epoch: 1, to: 'a' } satisfies Grant]);
});

test('a granter grants an epoch once: a second claimant for the same epoch is refused, the same claimant again is not', () => {
  const g = group(['a', 'b', 'c'], 2);
  const claim = (claimant: string, epoch: number, requestId: number) =>
    encodeOwnership({ kind: OwnershipKind.Claim, requestId, claimant, evidence: [], entries: [{ partition: 1, epoch }] });
  const votes = () => g.get('c').sent.filter((s) => s.msg.kind === OwnershipKind.Vote).map((s) => {
    const v = s.msg as Extract<OwnershipMsg, { kind: OwnershipKind.Vote }>;
    return `${s.to}:${v.entries[0]!.epoch}:${v.entries[0]!.granted ? 'yes' : 'no'}:${v.entries[0]!.promised}`;
  });
  g.setRightful(1, 'a', ['c']);
  g.get('c').own.onMessage(claim('a', 5, 1));
  // c's view changes (it now ranks b first), and b asks for the very same epoch.
  g.setRightful(1, 'b', ['c']);
  g.get('c').own.onMessage(claim('b', 5, 1));
  g.setRightful(1, 'a', ['c']);
  g.get('c').own.onMessage(claim('a', 5, 2));
  g.get('c').own.onMessage(claim('a', 4, 3));
  g.setRightful(1, 'b', ['c']);
  g.get('c').own.onMessage(claim('b', 6, 2));
  assert.deepEqual(votes(), ['a:5:yes:5', 'b:5:no:5', 'a:5:yes:5', 'a:4:no:5', 'b:6:yes:6']);
});

test('a claimant that is not rightful in the granter\'s view is refused, and the refusal tells it the epoch to beat', () => {
  const g = group(['a', 'b', 'c'], 2);
  g.setRightful(2, 'a', ['a']);
  g.setRightful(2, 'b', ['b', 'c']);
  g.get('b').own.reconcile([2]);
  g.clock.advance(10);
  assert.equal(g.get('b').own.heldEpoch(2), 1);
  g.get('a').own.reconcile([2]);
  g.clock.advance(5);
  assert.equal(g.get('a').own.heldEpoch(2), 0, 'a gets no grant from b or c');
  assert.ok(g.get('a').own.stats.roundsFailed >= 1);
});

test('an isolated primary keeps its old epoch; the majority\'s new primary gets a higher one; on the heal the old one learns it and stops', () => {
  const names = ['a', 'b', 'c', 'd', 'e'];
  const g = group(names, 3);
  g.start();
  g.setRightful(0, 'a');
  g.get('a').own.reconcile([0]);
  g.clock.advance(10);
  assert.equal(g.get('a').own.heldEpoch(0), 1);
  // a is cut off. The majority sees it dead; b becomes rightful there. a still sees everyone (not yet detected).
  g.cut(['a'], ['b', 'c', 'd', 'e']);
  for (const n of ['b', 'c', 'd', 'e']) g.get(n).alive.delete('a');
  g.setRightful(0, 'b', ['b', 'c', 'd', 'e']);
  g.get('b').own.reconcile([0]);
  g.clock.advance(10);
  assert.equal(g.get('b').own.heldEpoch(0), 2, 'the majority side commits a higher epoch without a');
  assert.equal(g.get('a').own.heldEpoch(0), 1, 'a cannot know yet: storage fences it by the token');
  // a's own claims cannot succeed while it is cut off, whatever it believes.
  g.get('a').own.reconcile(null);
  g.clock.advance(500);
  assert.equal(g.get('a').own.heldEpoch(0), 1);
  g.heal();
  g.get('b').own.memberAlive('a');
  g.clock.advance(10);
  assert.equal(g.get('a').own.heldEpoch(0), 0, 'a learns epoch 2 and stops holding 1');
  assert.equal(g.get('a').own.stats.deposed, 1);
});

test('grants survive a restart: a restarted granter refuses an epoch it granted before, to anyone else', () => {
  const g = group(['a', 'b', 'c'], 2);
  g.setRightful(3, 'a');
  g.get('a').own.reconcile([3]);
  g.clock.advance(10);
  assert.equal(g.get('a').own.heldEpoch(3), 1);
  const c = g.restart('c');
  assert.equal(c.store.fresh, false);
  assert.equal(c.own.promisedEpochOf(3), 1);
  c.rightful.set(3, 'b');
  c.own.onMessage(encodeOwnership({ kind: OwnershipKind.Claim, requestId: 9, claimant: 'b', evidence: [], entries: [{ partition: 3, epoch: 1 }] }));
  const v = c.sent.at(-1)!.msg as Extract<OwnershipMsg, { kind: OwnershipKind.Vote }>;
  assert.equal(v.entries[0]!.granted, false);
  assert.equal(v.entries[0]!.promised, 1);
});

test('a late grant for an earlier request is not counted towards a newer round', () => {
  const g = group(['a', 'b', 'c', 'd', 'e'], 3);
  g.setRightful(0, 'a');
  g.cut(['a'], ['b', 'c', 'd', 'e']);
  g.get('a').own.reconcile([0]);
  g.clock.advance(1_000);
  const a = g.get('a');
  const claims = a.sent.filter((s) => s.msg.kind === OwnershipKind.Claim).map((s) => s.msg as Extract<OwnershipMsg, { kind: OwnershipKind.Claim }>);
  assert.ok(new Set(claims.map((c) => c.requestId)).size >= 2, 'a retried with new requests');
  const first = claims[0]!;
  const before = a.own.stats.staleVotes;
  // Two grants answering the first request arrive now: they must not make a hold the current epoch.
  for (const granter of ['b', 'c']) a.own.onMessage(encodeOwnership({ kind: OwnershipKind.Vote, requestId: first.requestId, granter, entries: [{ partition: 0, epoch: first.entries[0]!.epoch, granted: true, promised: first.entries[0]!.epoch }] }));
  assert.equal(a.own.heldEpoch(0), 0);
  assert.equal(a.own.stats.staleVotes - before, 2);
});

test('more eligible members alive than 2 × quorum − 1: nobody claims and nobody grants', () => {
  const g = group(['a', 'b', 'c', 'd'], 2);
  g.setRightful(0, 'a');
  g.get('a').own.reconcile([0]);
  g.clock.advance(50);
  assert.equal(g.get('a').own.heldEpoch(0), 0);
  assert.ok(g.get('a').own.universeExceeded());
  g.get('b').own.onMessage(encodeOwnership({ kind: OwnershipKind.Claim, requestId: 1, claimant: 'a', evidence: [], entries: [{ partition: 0, epoch: 1 }] }));
  const v = g.get('b').sent.at(-1)!.msg as Extract<OwnershipMsg, { kind: OwnershipKind.Vote }>;
  assert.equal(v.entries[0]!.granted, false);
});

test('a granter merges the claim\'s evidence before deciding', () => {
  const g = group(['a', 'b', 'c'], 2);
  g.setRightful(0, 'b');
  g.get('b').own.reconcile([0]);
  g.clock.advance(10);
  assert.ok(g.merged.some((s) => s === 'a merged "b says b"'), g.merged.join('; '));
});

test('a store that cannot record refuses the grant instead of sending it', () => {
  const g = group(['a', 'b', 'c'], 2);
  g.get('c').store.record = () => {
    throw new Error('disk full');
  };
  g.get('c').rightful.set(0, 'a');
  g.get('c').own.onMessage(encodeOwnership({ kind: OwnershipKind.Claim, requestId: 1, claimant: 'a', evidence: [], entries: [{ partition: 0, epoch: 1 }] }));
  const v = g.get('c').sent.at(-1)!.msg as Extract<OwnershipMsg, { kind: OwnershipKind.Vote }>;
  assert.equal(v.entries[0]!.granted, false);
  assert.equal(g.get('c').own.stats.dropped['store-failed'], 1);
});

test('ownership messages round-trip; garbage, truncation and foreign payloads are refused by reason', () => {
  const msgs: OwnershipMsg[] = [
    { kind: OwnershipKind.Claim, requestId: 77, claimant: 'nöde-1', evidence: [Uint8Array.from([1, 2, 3])], entries: [{ partition: 0, epoch: 2 ** 53 - 1 }, { partition: 1_000_000, epoch: 1 }] },
    { kind: OwnershipKind.Vote, requestId: 1, granter: 'g', entries: [{ partition: 3, epoch: 9, granted: true, promised: 9 }, { partition: 4, epoch: 9, granted: false, promised: 12 }, { partition: 5, epoch: 9, granted: false, promised: 9, claimantRightful: true }] },
    { kind: OwnershipKind.Commit, owner: 'o', entries: [] },
    { kind: OwnershipKind.Sync, sender: 's', groups: [{ owner: 'x', entries: [{ partition: 5, epoch: 6 }] }] },
  ];
  for (const m of msgs) {
    const bytes = encodeOwnership(m);
    assert.deepEqual(decodeOwnership(bytes), { ok: true, msg: m });
    for (let cut = 3; cut < bytes.length; cut++) assert.equal(decodeOwnership(bytes.subarray(0, cut)).ok, false, `truncated at ${cut}`);
  }
  assert.deepEqual(decodeOwnership(Uint8Array.from([0x03, 1, 2])), { ok: false, reason: 'not-ownership' });
  assert.deepEqual(decodeOwnership(Uint8Array.from([0xf5, 9, 1])), { ok: false, reason: 'bad-version' });
  assert.deepEqual(decodeOwnership(Uint8Array.from([0xf5, 1, 99])), { ok: false, reason: 'unknown-kind' });
  assert.deepEqual(decodeOwnership(Uint8Array.from([0xf5, 1, 3, 1, 0x6f, 0xff, 0xff, 0x03])), { ok: false, reason: 'too-many-entries' });
  // A vote's granted byte is 0, 1 or 2 (refused only for the epoch); anything else is malformed.
  assert.deepEqual(decodeOwnership(Uint8Array.from([0xf5, 1, 2, 1, 1, 0x67, 1, 0, 1, 3, 1])), { ok: false, reason: 'malformed' });
  const random = new SeededRandom(3);
  for (let i = 0; i < 2_000; i++) {
    const b = new Uint8Array(3 + random.int(60));
    random.fill(b);
    b[0] = 0xf5;
    b[1] = 1;
    b[2] = 1 + random.int(4);
    const d = decodeOwnership(b);
    if (d.ok) assert.ok(d.msg.kind >= 1 && d.msg.kind <= 4);
  }
});

test('a hint carries the death to a successor that missed it, and is merged like gossip', () => {
  const g = group(['a', 'b', 'c'], 2);
  g.get('b').own.hintSuccessors('a', ['c', 'b']);
  g.clock.advance(5);
  const hints = g.get('b').sent.filter((s) => s.msg.kind === OwnershipKind.Hint);
  assert.deepEqual(hints.map((h) => h.to), ['c'], 'sent to the successor, not to itself');
  assert.ok(g.merged.includes('c merged "b says a"'), g.merged.join('; '));
  const bytes = encodeOwnership({ kind: OwnershipKind.Hint, sender: 'b', evidence: [Uint8Array.from([1, 2])] });
  assert.deepEqual(decodeOwnership(bytes), { ok: true, msg: { kind: OwnershipKind.Hint, sender: 'b', evidence: [Uint8Array.from([1, 2])] } });
});

/** A disk whose writes finish when the test says so: what a granter answers before its write is durable shows. */
class HeldStore extends MemoryGrantStore {
  onWrite: (() => void) | null = null;
  readonly calls: { grants: readonly Grant[]; done: (err: Error | null) => void }[] = [];
  recordAsync(grants: readonly Grant[], done: (err: Error | null) => void): void {
    this.onWrite?.();
    this.calls.push({ grants, done });
  }
  finish(i: number, err: Error | null = null): void {
    const c = this.calls[i]!;
    if (err === null) this.record(c.grants);
    c.done(err);
  }
}

/** One Ownership instance with deferred writes: `turn()` runs what it deferred, as the end of an event-loop turn would. */
function lone(self: string, quorum: number) {
  const clock = new VirtualScheduler();
  const store = new HeldStore();
  const deferred: (() => void)[] = [];
  const sent: { to: string; msg: OwnershipMsg }[] = [];
  const alive = new Set(['a', 'b', 'c']);
  const order: string[] = [];
  /** Rightful primary by this member's view: 'a' unless the test says otherwise. */
  const rightful = new Map<number, string>();
  const view: OwnershipView = {
    rightful: (p) => rightful.get(p) ?? 'a',
    aliveEligibleCount: () => alive.size,
    aliveEligible: () => alive,
    isAliveEligible: (n) => alive.has(n),
    isEligibleMember: (n) => alive.has(n),
    outranking: () => [],
    listeners: () => alive,
  };
  const own = new Ownership(
    { self, partitions: 8, quorum, claimTimeoutMs: 100, claimBackoffMaxMs: 400, syncIntervalMs: 1_000, syncMessagesPerTick: 2, maxEvidence: 8 },
    {
      scheduler: clock,
      random: new SeededRandom(5),
      view,
      store,
      send: (to, payload) => {
        const d = decodeOwnership(payload);
        assert.ok(d.ok);
        sent.push({ to, msg: d.msg });
        return true;
      },
      budgetBytes: () => 1_200,
      evidenceOf: () => [],
      mergeEvidence: (msgs) => {
        for (const m of msgs) order.push(`merged ${new TextDecoder().decode(m)}`);
      },
      defer: (fn) => deferred.push(fn),
    },
  );
  store.onWrite = () => order.push('write');
  const turn = (): void => {
    // What a deferred task defers runs in the same turn, behind it (as AfterTurn.drain does).
    for (let i = 0; i < 100 && deferred.length > 0; i++) deferred.shift()!();
  };
  const claim = (requestId: number, partition: number, epoch: number): Uint8Array =>
    encodeOwnership({ kind: OwnershipKind.Claim, requestId, claimant: 'a', evidence: [], entries: [{ partition, epoch }] });
  const votes = () => sent.filter((s) => s.msg.kind === OwnershipKind.Vote).map((s) => s.msg as Extract<OwnershipMsg, { kind: OwnershipKind.Vote }>);
  return { own, store, sent, turn, claim, votes, order, rightful };
}

test('a granter answers only after its grants are durable; the claims of one turn share one write, and later ones wait for it', () => {
  const g = lone('b', 2);
  g.own.onMessage(g.claim(1, 0, 1));
  g.own.onMessage(g.claim(2, 1, 1));
  assert.equal(g.store.calls.length, 0, 'nothing is written inside the turn');
  assert.equal(g.votes().length, 0);
  g.turn();
  assert.equal(g.store.calls.length, 1, 'one write for both claims');
  assert.deepEqual(g.store.calls[0]!.grants.map((x) => x.partition), [0, 1]);
  assert.equal(g.votes().length, 0, 'no answer while the write is in flight');
  // A claim for another partition while the write is in flight.
  g.own.onMessage(g.claim(3, 2, 1));
  g.turn();
  assert.equal(g.store.calls.length, 1, 'the next write waits for the one in flight');
  g.store.finish(0);
  assert.deepEqual(g.votes().map((v) => [v.requestId, v.entries[0]!.granted]), [[1, true], [2, true]]);
  g.turn();
  assert.equal(g.store.calls.length, 2);
  assert.equal(g.votes().length, 2, 'the third answer waits for its own write');
  g.store.finish(1);
  assert.deepEqual(g.votes().map((v) => [v.requestId, v.entries[0]!.granted]), [[1, true], [2, true], [3, true]]);
  assert.equal(g.own.promisedEpochOf(2), 1);
});

test('a grant whose write failed is refused, and the same claim again is not granted from memory', () => {
  const g = lone('b', 2);
  g.own.onMessage(g.claim(1, 0, 1));
  g.turn();
  g.store.finish(0, new Error('disk full'));
  assert.deepEqual(g.votes().map((v) => v.entries[0]!.granted), [false]);
  g.own.onMessage(g.claim(1, 0, 1));
  g.turn();
  assert.equal(g.store.calls.length, 1, 'nothing new to write');
  assert.deepEqual(g.votes().map((v) => v.entries[0]!.granted), [false, false], 'an epoch promised only in memory is not granted again');
  assert.equal(g.store.load().length, 0);
});

test('a claimant sends its claims before writing its own grant, and holds nothing until a quorum of durable grants', () => {
  const g = lone('a', 2);
  g.own.reconcile([0]);
  const claims = g.sent.filter((s) => s.msg.kind === OwnershipKind.Claim);
  assert.deepEqual(claims.map((c) => c.to).sort(), ['b', 'c'], 'the claims left in the turn');
  assert.equal(g.store.calls.length, 0, 'its own grant is written after');
  const c = claims[0]!.msg as Extract<OwnershipMsg, { kind: OwnershipKind.Claim }>;
  const epoch = c.entries[0]!.epoch;
  const vote = (granter: string): Uint8Array => encodeOwnership({ kind: OwnershipKind.Vote, requestId: c.requestId, granter, entries: [{ partition: 0, epoch, granted: true, promised: epoch }] });
  g.turn();
  assert.equal(g.store.calls.length, 1);
  g.own.onMessage(vote('b'));
  assert.equal(g.own.heldEpoch(0), 0, 'one durable grant of two: its own is still in flight');
  g.store.finish(0);
  assert.equal(g.own.heldEpoch(0), epoch, 'held once its own grant is durable too');
  assert.ok(g.sent.some((s) => s.msg.kind === OwnershipKind.Commit));
});

test('a claimant whose own write fails does not count itself: it holds only with a quorum of other granters', () => {
  const g = lone('a', 2);
  g.own.reconcile([0]);
  const c = g.sent.find((s) => s.msg.kind === OwnershipKind.Claim)!.msg as Extract<OwnershipMsg, { kind: OwnershipKind.Claim }>;
  g.turn();
  g.store.finish(0, new Error('disk full'));
  const epoch = c.entries[0]!.epoch;
  g.own.onMessage(encodeOwnership({ kind: OwnershipKind.Vote, requestId: c.requestId, granter: 'b', entries: [{ partition: 0, epoch, granted: true, promised: epoch }] }));
  assert.equal(g.own.heldEpoch(0), 0, 'the round was dropped with the failed write');
});

test('a granter whose view already makes the claimant rightful decides without the evidence and merges it after the write began; otherwise it merges first', () => {
  const g = lone('b', 2);
  const withEvidence = (requestId: number, partition: number): Uint8Array =>
    encodeOwnership({ kind: OwnershipKind.Claim, requestId, claimant: 'a', evidence: [new TextEncoder().encode(`news ${requestId}`)], entries: [{ partition, epoch: 1 }] });
  g.own.onMessage(withEvidence(1, 0));
  assert.deepEqual(g.order, [], 'not merged before the answer is decided');
  g.turn();
  assert.deepEqual(g.order, ['write', 'merged news 1']);
  g.store.finish(0);
  assert.deepEqual(g.votes().map((v) => v.entries[0]!.granted), [true]);
  // Here the claimant is not rightful yet: the evidence may be what makes it so, so it is merged at once.
  g.rightful.set(1, 'c');
  g.own.onMessage(withEvidence(2, 1));
  assert.deepEqual(g.order.slice(2), ['merged news 2']);
});

test('the same claim again while its grant is being written waits for it, and is refused if that write fails', () => {
  const g = lone('b', 2);
  g.own.onMessage(g.claim(1, 0, 1));
  g.turn();
  assert.equal(g.store.calls.length, 1);
  g.own.onMessage(g.claim(1, 0, 1));
  g.turn();
  assert.equal(g.votes().length, 0, 'the repeat waits for the write in flight');
  g.store.finish(0, new Error('disk full'));
  g.turn();
  assert.deepEqual(g.votes().map((v) => v.entries[0]!.granted), [false, false], 'neither answer grants an epoch that is not on disk');
  assert.equal(g.own.stats.grantsGiven, 0);
});

/** The claims a member sent for partition p, as `requestId:epoch`, once per request. */
function claimsFor(m: { sent: { to: string; msg: OwnershipMsg }[] }, p: number): string[] {
  const out = new Set<string>();
  for (const s of m.sent) {
    if (s.msg.kind !== OwnershipKind.Claim) continue;
    for (const e of s.msg.entries) if (e.partition === p) out.add(`${s.msg.requestId}:${e.epoch}`);
  }
  return [...out];
}

test('members that claimed from a view that changed at once do not delay the rightful primary: it asks again above their epoch without the back-off', () => {
  // A death that flips two steps of each survivor's view (first every survivor computes itself
  // primary and claims, then its view settles on a): b, c and d promised epoch 1 to themselves, so
  // a's first claim is refused by all three, each of which sees a rightful.
  const g = group(['a', 'b', 'c', 'd'], 3);
  for (const n of ['b', 'c', 'd']) {
    g.setRightful(0, n, [n]);
    g.get(n).own.reconcile([0]);
    g.setRightful(0, 'a', [n]);
    g.get(n).own.reconcile([0]);
  }
  g.setRightful(0, 'a', ['a']);
  g.get('a').own.reconcile([0]);
  // Messages take 1 ms: the refusals are back after 2 ms, the second round's grants after 4 ms.
  g.clock.advance(10);
  assert.equal(g.get('a').own.heldEpoch(0), 2, 'a holds the epoch above the taken one within a few message delays, not after the back-off (50-100 ms here)');
  assert.deepEqual(claimsFor(g.get('a'), 0), ['1:1', '2:2']);
  assert.equal(g.get('a').own.stats.retriedAtOnce, 1);
  for (const n of ['b', 'c', 'd']) {
    assert.equal(g.get(n).own.heldEpoch(0), 0);
    assert.equal(g.get(n).own.knownOwnerOf(0), 'a');
    assert.equal(g.get(n).own.knownEpochOf(0), 2);
  }
});

test('a refused claim is asked again at once only when every refusal was for the epoch alone, and once until it commits', () => {
  const g = group(['a', 'b', 'c', 'd'], 3);
  // a's claims go nowhere: the votes below are the granters' answers, written by hand.
  g.cut(['a'], ['b', 'c', 'd']);
  g.setRightful(0, 'a', ['a']);
  const refuse = (granter: string, requestId: number, epoch: number, promised: number, claimantRightful: boolean) =>
    g.get('a').own.onMessage(encodeOwnership({ kind: OwnershipKind.Vote, requestId, granter, entries: [{ partition: 0, epoch, granted: false, promised, ...(claimantRightful ? { claimantRightful: true } : {}) }] }));
  g.get('a').own.reconcile([0]);
  assert.deepEqual(claimsFor(g.get('a'), 0), ['1:1']);
  // One refusal did not see a rightful: the round fails on the second refusal and waits for the back-off.
  refuse('b', 1, 1, 1, true);
  refuse('c', 1, 1, 3, false);
  assert.deepEqual(claimsFor(g.get('a'), 0), ['1:1'], 'no claim before the back-off');
  g.clock.advance(101);
  assert.deepEqual(claimsFor(g.get('a'), 0), ['1:1', '2:4'], 'the back-off (50-100 ms) ran out: above the highest epoch refused');
  // Both refusals for the epoch alone: asked again at once.
  refuse('b', 2, 4, 4, true);
  refuse('d', 2, 4, 4, true);
  assert.deepEqual(claimsFor(g.get('a'), 0), ['1:1', '2:4', '3:5']);
  // The same once more before a commit: back to the back-off, so views that flip back and forth do not duel in lockstep.
  refuse('b', 3, 5, 5, true);
  refuse('c', 3, 5, 5, true);
  assert.deepEqual(claimsFor(g.get('a'), 0), ['1:1', '2:4', '3:5']);
  assert.equal(g.get('a').own.stats.retriedAtOnce, 1);
  // The back-off has grown (100-200 ms after a second failure); step to the claim, so its round is still open.
  for (let i = 0; i < 250 && claimsFor(g.get('a'), 0).length < 4; i++) g.clock.advance(1);
  assert.deepEqual(claimsFor(g.get('a'), 0), ['1:1', '2:4', '3:5', '4:6']);
  // A commit gives the partition its one quick retry back.
  for (const granter of ['b', 'c']) g.get('a').own.onMessage(encodeOwnership({ kind: OwnershipKind.Vote, requestId: 4, granter, entries: [{ partition: 0, epoch: 6, granted: true, promised: 6 }] }));
  assert.equal(g.get('a').own.heldEpoch(0), 6);
  g.get('a').own.onMessage(encodeOwnership({ kind: OwnershipKind.Commit, owner: 'b', entries: [{ partition: 0, epoch: 7 }] }));
  const before = claimsFor(g.get('a'), 0);
  assert.equal(before.at(-1), '5:8', 'deposed by a higher epoch while still rightful: it claims above it');
  refuse('c', 5, 8, 8, true);
  refuse('d', 5, 8, 8, true);
  assert.deepEqual(claimsFor(g.get('a'), 0), [...before, '6:9']);
  assert.equal(g.get('a').own.stats.retriedAtOnce, 2);
});

test('a granter says when it refuses only for the epoch: the claimant is rightful in its view', () => {
  const g = group(['a', 'b', 'c'], 2);
  const claim = (claimant: string, epoch: number, requestId: number) =>
    encodeOwnership({ kind: OwnershipKind.Claim, requestId, claimant, evidence: [], entries: [{ partition: 1, epoch }] });
  const votes = () => g.get('c').sent.filter((s) => s.msg.kind === OwnershipKind.Vote).map((s) => {
    const e = (s.msg as Extract<OwnershipMsg, { kind: OwnershipKind.Vote }>).entries[0]!;
    return `${s.to}:${e.epoch}:${e.granted ? 'yes' : e.claimantRightful === true ? 'epoch-taken' : 'no'}`;
  });
  g.setRightful(1, 'b', ['c']);
  g.get('c').own.onMessage(claim('b', 3, 1));
  g.setRightful(1, 'a', ['c']);
  g.get('c').own.onMessage(claim('a', 3, 1));
  g.get('c').own.onMessage(claim('b', 4, 2));
  g.get('c').own.onMessage(claim('a', 2, 2));
  g.get('c').own.onMessage(claim('a', 4, 3));
  assert.deepEqual(votes(), ['b:3:yes', 'a:3:epoch-taken', 'b:4:no', 'a:2:epoch-taken', 'a:4:yes']);
});
