// Serf's key queries on their own: decoding a query as Serf encodes it, the
// operation on the keyring, the answer to the address the query names (the
// ack first when asked), each query handled once, filters, other queries
// claimed and counted, and a long key list cut to Serf's response size limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Address } from '../../src/base/env.js';
import { KeyOps } from '../../src/daemon/keys.js';
import { SerfKeyQueries } from '../../src/daemon/serf-keys.js';
import { Keyring } from '../../src/wire/keyring.js';
import { encodeTags } from '../../src/wire/serf-tags.js';
import { GoMsgpackWriter } from '../../src/wire/gomsgpack.js';
import {
  decodeSerfKeyResponse,
  decodeSerfQueryResponse,
  encodeSerfKeyRequest,
  encodeSerfQuery,
  encodeSerfQueryResponse,
  encodeSerfRelay,
  SERF_FILTER_NODE,
  SERF_FILTER_TAG,
  SERF_QUERY_FLAG_ACK,
  SERF_QUERY_SIZE_LIMIT_BYTES,
} from '../../src/wire/serf-query.js';

const keyA = new Uint8Array(32).fill(1);
const keyB = new Uint8Array(16).fill(2);
const b64 = (k: Uint8Array): string => Buffer.from(k).toString('base64');

function rig(keys: Uint8Array[] | null = [keyA], maxKeys = 16) {
  const sent: { to: Address; payload: Uint8Array }[] = [];
  const ring = keys === null ? null : new Keyring(keys, maxKeys);
  const node = {
    name: 'swimd-1',
    member: () => ({ meta: encodeTags({ role: 'web' }) }),
    sendUserMessage: (to: Address, payload: Uint8Array) => (sent.push({ to, payload }), true),
  };
  const q = new SerfKeyQueries(node, new KeyOps(ring));
  let id = 100;
  const query = (name: string, payload: Uint8Array = new Uint8Array(0), extra: { flags?: number; filters?: Uint8Array[]; id?: number } = {}) =>
    encodeSerfQuery({ lamportTime: 7, id: extra.id ?? id++, addr: Uint8Array.from([127, 0, 0, 1]), port: 7373, filters: extra.filters ?? [], flags: extra.flags ?? 0, relayFactor: 0, name, payload, timeoutNs: 5e9 });
  const from = { host: '127.0.0.1', port: 7946 };
  const answers = () =>
    sent.map((s) => {
      const r = decodeSerfQueryResponse(s.payload)!;
      return { to: s.to, r, key: r.payload ? decodeSerfKeyResponse(r.payload) : null };
    });
  return { q, ring, sent, query, from, answers };
}

test('install, use, list and remove run on the keyring and are answered to the address the query names', () => {
  const r = rig();
  assert.equal(r.q.onUserMessage(r.from, r.query('_serf_install-key', encodeSerfKeyRequest(keyB))), true);
  assert.equal(r.q.onUserMessage(r.from, r.query('_serf_use-key', encodeSerfKeyRequest(keyB))), true);
  assert.equal(r.q.onUserMessage(r.from, r.query('_serf_remove-key', encodeSerfKeyRequest(keyA))), true);
  assert.equal(r.q.onUserMessage(r.from, r.query('_serf_list-keys')), true);
  assert.deepEqual(r.ring!.keys(), [keyB]);
  const a = r.answers();
  assert.equal(a.length, 4);
  for (const x of a) {
    assert.deepEqual(x.to, { host: '127.0.0.1', port: 7373 });
    assert.equal(x.r.from, 'swimd-1');
    assert.equal(x.r.lamportTime, 7);
    assert.equal(x.r.flags, 0);
    assert.equal(x.key!.result, true, x.key!.message);
  }
  assert.deepEqual(a.map((x) => x.r.id), [100, 101, 102, 103]);
  assert.deepEqual(a[3]!.key!.keys, [b64(keyB)]);
  assert.equal(r.q.counters.answered, 4);
});

test('a refused operation is answered with Result false and the reason', () => {
  const r = rig();
  r.q.onUserMessage(r.from, r.query('_serf_remove-key', encodeSerfKeyRequest(keyA)));
  r.q.onUserMessage(r.from, r.query('_serf_use-key', encodeSerfKeyRequest(keyB)));
  r.q.onUserMessage(r.from, r.query('_serf_install-key', encodeSerfKeyRequest(new Uint8Array(5))));
  const a = r.answers().map((x) => x.key!);
  assert.deepEqual(a.map((k) => k.result), [false, false, false]);
  assert.match(a[0]!.message, /KEY_IS_PRIMARY/);
  assert.match(a[1]!.message, /KEY_NOT_INSTALLED/);
  assert.match(a[2]!.message, /KEY_INVALID_LENGTH/);
  const plain = rig(null);
  plain.q.onUserMessage(plain.from, plain.query('_serf_list-keys'));
  assert.deepEqual(plain.answers()[0]!.key, { result: false, message: 'encryption is not enabled on this member (security.keys is empty) (ENCRYPTION_DISABLED)', keys: [] });
});

