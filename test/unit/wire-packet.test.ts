import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/core/prng.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { makeCompound, splitCompound } from '../../src/wire/compound.js';
import { Keyring, KeyringError } from '../../src/wire/keyring.js';
import { lzwCompress, lzwDecompress } from '../../src/wire/lzw.js';
import { MessageType, type Message } from '../../src/wire/messages.js';
import { openPacket, packetOverheadBytes, sealPacket, PLAINTEXT, type WireSecurity } from '../../src/wire/packet.js';
import { openStream, sealStream, streamFrameLength } from '../../src/wire/stream.js';
import { decryptPayload, encryptPayload } from '../../src/wire/encryption.js';

const random = new SeededRandom(99);
const key16 = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const key32 = Uint8Array.from({ length: 32 }, (_, i) => 200 - i);
const ping: Message = { type: MessageType.Ping, body: { seqNo: 42, node: 'node-b', sourceAddr: Uint8Array.from([127, 0, 0, 1]), sourcePort: 7946, sourceNode: 'node-a' } };
const suspect: Message = { type: MessageType.Suspect, body: { incarnation: 3, node: 'node-c', from: 'node-a' } };

function security(over: Partial<WireSecurity> = {}): WireSecurity {
  return { ...PLAINTEXT, ...over };
}

test('LZW: a Go-compatible stream for a classic input, and round trips of mixed data', () => {
  // Go's lzw.NewWriter(LSB, 8) output for "TOBEORNOTTOBEORTOBEORNOT" begins with the clear code 256
  // (9 bits, LSB first): its first byte is 0x00 and bit 0 of the second byte is 1.
  const c = lzwCompress(new TextEncoder().encode('TOBEORNOTTOBEORTOBEORNOT'));
  assert.equal(c[0], 0x00);
  assert.equal(c[1]! & 1, 1);
  assert.ok(c.length < 24, 'repetitive input shrinks');
  for (const n of [0, 1, 2, 3, 100, 5000, 70_000]) {
    const data = Uint8Array.from({ length: n }, (_, i) => (n > 1000 ? random.int(256) : (i * 7) % 5));
    assert.deepEqual(lzwDecompress(lzwCompress(data), n + 1), data);
  }
  assert.throws(() => lzwDecompress(lzwCompress(new Uint8Array(1000)), 10), /over 10 bytes/);
});

/** The compressor as first written (a Map per call, a number[] of output bytes): the table-reusing one must emit the same bytes. */
function referenceLzwCompress(input: Uint8Array): Uint8Array {
  const out: number[] = [];
  let bits = 0;
  let nBits = 0;
  const write = (code: number, w: number): void => {
    bits |= code << nBits;
    nBits += w;
    while (nBits >= 8) {
      out.push(bits & 0xff);
      bits >>>= 8;
      nBits -= 8;
    }
  };
  let width = 9;
  let hi = 257;
  let overflow = 1 << width;
  let table = new Map<number, number>();
  const incHi = (): boolean => {
    hi++;
    if (hi === overflow) {
      width++;
      overflow <<= 1;
    }
    if (hi === 4095) {
      write(256, width);
      width = 9;
      hi = 257;
      overflow = 512;
      table = new Map();
      return false;
    }
    return true;
  };
  write(256, width);
  if (input.length > 0) {
    let code = input[0]!;
    for (let i = 1; i < input.length; i++) {
      const key = (code << 8) | input[i]!;
      const hit = table.get(key);
      if (hit !== undefined) {
        code = hit;
        continue;
      }
      write(code, width);
      code = input[i]!;
      if (incHi()) table.set(key, hi);
    }
    write(code, width);
    incHi();
  }
  write(257, width);
  if (nBits > 0) out.push(bits & 0xff);
  return Uint8Array.from(out);
}

