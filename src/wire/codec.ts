// memberlist message bodies <-> bytes. Field names are the Go struct field
// names; optional fields (Go `omitempty`) are left out when empty.
import { capture, fail, WireError, type DecodeResult } from './errors.js';
import {
  fieldBool,
  fieldBytes,
  fieldInt,
  fieldString,
  fieldUint,
  GoMsgpackReader,
  GoMsgpackWriter,
  type MsgMap,
} from './gomsgpack.js';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from './limits.js';
import {
  META_MAX_BYTES,
  MessageType,
  WireState,
  type AliveMsg,
  type Message,
  type PingMsg,
  type PushNodeState,
  type PushPullMsg,
} from './messages.js';

type Field = [key: string, write: (w: GoMsgpackWriter) => void];

/** Writes a Go struct as a map with its fields in sorted name order, as go-msgpack does. */
function writeStruct(w: GoMsgpackWriter, fields: (Field | null)[]): void {
  const present = fields.filter((f): f is Field => f !== null).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  w.mapHeader(present.length);
  for (const [key, write] of present) {
    w.str(key);
    write(w);
  }
}

const MAX_NAME_BYTES = 512;
const MAX_ADDR_BYTES = 16;
const MAX_PAYLOAD_BYTES = 64 * 1024;

function sourceFields(body: { sourceAddr?: Uint8Array; sourcePort?: number; sourceNode?: string }): (Field | null)[] {
  return [
    body.sourceAddr && body.sourceAddr.length > 0 ? ['SourceAddr', (w) => w.raw(body.sourceAddr!)] : null,
    body.sourcePort ? ['SourcePort', (w) => w.uint(body.sourcePort!)] : null,
    body.sourceNode ? ['SourceNode', (w) => w.str(body.sourceNode!)] : null,
  ];
}

// The messages sent most (pings, acks, alive, and every member's entry in a
// push/pull) are written field by field in go-msgpack's sorted order, without
// the field list, closures and sort of writeStruct; the unit tests hold them
// to writeStruct's bytes.

/** Ping: Node, SeqNo, then the optional SourceAddr, SourceNode, SourcePort. */
function writePing(w: GoMsgpackWriter, b: PingMsg): void {
  const addr = b.sourceAddr !== undefined && b.sourceAddr.length > 0;
  const node = b.sourceNode !== undefined && b.sourceNode !== '';
  const port = b.sourcePort !== undefined && b.sourcePort !== 0;
  w.mapHeader(2 + (addr ? 1 : 0) + (node ? 1 : 0) + (port ? 1 : 0));
  w.str('Node').str(b.node);
  w.str('SeqNo').uint(b.seqNo);
  if (addr) w.str('SourceAddr').raw(b.sourceAddr!);
  if (node) w.str('SourceNode').str(b.sourceNode!);
  if (port) w.str('SourcePort').uint(b.sourcePort!);
}

/** Alive: Addr, Incarnation, Meta, Node, Port, Vsn. */
function writeAlive(w: GoMsgpackWriter, m: AliveMsg): void {
  w.mapHeader(6);
  w.str('Addr').rawOrNil(m.addr);
  w.str('Incarnation').uint(m.incarnation);
  w.str('Meta').rawOrNil(m.meta);
  w.str('Node').str(m.node);
  w.str('Port').uint(m.port);
  w.str('Vsn').rawOrNil(m.vsn);
}

/** A push/pull entry: Addr, Incarnation, Meta, Name, Port, State, Vsn. */
function writeNodeState(w: GoMsgpackWriter, n: PushNodeState): void {
  w.mapHeader(7);
  w.str('Addr').rawOrNil(n.addr);
  w.str('Incarnation').uint(n.incarnation);
  w.str('Meta').rawOrNil(n.meta);
  w.str('Name').str(n.name);
  w.str('Port').uint(n.port);
  w.str('State').uint(n.state);
  w.str('Vsn').rawOrNil(n.vsn);
}