test('a query repeated by gossip is handled once; an ack comes first when asked for', () => {
  const r = rig();
  const raw = r.query('_serf_install-key', encodeSerfKeyRequest(keyB), { flags: SERF_QUERY_FLAG_ACK });
  for (let i = 0; i < 3; i++) r.q.onUserMessage(r.from, raw);
  const a = r.answers();
  assert.equal(a.length, 2);
  assert.equal(a[0]!.r.flags, SERF_QUERY_FLAG_ACK);
  assert.equal(a[0]!.r.payload, null);
  assert.equal(a[1]!.key!.result, true);
  assert.equal(r.q.counters.duplicate, 2);
});

test('filters: a node list without this member or a non-matching tag leaves it out; other queries and garbage are claimed and counted', () => {
  const r = rig();
  const nodeFilter = (names: string[]) => {
    const w = new GoMsgpackWriter().byte(SERF_FILTER_NODE).arrayHeader(names.length);
    for (const n of names) w.str(n);
    return w.finish();
  };
  const tagFilter = (tag: string, expr: string) => new GoMsgpackWriter().byte(SERF_FILTER_TAG).mapHeader(2).str('Expr').str(expr).str('Tag').str(tag).finish();
  r.q.onUserMessage(r.from, r.query('_serf_list-keys', undefined, { filters: [nodeFilter(['serf-1'])] }));
  r.q.onUserMessage(r.from, r.query('_serf_list-keys', undefined, { filters: [tagFilter('role', '^db$')] }));
  assert.equal(r.sent.length, 0);
  assert.equal(r.q.counters.filteredOut, 2);
  r.q.onUserMessage(r.from, r.query('_serf_list-keys', undefined, { filters: [nodeFilter(['serf-1', 'swimd-1']), tagFilter('role', '^w')] }));
  assert.equal(r.sent.length, 1);
  assert.equal(r.q.onUserMessage(r.from, r.query('_serf_ping')), true);
  assert.equal(r.q.onUserMessage(r.from, r.query('deploy', new Uint8Array([1, 2]))), true);
  assert.equal(r.q.counters.ignored, 2);
  assert.equal(r.q.onUserMessage(r.from, Uint8Array.from([4, 0x93, 1, 2])), true);
  assert.equal(r.q.counters.malformed, 1);
  assert.equal(r.q.onUserMessage(r.from, Uint8Array.from([0, 0x80])), false, 'a leave intent is not a query');
  assert.equal(r.sent.length, 1);
});

test('a key list longer than Serf\'s response limit is cut and says so', () => {
  const many = Array.from({ length: 40 }, (_, i) => new Uint8Array(32).fill(i + 1));
  const r = rig(many, 64);
  r.q.onUserMessage(r.from, r.query('_serf_list-keys'));
  assert.ok(r.sent[0]!.payload.length <= SERF_QUERY_SIZE_LIMIT_BYTES);
  const k = r.answers()[0]!.key!;
  assert.ok(k.keys.length > 0 && k.keys.length < 40);
  assert.equal(k.message, `truncated key list response, showing first ${k.keys.length} of 40 keys`);
});

test('a relayed query response is forwarded as is to the address in its header; anything else in a relay is refused', () => {
  const r = rig();
  const response = encodeSerfQueryResponse({ lamportTime: 9, id: 5, from: 'serf-2', flags: 0, payload: Uint8Array.from([8, 0x80]) });
  // Go's net.IP holds an IPv4 address as 16 bytes, IPv4-mapped.
  const mapped = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]);
  assert.equal(r.q.onUserMessage(r.from, encodeSerfRelay(mapped, 7946, response)), true);
  assert.deepEqual(r.sent.map((s) => [s.to, Buffer.from(s.payload).equals(response)]), [[{ host: '10.1.2.3', port: 7946 }, true]]);
  r.q.onUserMessage(r.from, encodeSerfRelay(Uint8Array.from([10, 1, 2, 3]), 7946, Uint8Array.from([0, 0x80])));
  r.q.onUserMessage(r.from, encodeSerfRelay(Uint8Array.from([10, 1, 2, 3]), 7946, new Uint8Array(2000).fill(5)));
  r.q.onUserMessage(r.from, Uint8Array.from([9, 0x81, 0xa1, 0x41]));
  assert.equal(r.sent.length, 1);
  assert.deepEqual([r.q.counters.relayed, r.q.counters.relayRefused], [1, 3]);
});

test('removing a key that is not installed is answered as done, as a Serf agent answers it: a repeated -remove stays idempotent', () => {
  const r = rig([keyA]);
  r.q.onUserMessage(r.from, r.query('_serf_remove-key', encodeSerfKeyRequest(keyB)));
  const a = r.answers().map((x) => x.key!);
  assert.deepEqual(a.map((k) => k.result), [true]);
  r.q.onUserMessage(r.from, r.query('_serf_list-keys'));
  assert.deepEqual(r.answers().at(-1)!.key!.keys, [Buffer.from(keyA).toString('base64')], 'the keyring is unchanged');
});
