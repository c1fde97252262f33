// Shared by the fuzz test (10^4 cases) and the fuzz bench (10^6 cases).
import { SeededRandom } from '../src/core/prng.js';
import { encodeMessage } from '../src/wire/codec.js';
import { makeCompound } from '../src/wire/compound.js';
import { KNOWN_DROP_REASONS } from '../src/wire/errors.js';
import { Keyring } from '../src/wire/keyring.js';
import { MessageType, type Message } from '../src/wire/messages.js';
import { openPacket, sealPacket, PLAINTEXT, type WireSecurity } from '../src/wire/packet.js';
import { openStream, streamFrameLength } from '../src/wire/stream.js';

export interface FuzzReport {
  cases: number;
  decodeCalls: number;
  accepted: number;
  drops: Record<string, number>;
  /** Parts of accepted compound packets that were dropped alone. */
  partDrops: Record<string, number>;
  thrown: string[];
}

const KEY = Uint8Array.from({ length: 16 }, (_, i) => i);

function sampleMessages(r: SeededRandom): Message[] {
  const addr = Uint8Array.from([127, 0, 0, 1 + r.int(200)]);
  const vsn = Uint8Array.from([1, 5, 2, 2, 5, 4]);
  return [
    { type: MessageType.Ping, body: { seqNo: r.int(1e6), node: `n${r.int(50)}`, sourceAddr: addr, sourcePort: 7946, sourceNode: 'src' } },
    { type: MessageType.IndirectPing, body: { seqNo: r.int(1e6), target: addr, port: 7946, node: 'x', nack: true } },
    { type: MessageType.AckResp, body: { seqNo: r.int(1e6), payload: null } },
    { type: MessageType.Alive, body: { incarnation: r.int(100), node: `n${r.int(50)}`, addr, port: 7946, meta: Uint8Array.from([0xff, 0x80]), vsn } },
    { type: MessageType.Suspect, body: { incarnation: r.int(100), node: 'a', from: 'b' } },
    { type: MessageType.Dead, body: { incarnation: r.int(100), node: 'a', from: 'a' } },
    { type: MessageType.PushPull, body: { join: false, nodes: [{ name: 'a', addr, port: 1, meta: null, incarnation: 1, state: 0, vsn }], userState: new Uint8Array(0) } },
  ];
}

function mutate(buf: Uint8Array, r: SeededRandom): Uint8Array {
  const out = Uint8Array.from(buf);
  switch (r.int(4)) {
    case 0: // bit flips
      for (let i = 0, n = 1 + r.int(4); i < n && out.length > 0; i++) out[r.int(out.length)]! ^= 1 << r.int(8);
      return out;
    case 1: // truncation
      return out.subarray(0, r.int(out.length + 1));
    case 2: // a length-ish byte lies
      if (out.length > 2) out[1 + r.int(Math.min(6, out.length - 1))] = r.int(256);
      return out;
    default: // random tail
      return Uint8Array.from([...out, ...Array.from({ length: r.int(20) }, () => r.int(256))]);
  }
}

export function fuzzWire(seed: number, cases: number): FuzzReport {
  const r = new SeededRandom(seed);
  const report: FuzzReport = { cases: 0, decodeCalls: 0, accepted: 0, drops: {}, partDrops: {}, thrown: [] };
  const securities: WireSecurity[] = [
    PLAINTEXT,
    { ...PLAINTEXT, label: 'fz' },
    { label: '', keyring: new Keyring([KEY]), encryptOutgoing: true, requireEncryptedIncoming: true },
  ];
  const count = (ok: boolean, reason?: string): void => {
    report.decodeCalls++;
    if (ok) report.accepted++;
    else {
      if (!reason || !KNOWN_DROP_REASONS.has(reason as never)) report.thrown.push(`unknown reason ${reason}`);
      report.drops[reason ?? '?'] = (report.drops[reason ?? '?'] ?? 0) + 1;
    }
  };
  for (let i = 0; i < cases; i++) {
    report.cases++;
    const sec = securities[r.int(securities.length)]!;
    let data: Uint8Array;
    if (r.int(10) === 0) data = Uint8Array.from({ length: r.int(200) }, () => r.int(256));
    else {
      const msgs = sampleMessages(r);
      const picked = Array.from({ length: 1 + r.int(3) }, () => encodeMessage(msgs[r.int(msgs.length)]!));
      const payload = picked.length > 1 ? makeCompound(picked) : picked[0]!;
      const sealed = sealPacket(payload, { crc: r.int(2) === 0, compress: r.int(2) === 0, security: sec, random: r });
      data = r.int(3) === 0 ? sealed : mutate(sealed, r);
    }
    try {
      const p = openPacket(data, sec);
      count(p.ok, p.ok ? undefined : p.reason);
      if (p.ok) for (const d of p.value.drops) report.partDrops[d] = (report.partDrops[d] ?? 0) + 1;
      const s = openStream(data, sec);
      count(s.ok, s.ok ? undefined : s.reason);
      const f = streamFrameLength(data, sec);
      if ('error' in f && !KNOWN_DROP_REASONS.has(f.error)) report.thrown.push(`frame reason ${f.error}`);
    } catch (err) {
      report.thrown.push(`case ${i}: ${err instanceof Error ? err.stack : String(err)}`);
    }
  }
  return report;
}
