// The columnar encoder of claims and commits, and the sized encoder of votes, against the reference path
// (packEntries over encodeOwnership): the same messages, byte for byte, split
// at the same points, for random partitions, epochs, names, evidence and budgets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeOwnership, encodeEntriesPacked, encodeOwnership, encodeVotesPacked, OwnershipKind, packEntries, type EpochEntry, type VoteEntry } from '../../src/partition/ownership-wire.js';
import { SeededRandom } from '../../src/core/prng.js';

/** A value whose LEB128 length is 1 to 8 bytes, up to 2^53 − 1. */
function varied(r: SeededRandom): number {
  const bits = [6, 7, 13, 14, 20, 21, 27, 28, 35, 42, 49, 53][r.int(12)]!;
  return Math.min(Number.MAX_SAFE_INTEGER, Math.floor(r.next() * 2 ** bits));
}

function randomCase(r: SeededRandom): { parts: Int32Array; epochs: Float64Array; entries: EpochEntry[]; name: string; evidence: Uint8Array[]; budget: number; requestId: number } {
  const n = r.int(3) === 0 ? r.int(4) : r.int(3000);
  const parts = new Int32Array(n);
  const epochs = new Float64Array(n);
  const entries: EpochEntry[] = [];
  for (let i = 0; i < n; i++) {
    parts[i] = r.int(2) === 0 ? r.int(128) : r.int(1 << 20);
    epochs[i] = r.int(2) === 0 ? 1 + r.int(100) : varied(r);
    entries.push({ partition: parts[i]!, epoch: epochs[i]! });
  }
  const name = ['m1', 'node-é-ü', 'a'.repeat(1 + r.int(300)), '節点'][r.int(4)]!;
  const evidence = Array.from({ length: r.int(5) }, () => Uint8Array.from({ length: r.int(200) }, () => r.int(256)));
  const budget = [64, 200, 1200, 1400, 65000][r.int(5)]!;
  return { parts, epochs, entries, name, evidence, budget, requestId: varied(r) };
}

function assertSame(got: Uint8Array[], want: Uint8Array[]): void {
  assert.equal(got.length, want.length, 'number of messages');
  for (let i = 0; i < want.length; i++) assert.deepEqual(Buffer.from(got[i]!), Buffer.from(want[i]!), `message ${i}`);
}

test('claims encoded from columns are byte-equal to packEntries over encodeOwnership', () => {
  const r = new SeededRandom(41);
  for (let round = 0; round < 300; round++) {
    const c = randomCase(r);
    const want = packEntries(c.entries, c.budget, (slice) => encodeOwnership({ kind: OwnershipKind.Claim, requestId: c.requestId, claimant: c.name, evidence: c.evidence, entries: [...slice] }));
    const got = encodeEntriesPacked({ kind: OwnershipKind.Claim, requestId: c.requestId, claimant: c.name, evidence: c.evidence }, c.parts, c.epochs, c.budget);
    assertSame(got, want);
  }
});

test('commits encoded from columns are byte-equal to packEntries over encodeOwnership', () => {
  const r = new SeededRandom(42);
  for (let round = 0; round < 300; round++) {
    const c = randomCase(r);
    const want = packEntries(c.entries, c.budget, (slice) => encodeOwnership({ kind: OwnershipKind.Commit, owner: c.name, entries: [...slice] }));
    const got = encodeEntriesPacked({ kind: OwnershipKind.Commit, owner: c.name }, c.parts, c.epochs, c.budget);
    assertSame(got, want);
  }
});

test('votes encoded at their size are byte-equal to packEntries over encodeOwnership', () => {
  const r = new SeededRandom(43);
  for (let round = 0; round < 300; round++) {
    const c = randomCase(r);
    const votes: VoteEntry[] = c.entries.map((e) => {
      const v: VoteEntry = { partition: e.partition, epoch: e.epoch, granted: r.int(2) === 0, promised: r.int(2) === 0 ? e.epoch : varied(r) };
      if (!v.granted && r.int(2) === 0) v.claimantRightful = true;
      return v;
    });
    const want = packEntries(votes, c.budget, (slice) => encodeOwnership({ kind: OwnershipKind.Vote, requestId: c.requestId, granter: c.name, entries: [...slice] }));
    assertSame(encodeVotesPacked(c.requestId, c.name, votes, c.budget), want);
  }
});

test('a large claim is split under the budget and decodes to every entry in order', () => {
  const n = 5000;
  const parts = Int32Array.from({ length: n }, (_, i) => i * 13);
  const epochs = Float64Array.from({ length: n }, (_, i) => 1 + i * 1000);
  const messages = encodeEntriesPacked({ kind: OwnershipKind.Claim, requestId: 7, claimant: 'm0', evidence: [Uint8Array.from([1, 2, 3])] }, parts, epochs, 1200);
  assert.ok(messages.length > 1);
  const seen: EpochEntry[] = [];
  for (const m of messages) {
    assert.ok(m.length <= 1200, `message of ${m.length} bytes`);
    const d = decodeOwnership(m);
    assert.ok(d.ok && d.msg.kind === OwnershipKind.Claim);
    if (d.ok && d.msg.kind === OwnershipKind.Claim) seen.push(...d.msg.entries);
  }
  assert.deepEqual(seen, Array.from(parts, (p, i) => ({ partition: p, epoch: epochs[i]! })));
});

test('an epoch that is not an unsigned safe integer is a RangeError, as with encodeOwnership', () => {
  assert.throws(() => encodeEntriesPacked({ kind: OwnershipKind.Commit, owner: 'm0' }, Int32Array.of(1), Float64Array.of(2 ** 53), 1200), RangeError);
  assert.throws(() => encodeEntriesPacked({ kind: OwnershipKind.Commit, owner: 'm0' }, Int32Array.of(-1), Float64Array.of(1), 1200), RangeError);
});
