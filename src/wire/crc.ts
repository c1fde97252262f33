// CRC framing `[12][crc32-IEEE BE of rest][rest]`, sent to members whose
// advertised protocol max is ≥ 5.
import { crc32 } from 'node:zlib';
import { WireError } from './errors.js';
import { MessageType } from './messages.js';

export const CRC_HEADER_BYTES = 5;

export function addCrc(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(CRC_HEADER_BYTES + msg.length);
  out[0] = MessageType.HasCrc;
  new DataView(out.buffer).setUint32(1, crc32(msg) >>> 0);
  out.set(msg, CRC_HEADER_BYTES);
  return out;
}

/** Verifies and strips the CRC header of a `[12]…` message. */
export function stripCrc(buf: Uint8Array): Uint8Array {
  if (buf.length < CRC_HEADER_BYTES) throw new WireError('truncated', 'crc header truncated');
  const expected = new DataView(buf.buffer, buf.byteOffset, buf.length).getUint32(1);
  const body = buf.subarray(CRC_HEADER_BYTES);
  if ((crc32(body) >>> 0) !== expected) throw new WireError('bad-crc', 'crc mismatch');
  return body;
}
