// Stream (TCP) messages: an optional label header, then one message with no
// extra framing. Encrypted: `[10][u32 BE length][version][nonce][ciphertext+tag]`
// with additional data `[10][length]` + label. memberlist may compress the
// message first (`[9]{Algo, Buf}`).
import { compressMessage, decompressMessage } from './compress.js';
import { decodeMessage } from './codec.js';
import { decryptPayload, encryptedLength, encryptPayload } from './encryption.js';
import { WireError, capture, type DecodeResult, type DropReason } from './errors.js';
import { fieldInt, GoMsgpackReader, utf8 } from './gomsgpack.js';
import { addLabel, checkLabel, splitLabel } from './label.js';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from './limits.js';
import { MessageType, type Message } from './messages.js';
import { ENCRYPTION_VERSION, encrypting, type SealOptions, type WireSecurity } from './packet.js';

const ENCRYPT_HEADER_BYTES = 5;

export function sealStream(message: Uint8Array, opts: SealOptions): Uint8Array {
  let msg = message;
  if (opts.compress) {
    const c = compressMessage(msg);
    if (c.length < msg.length) msg = c;
  }
  const { security } = opts;
  if (encrypting(security)) {
    const header = new Uint8Array(ENCRYPT_HEADER_BYTES);
    header[0] = MessageType.Encrypt;
    new DataView(header.buffer).setUint32(1, encryptedLength(ENCRYPTION_VERSION, msg.length));
    const ad = new Uint8Array([...header, ...utf8(security.label)]);
    const body = encryptPayload(ENCRYPTION_VERSION, security.keyring!.primaryKey()!, msg, ad, opts.random);
    const framed = new Uint8Array(header.length + body.length);
    framed.set(header);
    framed.set(body, header.length);
    msg = framed;
  }
  return addLabel(msg, security.label);
}

/** Unwraps label, encryption and compression of one complete stream message and decodes it. */
export function openStream(data: Uint8Array, security: WireSecurity, limits: WireLimits = DEFAULT_WIRE_LIMITS): DecodeResult<Message> {
  const inner = capture(() => unwrapStream(data, security, limits));
  if (!inner.ok) return inner;
  return decodeMessage(inner.value, limits, true);
}

function unwrapStream(data: Uint8Array, security: WireSecurity, limits: WireLimits): Uint8Array {
  if (data.length > limits.maxStreamBytes) throw new WireError('oversized', `stream message of ${data.length} bytes`);
  const { label, rest } = splitLabel(data);
  checkLabel(label, security.label);
  if (rest.length === 0) throw new WireError('truncated', 'empty stream message');
  let msg = rest;
  if (rest[0] === MessageType.Encrypt) {
    if (security.keyring === null) throw new WireError('decrypt-failed', 'stream is encrypted and no keyring is configured');
    if (rest.length < ENCRYPT_HEADER_BYTES) throw new WireError('truncated', 'encrypted stream header truncated');
    const len = new DataView(rest.buffer, rest.byteOffset, rest.length).getUint32(1);
    if (rest.length < ENCRYPT_HEADER_BYTES + len) throw new WireError('truncated', 'encrypted stream truncated');
    const ad = new Uint8Array([...rest.subarray(0, ENCRYPT_HEADER_BYTES), ...label]);
    msg = decryptPayload(security.keyring.keys(), rest.subarray(ENCRYPT_HEADER_BYTES, ENCRYPT_HEADER_BYTES + len), ad);
  } else if (security.keyring !== null && security.requireEncryptedIncoming) {
    throw new WireError('unencrypted', 'encryption is required and the stream is plaintext');
  }
  if (msg.length > 0 && msg[0] === MessageType.Compress) msg = decompressMessage(msg, limits.maxStreamBytes);
  return msg;
}

export type FrameProbe = { complete: number } | { incomplete: true } | { error: DropReason; detail: string };

const INCOMPLETE: FrameProbe = Object.freeze({ incomplete: true as const });

/**
 * Given the bytes received so far on a stream, says how long the one framed
 * message is once it has fully arrived. Plaintext has no length prefix, so the
 * msgpack body is walked (push/pull: header, node states, user state).
 */
export function streamFrameLength(buffered: Uint8Array, _security: WireSecurity, limits: WireLimits = DEFAULT_WIRE_LIMITS): FrameProbe {
  if (buffered.length > limits.maxStreamBytes) return { error: 'oversized', detail: `stream over ${limits.maxStreamBytes} bytes` };
  let at = 0;
  if (buffered.length === 0) return INCOMPLETE;
  if (buffered[0] === MessageType.HasLabel) {
    if (buffered.length < 2) return INCOMPLETE;
    at = 2 + buffered[1]!;
    if (buffered.length <= at) return INCOMPLETE;
  }
  const type = buffered[at]!;
  if (type === MessageType.Encrypt) {
    if (buffered.length < at + ENCRYPT_HEADER_BYTES) return INCOMPLETE;
    const len = new DataView(buffered.buffer, buffered.byteOffset, buffered.length).getUint32(at + 1);
    if (len > limits.maxStreamBytes) return { error: 'oversized', detail: `encrypted stream announces ${len} bytes` };
    const total = at + ENCRYPT_HEADER_BYTES + len;
    return buffered.length >= total ? { complete: total } : INCOMPLETE;
  }
  try {
    const r = new GoMsgpackReader(buffered, at + 1);
    switch (type) {
      case MessageType.PushPull: {
        const header = r.map();
        const nodes = fieldInt(header, 'Nodes');
        const userLen = fieldInt(header, 'UserStateLen');
        if (nodes < 0 || userLen < 0) return { error: 'malformed', detail: 'negative push/pull count' };
        if (nodes > limits.maxPushPullNodes) return { error: 'too-many-nodes', detail: `${nodes} nodes` };
        for (let i = 0; i < nodes; i++) r.map();
        r.pos += userLen;
        break;
      }
      case MessageType.User: {
        const len = fieldInt(r.map(), 'UserMsgLen');
        if (len < 0) return { error: 'malformed', detail: 'negative user message length' };
        r.pos += len;
        break;
      }
      case MessageType.Ping:
      case MessageType.AckResp:
      case MessageType.NackResp:
      case MessageType.Err:
      case MessageType.Compress:
      case MessageType.Alive:
      case MessageType.Suspect:
      case MessageType.Dead:
      case MessageType.IndirectPing:
        r.map();
        break;
      default:
        return { error: 'unknown-type', detail: `stream message type ${type}` };
    }
    if (r.pos > limits.maxStreamBytes) return { error: 'oversized', detail: 'stream message too large' };
    return r.pos <= buffered.length ? { complete: r.pos } : INCOMPLETE;
  } catch (err) {
    if (err instanceof WireError && err.code === 'truncated') return INCOMPLETE;
    if (err instanceof WireError) return { error: err.code, detail: err.message };
    return { error: 'malformed', detail: String(err) };
  }
}