test('LZW: the compressor emits exactly the reference bytes, across table resets and from call to call', () => {
  const r = new SeededRandom(5);
  for (let round = 0; round < 60; round++) {
    const n = round < 10 ? round : r.int(round % 3 === 0 ? 40_000 : 3000);
    const alphabet = 1 + r.int(round % 2 === 0 ? 4 : 256);
    const data = Uint8Array.from({ length: n }, () => r.int(alphabet));
    const c = lzwCompress(data);
    assert.deepEqual(c, referenceLzwCompress(data), `round ${round}, ${n} bytes over ${alphabet} symbols`);
    assert.deepEqual(lzwDecompress(c, n), data);
  }
});

test('AES-GCM: 16/24/32-byte keys, wrong key and wrong additional data fail, version 0 padding', () => {
  for (const len of [16, 24, 32]) {
    const key = Uint8Array.from({ length: len }, (_, i) => i);
    const msg = Uint8Array.from([1, 2, 3, 4, 5]);
    const enc = encryptPayload(1, key, msg, Uint8Array.from([9]), random);
    assert.equal(enc.length, 1 + 12 + 5 + 16);
    assert.deepEqual(decryptPayload([key16, key], enc, Uint8Array.from([9])), msg);
    assert.throws(() => decryptPayload([key], enc, Uint8Array.from([8])), /no installed key/);
    assert.throws(() => decryptPayload([key16], enc, Uint8Array.from([9])), /no installed key/);
    const v0 = encryptPayload(0, key, msg, new Uint8Array(0), random);
    assert.equal(v0.length, 1 + 12 + 16 + 16);
    assert.deepEqual(decryptPayload([key], v0, new Uint8Array(0)), msg);
  }
});

test('keyring: first key encrypts, rotation keeps old keys decrypting until removed', () => {
  const ring = new Keyring([key16]);
  ring.install(key32);
  assert.deepEqual(ring.primaryKey(), key16);
  const oldSealed = sealPacket(encodeMessage(ping), { crc: false, compress: false, security: security({ keyring: new Keyring([key16]), encryptOutgoing: true, requireEncryptedIncoming: true }), random });
  ring.use(key32);
  assert.deepEqual(ring.primaryKey(), key32);
  const sec = security({ keyring: ring, encryptOutgoing: true, requireEncryptedIncoming: true });
  assert.ok(openPacket(oldSealed, sec).ok, 'old key still decrypts');
  assert.throws(() => ring.remove(key32), (e: unknown) => e instanceof KeyringError && e.code === 'KEY_IS_PRIMARY');
  ring.remove(key16);
  const r = openPacket(oldSealed, sec);
  assert.equal(!r.ok && r.reason, 'decrypt-failed');
  // Removing it again is a no-op, as memberlist's keyring does (serf keys -remove is retried and idempotent).
  ring.remove(key16);
  assert.deepEqual(ring.keys(), [key32]);
  assert.throws(() => ring.remove(new Uint8Array(5)), (e: unknown) => e instanceof KeyringError && e.code === 'KEY_INVALID_LENGTH');
  assert.throws(() => new Keyring([new Uint8Array(10)]), (e: unknown) => e instanceof KeyringError && e.code === 'KEY_INVALID_LENGTH');
});

test('packet pipeline round-trips every combination of crc, compression, label and encryption', () => {
  const payload = makeCompound([encodeMessage(ping), encodeMessage(suspect)]);
  for (const crc of [false, true])
    for (const compress of [false, true])
      for (const label of ['', 'prod'])
        for (const encrypt of [false, true]) {
          const sec = security({ label, keyring: encrypt ? new Keyring([key16]) : null, encryptOutgoing: encrypt, requireEncryptedIncoming: encrypt });
          const sealed = sealPacket(payload, { crc, compress, security: sec, random });
          const r = openPacket(sealed, sec);
          assert.ok(r.ok, `crc=${crc} compress=${compress} label=${label} encrypt=${encrypt}: ${!r.ok && r.detail}`);
          assert.deepEqual(r.value.messages, [ping, suspect]);
          assert.deepEqual(r.value.drops, []);
        }
  assert.equal(packetOverheadBytes(security({ label: 'prod', keyring: new Keyring([key16]), encryptOutgoing: true })), 2 + 4 + 1 + 12 + 16);
});

