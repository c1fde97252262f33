// Serf's membership intents, carried in memberlist user messages (type 8): one
// byte of Serf message type, then a msgpack map { LTime, Node }. Type 0 is the
// leave intent, type 1 the join intent; a Serf agent that holds a leave intent
// for an alive member records that member as `left` instead of `failed` when
// memberlist reports it gone. LTime is Serf's member Lamport clock: an intent
// no newer than the time Serf last recorded for that member is ignored.
import { fieldString, fieldUint, GoMsgpackReader, GoMsgpackWriter } from './gomsgpack.js';

export const SERF_LEAVE_INTENT = 0;
export const SERF_JOIN_INTENT = 1;
/** Serf node names are at most 128 bytes; a little slack for other agents. */
const MAX_NODE_BYTES = 512;

export interface SerfIntent {
  kind: 'leave' | 'join';
  lamportTime: number;
  node: string;
}

export function encodeSerfLeaveIntent(lamportTime: number, node: string): Uint8Array {
  const w = new GoMsgpackWriter(32 + node.length);
  w.byte(SERF_LEAVE_INTENT).mapHeader(2).str('LTime').uint(lamportTime).str('Node').str(node);
  return w.finish();
}

/** A join or leave intent, or null for anything else (other Serf messages, garbage). Never throws. */
export function decodeSerfIntent(payload: Uint8Array): SerfIntent | null {
  if (payload.length < 2 || (payload[0] !== SERF_LEAVE_INTENT && payload[0] !== SERF_JOIN_INTENT)) return null;
  try {
    const r = new GoMsgpackReader(payload, 1);
    const m = r.map();
    if (r.remaining() !== 0) return null;
    const node = fieldString(m, 'Node', MAX_NODE_BYTES);
    if (node === '') return null;
    return { kind: payload[0] === SERF_LEAVE_INTENT ? 'leave' : 'join', lamportTime: fieldUint(m, 'LTime', Number.MAX_SAFE_INTEGER), node };
  } catch {
    return null;
  }
}
