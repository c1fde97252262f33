// Compound messages: several messages in one datagram,
// `[7][count u8][count × u16 BE length][parts…]`.
import { WireError } from './errors.js';
import { COMPOUND_MAX_PARTS, MessageType } from './messages.js';

/** Bytes a compound adds for each part (its length field). */
export const COMPOUND_PART_OVERHEAD = 2;
/** Bytes of the compound header (type + count). */
export const COMPOUND_HEADER_BYTES = 2;

export function makeCompound(parts: Uint8Array[]): Uint8Array {
  if (parts.length > COMPOUND_MAX_PARTS) throw new WireError('too-many-parts', `${parts.length} parts > ${COMPOUND_MAX_PARTS}`);
  let total = COMPOUND_HEADER_BYTES + COMPOUND_PART_OVERHEAD * parts.length;
  for (const p of parts) {
    if (p.length > 0xffff) throw new WireError('oversized', `compound part of ${p.length} bytes`);
    total += p.length;
  }
  const out = new Uint8Array(total);
  out[0] = MessageType.Compound;
  out[1] = parts.length;
  let lenAt = 2;
  let at = 2 + 2 * parts.length;
  for (const p of parts) {
    out[lenAt++] = p.length >> 8;
    out[lenAt++] = p.length & 0xff;
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Splits a compound message (including its type byte). As memberlist does, parts
 * whose bytes run past the end are counted as truncated and the rest are kept.
 */
export function splitCompound(buf: Uint8Array): { parts: Uint8Array[]; truncated: number } {
  if (buf.length < 2) throw new WireError('truncated', 'compound header truncated');
  const count = buf[1]!;
  const lengthsEnd = 2 + 2 * count;
  if (buf.length < lengthsEnd) throw new WireError('truncated', 'compound lengths truncated');
  const parts: Uint8Array[] = [];
  let at = lengthsEnd;
  for (let i = 0; i < count; i++) {
    const len = (buf[2 + 2 * i]! << 8) | buf[3 + 2 * i]!;
    if (at + len > buf.length) return { parts, truncated: count - i };
    parts.push(buf.subarray(at, at + len));
    at += len;
  }
  return { parts, truncated: 0 };
}
