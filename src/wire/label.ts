// Label header `[244][len u8][label]`: lets several clusters share a network
// without mixing; a packet or stream whose label differs is dropped.
import { WireError } from './errors.js';
import { utf8 } from './gomsgpack.js';
import { LABEL_MAX_BYTES, MessageType } from './messages.js';

export function labelOverheadBytes(label: string): number {
  return label === '' ? 0 : 2 + utf8(label).length;
}

export function addLabel(buf: Uint8Array, label: string): Uint8Array {
  if (label === '') return buf;
  const l = utf8(label);
  if (l.length > LABEL_MAX_BYTES) throw new WireError('oversized', `label of ${l.length} bytes > ${LABEL_MAX_BYTES}`);
  const out = new Uint8Array(2 + l.length + buf.length);
  out[0] = MessageType.HasLabel;
  out[1] = l.length;
  out.set(l, 2);
  out.set(buf, 2 + l.length);
  return out;
}

/** Splits off a label header if present. Returns the label bytes ('' when none) and the rest. */
export function splitLabel(buf: Uint8Array): { label: Uint8Array; rest: Uint8Array } {
  if (buf.length === 0 || buf[0] !== MessageType.HasLabel) return { label: new Uint8Array(0), rest: buf };
  if (buf.length < 2) throw new WireError('truncated', 'label header truncated');
  const len = buf[1]!;
  if (len === 0) throw new WireError('malformed', 'empty label header');
  if (buf.length < 2 + len) throw new WireError('truncated', 'label truncated');
  return { label: buf.subarray(2, 2 + len), rest: buf.subarray(2 + len) };
}

/** Checks a received label against ours: a mismatch or a missing label drops the message. */
export function checkLabel(received: Uint8Array, expected: string): void {
  const want = utf8(expected);
  if (received.length === 0 && want.length > 0) throw new WireError('missing-label', 'message has no label');
  if (received.length !== want.length || !received.every((b, i) => b === want[i])) {
    throw new WireError('label-mismatch', 'message label differs');
  }
}