/** Encodes one message as `[type byte][msgpack body]` (push/pull: header, node states, user state). */
export function encodeMessage(msg: Message): Uint8Array {
  const w = new GoMsgpackWriter(msg.type === MessageType.PushPull ? 64 * (msg.body.nodes.length + 1) : 128, scratch);
  w.byte(msg.type);
  switch (msg.type) {
    case MessageType.Ping:
      writePing(w, msg.body);
      break;
    case MessageType.IndirectPing: {
      const b = msg.body;
      writeStruct(w, [
        ['SeqNo', (x) => x.uint(b.seqNo)],
        ['Target', (x) => x.rawOrNil(b.target)],
        ['Port', (x) => x.uint(b.port)],
        ['Node', (x) => x.str(b.node)],
        ['Nack', (x) => x.bool(b.nack)],
        ...sourceFields(b),
      ]);
      break;
    }
    case MessageType.AckResp:
      w.mapHeader(2);
      w.str('Payload').rawOrNil(msg.body.payload);
      w.str('SeqNo').uint(msg.body.seqNo);
      break;
    case MessageType.NackResp:
      writeStruct(w, [['SeqNo', (x) => x.uint(msg.body.seqNo)]]);
      break;
    case MessageType.Err:
      writeStruct(w, [['Error', (x) => x.str(msg.body.error)]]);
      break;
    case MessageType.Suspect:
    case MessageType.Dead:
      writeStruct(w, [
        ['Incarnation', (x) => x.uint(msg.body.incarnation)],
        ['Node', (x) => x.str(msg.body.node)],
        ['From', (x) => x.str(msg.body.from)],
      ]);
      break;
    case MessageType.Alive:
      writeAlive(w, msg.body);
      break;
    case MessageType.PushPull: {
      const b = msg.body;
      writeStruct(w, [
        ['Nodes', (x) => x.uint(b.nodes.length)],
        ['UserStateLen', (x) => x.uint(b.userState.length)],
        ['Join', (x) => x.bool(b.join)],
      ]);
      for (const n of b.nodes) writeNodeState(w, n);
      w.bytes(b.userState);
      break;
    }
    case MessageType.User:
      // Packet form: the payload follows the type byte as is.
      w.bytes(msg.body.payload);
      break;
    default:
      throw new WireError('unknown-type', `cannot encode message type ${(msg as { type: number }).type}`);
  }
  // finish() copies out what was written, so the buffer serves the next
  // message (encoding never nests); one grown for a big push/pull is let go.
  const buf = w.scratch();
  scratch = buf.length <= SCRATCH_KEEP_BYTES ? buf : undefined;
  return w.finish();
}

const SCRATCH_KEEP_BYTES = 64 * 1024;
let scratch: Uint8Array | undefined;

/** The stream form of a user message: `[8][userMsgHeader][payload]`. */
export function encodeStreamUserMessage(payload: Uint8Array): Uint8Array {
  const w = new GoMsgpackWriter(payload.length + 16);
  w.byte(MessageType.User);
  writeStruct(w, [['UserMsgLen', (x) => x.uint(payload.length)]]);
  w.bytes(payload);
  return w.finish();
}

function readAlive(m: MsgMap): AliveMsg {
  return {
    incarnation: fieldUint(m, 'Incarnation'),
    node: fieldString(m, 'Node', MAX_NAME_BYTES),
    addr: fieldBytes(m, 'Addr', MAX_ADDR_BYTES) ?? new Uint8Array(0),
    port: fieldUint(m, 'Port', 0xffff),
    meta: fieldBytes(m, 'Meta', META_MAX_BYTES),
    vsn: fieldBytes(m, 'Vsn', 16) ?? new Uint8Array(0),
  };
}

function readNodeState(m: MsgMap): PushNodeState {
  const state = fieldInt(m, 'State');
  if (state < WireState.Alive || state > WireState.Left) throw new WireError('malformed', `node state ${state} unknown`);
  return {
    name: fieldString(m, 'Name', MAX_NAME_BYTES),
    addr: fieldBytes(m, 'Addr', MAX_ADDR_BYTES) ?? new Uint8Array(0),
    port: fieldUint(m, 'Port', 0xffff),
    meta: fieldBytes(m, 'Meta', META_MAX_BYTES),
    incarnation: fieldUint(m, 'Incarnation'),
    state: state as WireState,
    vsn: fieldBytes(m, 'Vsn', 16) ?? new Uint8Array(0),
  };
}

