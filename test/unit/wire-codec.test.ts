import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeMessage, encodeMessage, encodeStreamUserMessage } from '../../src/wire/codec.js';
import { MessageType, WireState, type Message } from '../../src/wire/messages.js';
import { GoMsgpackWriter } from '../../src/wire/gomsgpack.js';
import { encodeTags, decodeTags } from '../../src/wire/serf-tags.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ascii = (s: string): string => Buffer.from(s).toString('hex');

function roundTrip(msg: Message, stream = false): Message {
  const bytes = msg.type === MessageType.User && stream ? encodeStreamUserMessage(msg.body.payload) : encodeMessage(msg);
  const r = decodeMessage(bytes, undefined, stream);
  assert.ok(r.ok, `decode failed: ${!r.ok && r.reason}`);
  return r.value;
}

test('golden: ping is a 2-entry map with sorted Go field names and fixstr keys', () => {
  // 00 type ping; 82 map of 2; "Node" sorts before "SeqNo"; a1 61 = "a"; 01 = positive fixint.
  const expected = '00' + '82' + 'a4' + ascii('Node') + 'a1' + ascii('a') + 'a5' + ascii('SeqNo') + '01';
  assert.equal(hex(encodeMessage({ type: MessageType.Ping, body: { seqNo: 1, node: 'a' } })), expected);
});

test('golden: ack with a nil payload writes msgpack nil, not an empty string', () => {
  const expected = '02' + '82' + 'a7' + ascii('Payload') + 'c0' + 'a5' + ascii('SeqNo') + '07';
  assert.equal(hex(encodeMessage({ type: MessageType.AckResp, body: { seqNo: 7, payload: null } })), expected);
});

test('golden: alive writes address, meta and Vsn bytes as raw strings and the port as uint16', () => {
  const msg: Message = {
    type: MessageType.Alive,
    body: { incarnation: 1, node: 'n', addr: Uint8Array.from([127, 0, 0, 1]), port: 7946, meta: null, vsn: Uint8Array.from([1, 5, 2, 2, 5, 4]) },
  };
  const expected =
    '04' + '86' +
    'a4' + ascii('Addr') + 'a4' + '7f000001' +
    'ab' + ascii('Incarnation') + '01' +
    'a4' + ascii('Meta') + 'c0' +
    'a4' + ascii('Node') + 'a1' + ascii('n') +
    'a4' + ascii('Port') + 'cd' + '1f0a' +
    'a3' + ascii('Vsn') + 'a6' + '010502020504';
  assert.equal(hex(encodeMessage(msg)), expected);
});

test('golden: integers take the smallest unsigned form; strings of 32..65535 bytes use str16, never str8', () => {
  const w = new GoMsgpackWriter();
  w.uint(127).uint(128).uint(200).uint(256).uint(70000).uint(2 ** 32);
  assert.equal(hex(w.finish()), '7f' + 'cc80' + 'ccc8' + 'cd0100' + 'ce00011170' + 'cf0000000100000000');
  const name = 'x'.repeat(40);
  const bytes = encodeMessage({ type: MessageType.NackResp, body: { seqNo: 1 } });
  assert.equal(hex(bytes), '0b81a5' + ascii('SeqNo') + '01');
  const w2 = new GoMsgpackWriter();
  w2.str(name);
  assert.equal(hex(w2.finish()), 'da0028' + ascii(name));
  const w3 = new GoMsgpackWriter();
  w3.str('x'.repeat(31));
  assert.equal(hex(w3.finish()).slice(0, 2), 'bf');
});

test('golden: push/pull header with Join, Nodes and UserStateLen in sorted order', () => {
  const bytes = encodeMessage({ type: MessageType.PushPull, body: { join: true, nodes: [], userState: new Uint8Array(0) } });
  const expected = '06' + '83' + 'a4' + ascii('Join') + 'c3' + 'a5' + ascii('Nodes') + '00' + 'ac' + ascii('UserStateLen') + '00';
  assert.equal(hex(bytes), expected);
});