test('packet drops: label mismatch, missing label, bad crc, plaintext when encryption is required', () => {
  const plain = encodeMessage(ping);
  const labelled = sealPacket(plain, { crc: false, compress: false, security: security({ label: 'a' }), random });
  const cases: [Uint8Array, WireSecurity, string][] = [
    [labelled, security({ label: 'b' }), 'label-mismatch'],
    [plain, security({ label: 'b' }), 'missing-label'],
    [labelled, security(), 'label-mismatch'],
    [plain, security({ keyring: new Keyring([key16]), requireEncryptedIncoming: true }), 'decrypt-failed'],
  ];
  const crcd = sealPacket(plain, { crc: true, compress: false, security: PLAINTEXT, random });
  crcd[crcd.length - 1] ^= 0xff;
  cases.push([crcd, PLAINTEXT, 'bad-crc']);
  for (const [data, sec, reason] of cases) {
    const r = openPacket(data, sec);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, reason);
  }
  // Plaintext is accepted while a cluster moves to encryption (requireEncryptedIncoming off).
  assert.ok(openPacket(plain, security({ keyring: new Keyring([key16]), requireEncryptedIncoming: false })).ok);
});

test('a compound with one corrupt part and one truncated part keeps the good part', () => {
  const good = encodeMessage(ping);
  const bad = Uint8Array.from([MessageType.Alive, 0xc1]);
  const compound = makeCompound([good, bad, encodeMessage(suspect)]);
  const cut = compound.subarray(0, compound.length - 3);
  const r = openPacket(cut, PLAINTEXT);
  assert.ok(r.ok);
  assert.deepEqual(r.value.messages, [ping]);
  assert.deepEqual(r.value.drops.sort(), ['malformed', 'truncated']);
  assert.equal(splitCompound(compound).parts.length, 3);
  assert.throws(() => makeCompound(Array.from({ length: 256 }, () => good)), /too-many-parts|parts/);
});

test('streams: seal/open with label, compression and encryption; frame length is incomplete until the last byte', () => {
  const msg = encodeMessage({
    type: MessageType.PushPull,
    body: {
      join: true,
      nodes: Array.from({ length: 20 }, (_, i) => ({ name: `n${i}`, addr: Uint8Array.from([127, 0, 0, 1]), port: 7000 + i, meta: null, incarnation: i, state: 0, vsn: Uint8Array.from([1, 5, 2, 2, 5, 4]) })),
      userState: Uint8Array.from([1, 2, 3]),
    },
  });
  for (const label of ['', 'lbl'])
    for (const compress of [false, true])
      for (const encrypt of [false, true]) {
        const sec = security({ label, keyring: encrypt ? new Keyring([key16]) : null, encryptOutgoing: encrypt, requireEncryptedIncoming: encrypt });
        const sealed = sealStream(msg, { crc: false, compress, security: sec, random });
        for (let i = 0; i < sealed.length; i++) {
          const probe = streamFrameLength(sealed.subarray(0, i), sec);
          if (!('incomplete' in probe)) assert.fail(`prefix ${i}/${sealed.length} said ${JSON.stringify(probe)} (label=${label} compress=${compress} encrypt=${encrypt})`);
        }
        const withTrailing = new Uint8Array([...sealed, 1, 2, 3]);
        assert.deepEqual(streamFrameLength(withTrailing, sec), { complete: sealed.length });
        const r = openStream(sealed, sec);
        assert.ok(r.ok && r.value.type === MessageType.PushPull && r.value.body.nodes.length === 20);
      }
  const required = security({ keyring: new Keyring([key16]), requireEncryptedIncoming: true });
  const r = openStream(msg, required);
  assert.equal(!r.ok && r.reason, 'unencrypted');
  assert.deepEqual(streamFrameLength(Uint8Array.from([77, 1]), PLAINTEXT).hasOwnProperty('error'), true);
});