function readSource(m: MsgMap): { sourceAddr?: Uint8Array; sourcePort?: number; sourceNode?: string } {
  const out: { sourceAddr?: Uint8Array; sourcePort?: number; sourceNode?: string } = {};
  const addr = fieldBytes(m, 'SourceAddr', MAX_ADDR_BYTES);
  if (addr && addr.length > 0) out.sourceAddr = addr;
  const port = fieldUint(m, 'SourcePort', 0xffff);
  if (port) out.sourcePort = port;
  const node = fieldString(m, 'SourceNode', MAX_NAME_BYTES);
  if (node) out.sourceNode = node;
  return out;
}

function readPushPull(r: GoMsgpackReader, limits: WireLimits): PushPullMsg {
  const header = r.map();
  const nodes = fieldInt(header, 'Nodes');
  const userStateLen = fieldInt(header, 'UserStateLen');
  if (nodes < 0 || userStateLen < 0) throw new WireError('malformed', 'negative push/pull count');
  if (nodes > limits.maxPushPullNodes) throw new WireError('too-many-nodes', `push/pull announces ${nodes} nodes`);
  const states: PushNodeState[] = [];
  for (let i = 0; i < nodes; i++) states.push(readNodeState(r.map()));
  if (userStateLen > r.remaining()) throw new WireError('truncated', 'push/pull user state truncated');
  const userState = r.buf.slice(r.pos, r.pos + userStateLen);
  r.pos += userStateLen;
  return { join: fieldBool(header, 'Join'), nodes: states, userState };
}

/**
 * Decodes one plain message (not compound/compressed/encrypted). `stream`
 * selects the stream form of user messages (header + length) over the packet
 * form (payload is the rest).
 */
export function decodeMessage(buf: Uint8Array, limits: WireLimits = DEFAULT_WIRE_LIMITS, stream = false): DecodeResult<Message> {
  if (buf.length === 0) return fail('truncated', 'empty message');
  const type = buf[0]!;
  return capture((): Message => {
    const r = new GoMsgpackReader(buf, 1);
    switch (type) {
      case MessageType.Ping: {
        const m = r.map();
        return { type, body: { seqNo: fieldUint(m, 'SeqNo'), node: fieldString(m, 'Node', MAX_NAME_BYTES), ...readSource(m) } };
      }
      case MessageType.IndirectPing: {
        const m = r.map();
        return {
          type,
          body: {
            seqNo: fieldUint(m, 'SeqNo'),
            target: fieldBytes(m, 'Target', MAX_ADDR_BYTES) ?? new Uint8Array(0),
            port: fieldUint(m, 'Port', 0xffff),
            node: fieldString(m, 'Node', MAX_NAME_BYTES),
            nack: fieldBool(m, 'Nack'),
            ...readSource(m),
          },
        };
      }
      case MessageType.AckResp: {
        const m = r.map();
        return { type, body: { seqNo: fieldUint(m, 'SeqNo'), payload: fieldBytes(m, 'Payload', MAX_PAYLOAD_BYTES) } };
      }
      case MessageType.NackResp:
        return { type, body: { seqNo: fieldUint(r.map(), 'SeqNo') } };
      case MessageType.Err:
        return { type, body: { error: fieldString(r.map(), 'Error') } };
      case MessageType.Suspect:
      case MessageType.Dead: {
        const m = r.map();
        const body = { incarnation: fieldUint(m, 'Incarnation'), node: fieldString(m, 'Node', MAX_NAME_BYTES), from: fieldString(m, 'From', MAX_NAME_BYTES) };
        return type === MessageType.Suspect ? { type, body } : { type, body };
      }
      case MessageType.Alive:
        return { type, body: readAlive(r.map()) };
      case MessageType.PushPull:
        return { type, body: readPushPull(r, limits) };
      case MessageType.User: {
        if (!stream) return { type, body: { payload: buf.slice(1) } };
        const len = fieldInt(r.map(), 'UserMsgLen');
        if (len < 0 || len > r.remaining()) throw new WireError('truncated', 'user message truncated');
        return { type, body: { payload: buf.slice(r.pos, r.pos + len) } };
      }
      default:
        throw new WireError('unknown-type', `message type ${type}`);
    }
  });
}