test('every message type round-trips, including edge values', () => {
  const ipv6 = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
  const meta = Uint8Array.from({ length: 512 }, (_, i) => i & 0xff);
  const long = 'node-' + 'y'.repeat(200);
  const cases: Message[] = [
    { type: MessageType.Ping, body: { seqNo: 0xffffffff, node: long, sourceAddr: ipv6, sourcePort: 65535, sourceNode: 'src' } },
    { type: MessageType.IndirectPing, body: { seqNo: 9, target: Uint8Array.from([10, 0, 0, 1]), port: 7946, node: 't', nack: true, sourceAddr: Uint8Array.from([1, 2, 3, 4]), sourcePort: 1, sourceNode: 's' } },
    { type: MessageType.AckResp, body: { seqNo: 3, payload: Uint8Array.from([0, 255, 128]) } },
    { type: MessageType.NackResp, body: { seqNo: 4 } },
    { type: MessageType.Err, body: { error: 'boom' } },
    { type: MessageType.Suspect, body: { incarnation: 5, node: 'a', from: 'b' } },
    { type: MessageType.Dead, body: { incarnation: 0xffffffff, node: 'a', from: 'a' } },
    { type: MessageType.Alive, body: { incarnation: 2, node: 'x', addr: ipv6, port: 1, meta, vsn: Uint8Array.from([1, 5, 2, 2, 5, 4]) } },
    { type: MessageType.Alive, body: { incarnation: 2, node: 'x', addr: Uint8Array.from([127, 0, 0, 1]), port: 1, meta: new Uint8Array(0), vsn: Uint8Array.from([1, 5, 2, 0, 0, 0]) } },
    {
      type: MessageType.PushPull,
      body: {
        join: false,
        nodes: [
          { name: 'a', addr: Uint8Array.from([127, 0, 0, 1]), port: 7946, meta: null, incarnation: 3, state: WireState.Dead, vsn: Uint8Array.from([1, 5, 2, 2, 5, 4]) },
          { name: long, addr: ipv6, port: 1, meta, incarnation: 0, state: WireState.Left, vsn: Uint8Array.from([1, 5, 2, 2, 5, 4]) },
        ],
        userState: Uint8Array.from([9, 8, 7]),
      },
    },
    { type: MessageType.User, body: { payload: Uint8Array.from([1, 2, 3]) } },
  ];
  for (const msg of cases) {
    const back = roundTrip(msg);
    if (msg.type === MessageType.Alive && msg.body.meta?.length === 0) {
      // An empty []byte is written as an empty raw string and read back as empty bytes.
      assert.deepEqual(back.body, { ...msg.body, meta: new Uint8Array(0) });
    } else assert.deepEqual(back, msg);
  }
  assert.deepEqual(roundTrip({ type: MessageType.User, body: { payload: Uint8Array.from([4, 5]) } }, true).body, { payload: Uint8Array.from([4, 5]) });
});

test('the reader accepts str8 and bin for byte fields as go-msgpack does', () => {
  // alive with Node as str8 (d9) and Addr as bin8 (c4)
  const bytes = Buffer.from('04' + '83' + 'a4' + ascii('Addr') + 'c404' + '0a000001' + 'a4' + ascii('Node') + 'd901' + ascii('q') + 'a4' + ascii('Port') + '05', 'hex');
  const r = decodeMessage(bytes);
  assert.ok(r.ok && r.value.type === MessageType.Alive);
  assert.equal(r.value.body.node, 'q');
  assert.deepEqual(r.value.body.addr, Uint8Array.from([10, 0, 0, 1]));
  assert.equal(r.value.body.port, 5);
});

test('decode errors are typed drops, never throws', () => {
  const cases: [string, string][] = [
    ['', 'truncated'],
    ['63', 'unknown-type'],
    ['0082a4' + ascii('Node'), 'truncated'],
    ['00c1', 'malformed'],
    ['04' + '81' + 'a4' + ascii('Port') + 'ce00010000', 'malformed'],
    ['06' + '81' + 'a5' + ascii('Nodes') + 'cd4e21', 'too-many-nodes'],
  ];
  for (const [h, reason] of cases) {
    const r = decodeMessage(Buffer.from(h, 'hex'));
    assert.equal(r.ok, false, h);
    assert.equal(!r.ok && r.reason, reason, h);
  }
});

test('serf tags round-trip and non-tag meta is recognised as such', () => {
  const meta = encodeTags({ zone: 'a', weight: '2', role: 'x'.repeat(40) });
  assert.equal(meta[0], 0xff);
  assert.deepEqual(decodeTags(meta), { zone: 'a', weight: '2', role: 'x'.repeat(40) });
  assert.equal(decodeTags(Uint8Array.from([1, 2, 3])), null);
  assert.equal(decodeTags(Uint8Array.from([0xff, 0xc1])), null);
  assert.throws(() => encodeTags({ big: 'z'.repeat(600) }), /oversized|bytes/);
});

