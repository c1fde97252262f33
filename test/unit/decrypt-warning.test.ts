// Undecryptable input is warned about at most once per 10 s per reason, with
// the source and the count since the previous line; the counters count every drop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lanConfig } from '../../src/config/presets.js';
import type { Address } from '../../src/base/env.js';
import { SeededRandom } from '../../src/core/prng.js';
import { SwimNode } from '../../src/core/swim-node.js';
import { VirtualScheduler } from '../../src/sim/virtual-scheduler.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { Keyring } from '../../src/wire/keyring.js';
import { MessageType } from '../../src/wire/messages.js';
import { PLAINTEXT, sealPacket } from '../../src/wire/packet.js';
import { sealStream } from '../../src/wire/stream.js';

const keyA = new Uint8Array(16).fill(1);
const keyB = new Uint8Array(16).fill(2);

function rig(requireEncrypted: boolean) {
  const scheduler = new VirtualScheduler();
  const random = new SeededRandom(7);
  const logs: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  let deliver: ((from: Address, data: Uint8Array, at: number) => void) | null = null;
  let stream: ((from: Address, req: Uint8Array, reply: (d: Uint8Array | null) => void) => void) | null = null;
  const hour = 3_600_000;
  const node = new SwimNode({
    name: 'a',
    advertise: { host: '10.0.0.1', port: 7946 },
    config: { ...lanConfig(), keys: [keyA], gossipVerifyIncoming: requireEncrypted, gossipVerifyOutgoing: true, probeIntervalMs: hour, gossipIntervalMs: hour, pushPullIntervalMs: 0, reconnectIntervalMs: 0 },
    env: {
      scheduler,
      random: random.fork(),
      packets: { sendPacket: () => {}, onPacket: (h) => { deliver = h; } },
      streams: { request: (_to, _req, _expect, _timeout, done) => done(new Error('no streams here'), null), onRequest: (h) => { stream = h; } },
      logger: { isLevelEnabled: () => false, log: (level, msg, fields) => logs.push({ level, msg, fields: fields ?? {} }) },
    },
  });
  node.start();
  const ping = encodeMessage({ type: MessageType.Ping, body: { seqNo: 1, node: 'a', sourceAddr: Uint8Array.from([10, 0, 0, 9]), sourcePort: 7946, sourceNode: 'x' } });
  const security = { label: '', keyring: new Keyring([keyB]), encryptOutgoing: true, requireEncryptedIncoming: true };
  const wrongKey = sealPacket(ping, { crc: false, compress: false, security, random });
  const plain = sealPacket(ping, { crc: false, compress: false, security: PLAINTEXT, random });
  return {
    node, scheduler, logs, wrongKey, plain,
    wrongKeyStream: sealStream(ping, { crc: false, compress: false, security, random }),
    plainStream: sealStream(ping, { crc: false, compress: false, security: PLAINTEXT, random }),
    packet: (from: Address, data: Uint8Array) => deliver!(from, data, scheduler.nowMs()),
    stream: (from: Address, data: Uint8Array) => stream!(from, data, () => {}),
  };
}

const warnings = <T extends { level: string }>(logs: T[]): T[] => logs.filter((l) => l.level === 'warn');

test('datagrams on another key: one warning per 10 s with the source and the count since the last line', () => {
  const r = rig(true);
  const x = { host: '10.0.0.9', port: 7946 };
  const y = { host: '10.0.0.8', port: 8000 };
  r.packet(x, r.wrongKey);
  assert.equal(warnings(r.logs).length, 1);
  assert.deepEqual(warnings(r.logs)[0]!.fields, { reason: 'decrypt-failed', source: '10.0.0.9:7946', path: 'udp', count: 1 });
  for (let i = 0; i < 20; i++) {
    r.scheduler.advance(400);
    r.packet(i % 2 ? x : y, r.wrongKey);
  }
  assert.equal(warnings(r.logs).length, 1, 'nothing more within 10 s');
  r.scheduler.advance(2_000); // 10 s after the first line
  r.packet(y, r.wrongKey);
  assert.equal(warnings(r.logs).length, 2);
  assert.deepEqual(warnings(r.logs)[1]!.fields, { reason: 'decrypt-failed', source: '10.0.0.8:8000', path: 'udp', count: 21 });
  assert.equal(r.node.stats.drops['decrypt-failed'], 22, 'every drop is counted');
});

test('plaintext streams to a member requiring encryption are warned about under their own reason; streams on another key too', () => {
  const r = rig(true);
  const x = { host: '10.0.0.9', port: 40000 };
  r.stream(x, r.plainStream);
  r.stream(x, r.plainStream);
  r.stream(x, r.wrongKeyStream);
  const w = warnings(r.logs);
  assert.equal(w.length, 2, 'one line per reason');
  assert.deepEqual(w.map((l) => [l.fields.reason, l.fields.path]), [['unencrypted', 'tcp'], ['decrypt-failed', 'tcp']]);
  assert.equal(r.node.stats.drops['stream-unencrypted'], 2);
});

test('a member accepting plaintext (the migration to encryption) does not warn about it', () => {
  const r = rig(false);
  r.packet({ host: '10.0.0.9', port: 7946 }, r.plain);
  assert.equal(warnings(r.logs).length, 0);
});
