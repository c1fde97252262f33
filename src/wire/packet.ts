// The datagram pipeline. Sending: compress (only when smaller) → CRC (for peers
// whose protocol max is ≥ 5; the core decides) → encrypt → label. Receiving
// reverses it. A bad label, key or CRC drops the whole packet; a bad part inside
// a compound drops only that part.
import { compressMessage, decompressMessage } from './compress.js';
import { splitCompound } from './compound.js';
import { addCrc, stripCrc } from './crc.js';
import { decodeMessage } from './codec.js';
import { decryptPayload, encryptedLength, encryptPayload, type NonceSource } from './encryption.js';
import { WireError, capture, type DecodeResult, type DropReason } from './errors.js';
import { utf8 } from './gomsgpack.js';
import type { Keyring } from './keyring.js';
import { addLabel, checkLabel, labelOverheadBytes, splitLabel } from './label.js';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from './limits.js';
import { MessageType, type Message } from './messages.js';

export interface WireSecurity {
  /** '' means no label header. */
  label: string;
  keyring: Keyring | null;
  /** Encrypt what we send (memberlist's GossipVerifyOutgoing); needs a keyring. */
  encryptOutgoing: boolean;
  /** Refuse plaintext (memberlist's GossipVerifyIncoming); needs a keyring. */
  requireEncryptedIncoming: boolean;
}

export const PLAINTEXT: WireSecurity = Object.freeze({ label: '', keyring: null, encryptOutgoing: false, requireEncryptedIncoming: false });

export interface SealOptions {
  crc: boolean;
  compress: boolean;
  security: WireSecurity;
  random: NonceSource;
}

/** Encryption version we send: 1 (no padding), as memberlist does for protocol ≥ 2. */
export const ENCRYPTION_VERSION = 1;

export function encrypting(security: WireSecurity): boolean {
  return security.keyring !== null && security.encryptOutgoing && security.keyring.primaryKey() !== null;
}

export function sealPacket(payload: Uint8Array, opts: SealOptions): Uint8Array {
  let msg = payload;
  if (opts.compress) {
    const c = compressMessage(msg);
    if (c.length < msg.length) msg = c;
  }
  if (opts.crc) msg = addCrc(msg);
  const { security } = opts;
  if (encrypting(security)) {
    msg = encryptPayload(ENCRYPTION_VERSION, security.keyring!.primaryKey()!, msg, utf8(security.label), opts.random);
  }
  return addLabel(msg, security.label);
}

/**
 * Bytes the label and encryption add to every packet (for the piggyback budget).
 * memberlist's budget for gossip is udpBufferSize − 2 (compound header) − this,
 * minus the message itself when piggybacking on a probe, and each piggybacked
 * message costs its length + 2 (its u16 length in the compound). Encryption
 * version 1 adds 1 + 12 + 16 = 29 bytes; a label adds 2 + its length. A compound
 * holds at most 255 parts (u8 count); longer lists are split into several.
 */
export function packetOverheadBytes(security: WireSecurity): number {
  return labelOverheadBytes(security.label) + (encrypting(security) ? encryptedLength(ENCRYPTION_VERSION, 0) : 0);
}

export interface OpenedPacket {
  messages: Message[];
  /** Parts of a compound that were dropped (the rest were kept). */
  drops: DropReason[];
}

export function openPacket(data: Uint8Array, security: WireSecurity, limits: WireLimits = DEFAULT_WIRE_LIMITS): DecodeResult<OpenedPacket> {
  return capture(() => {
    if (data.length > limits.maxPacketBytes) throw new WireError('oversized', `packet of ${data.length} bytes`);
    const { label, rest } = splitLabel(data);
    checkLabel(label, security.label);
    let buf = rest;
    if (security.keyring !== null) {
      try {
        buf = decryptPayload(security.keyring.keys(), rest, label);
      } catch (err) {
        // A cluster moving to encryption runs with requireEncryptedIncoming off and
        // accepts plaintext meanwhile; otherwise the packet is dropped.
        if (security.requireEncryptedIncoming) throw err;
        buf = rest;
      }
    }
    const out: OpenedPacket = { messages: [], drops: [] };
    handle(buf, 0, out, limits, true);
    return out;
  });
}

function handle(buf: Uint8Array, depth: number, out: OpenedPacket, limits: WireLimits, top: boolean): void {
  if (depth > limits.maxNestingDepth) throw new WireError('malformed', 'wrappers nested too deep');
  if (buf.length === 0) throw new WireError('truncated', 'empty message');
  switch (buf[0]) {
    case MessageType.HasCrc:
      return handle(stripCrc(buf), depth + 1, out, limits, top);
    case MessageType.Compress:
      return handle(decompressMessage(buf, limits.maxPacketBytes * 8), depth + 1, out, limits, top);
    case MessageType.Compound: {
      const { parts, truncated } = splitCompound(buf);
      for (let i = 0; i < truncated; i++) out.drops.push('truncated');
      for (const part of parts) {
        try {
          handle(part, depth + 1, out, limits, false);
        } catch (err) {
          out.drops.push(err instanceof WireError ? err.code : 'malformed');
        }
      }
      return;
    }
    default: {
      const r = decodeMessage(buf, limits, false);
      if (r.ok) out.messages.push(r.value);
      else if (top) throw new WireError(r.reason, r.detail);
      else out.drops.push(r.reason);
    }
  }
}