/** go-msgpack's rule stated once: a struct is a map of its present fields in sorted name order. */
function referenceStruct(type: MessageType, fields: [string, (w: GoMsgpackWriter) => void][]): GoMsgpackWriter {
  const w = new GoMsgpackWriter();
  w.byte(type);
  const sorted = [...fields].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  w.mapHeader(sorted.length);
  for (const [k, write] of sorted) {
    w.str(k);
    write(w);
  }
  return w;
}

test('property: pings, acks, alives and push/pull entries encode exactly as the sorted-field rule says', () => {
  const bytes = fc.uint8Array({ maxLength: 20 }).map((b) => Uint8Array.from(b));
  const name = fc.string({ maxLength: 40 });
  fc.assert(
    fc.property(fc.nat(0xffffffff), name, fc.option(bytes, { nil: undefined }), fc.option(fc.nat(0xffff), { nil: undefined }), fc.option(name, { nil: undefined }), (seqNo, node, sourceAddr, sourcePort, sourceNode) => {
      const body = { seqNo, node, ...(sourceAddr !== undefined ? { sourceAddr } : {}), ...(sourcePort !== undefined ? { sourcePort } : {}), ...(sourceNode !== undefined ? { sourceNode } : {}) };
      const fields: [string, (w: GoMsgpackWriter) => void][] = [['SeqNo', (w) => w.uint(seqNo)], ['Node', (w) => w.str(node)]];
      if (sourceAddr && sourceAddr.length > 0) fields.push(['SourceAddr', (w) => w.raw(sourceAddr)]);
      if (sourcePort) fields.push(['SourcePort', (w) => w.uint(sourcePort)]);
      if (sourceNode) fields.push(['SourceNode', (w) => w.str(sourceNode)]);
      assert.deepEqual(encodeMessage({ type: MessageType.Ping, body }), referenceStruct(MessageType.Ping, fields).finish());
    }),
  );
  fc.assert(
    fc.property(fc.nat(0xffffffff), fc.option(bytes, { nil: null }), (seqNo, payload) => {
      const ref = referenceStruct(MessageType.AckResp, [['SeqNo', (w) => w.uint(seqNo)], ['Payload', (w) => w.rawOrNil(payload)]]);
      assert.deepEqual(encodeMessage({ type: MessageType.AckResp, body: { seqNo, payload } }), ref.finish());
    }),
  );
  fc.assert(
    fc.property(fc.nat(0xffffffff), name, bytes, fc.nat(0xffff), fc.option(bytes, { nil: null }), bytes, (incarnation, node, addr, port, meta, vsn) => {
      const ref = referenceStruct(MessageType.Alive, [
        ['Incarnation', (w) => w.uint(incarnation)],
        ['Node', (w) => w.str(node)],
        ['Addr', (w) => w.rawOrNil(addr)],
        ['Port', (w) => w.uint(port)],
        ['Meta', (w) => w.rawOrNil(meta)],
        ['Vsn', (w) => w.rawOrNil(vsn)],
      ]);
      assert.deepEqual(encodeMessage({ type: MessageType.Alive, body: { incarnation, node, addr, port, meta, vsn } }), ref.finish());
    }),
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(name, bytes, fc.nat(0xffff), fc.option(bytes, { nil: null }), fc.nat(0xffffffff), fc.integer({ min: 0, max: 3 }), bytes), { maxLength: 5 }), fc.boolean(), (entries, join) => {
      const nodes = entries.map(([n, addr, port, meta, incarnation, state, vsn]) => ({ name: n, addr, port, meta, incarnation, state: state as WireState, vsn }));
      const ref = referenceStruct(MessageType.PushPull, [['Nodes', (w) => w.uint(nodes.length)], ['UserStateLen', (w) => w.uint(0)], ['Join', (w) => w.bool(join)]]);
      const out = ref.finish();
      const parts: Uint8Array[] = [out];
      for (const n of nodes) {
        const e = referenceStruct(MessageType.PushPull, [
          ['Name', (w) => w.str(n.name)],
          ['Addr', (w) => w.rawOrNil(n.addr)],
          ['Port', (w) => w.uint(n.port)],
          ['Meta', (w) => w.rawOrNil(n.meta)],
          ['Incarnation', (w) => w.uint(n.incarnation)],
          ['State', (w) => w.uint(n.state)],
          ['Vsn', (w) => w.rawOrNil(n.vsn)],
        ]).finish();
        parts.push(e.subarray(1)); // without the type byte: entries follow the header
      }
      assert.deepEqual(Buffer.from(encodeMessage({ type: MessageType.PushPull, body: { join, nodes, userState: new Uint8Array(0) } })), Buffer.concat(parts));
    }),
  );
});
