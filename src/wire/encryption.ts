// AES-GCM payload encryption: `[version][12-byte nonce][ciphertext + 16-byte tag]`.
// Version 1 encrypts the message as is; version 0 (protocol 1 peers only) pads
// it with PKCS#7 first. The key length picks AES-128/192/256.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { WireError } from './errors.js';

export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
const VERSION_BYTES = 1;
const BLOCK = 16;
export const MAX_ENCRYPTION_VERSION = 1;

/** Bytes encryption adds to a message of `msgLen` bytes. */
export function encryptedLength(version: number, msgLen: number): number {
  if (version === 0) return VERSION_BYTES + NONCE_BYTES + msgLen + (BLOCK - (msgLen % BLOCK)) + TAG_BYTES;
  return VERSION_BYTES + NONCE_BYTES + msgLen + TAG_BYTES;
}

function algorithm(key: Uint8Array): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  if (key.length === 16) return 'aes-128-gcm';
  if (key.length === 24) return 'aes-192-gcm';
  if (key.length === 32) return 'aes-256-gcm';
  throw new WireError('decrypt-failed', `bad key length ${key.length}`);
}

/**
 * The randomness sealing needs (AES-GCM nonces). Declared here so the codec
 * depends on nothing above it; the core's Random satisfies it.
 */
export interface NonceSource {
  fill(out: Uint8Array): void;
}

export function encryptPayload(version: number, key: Uint8Array, msg: Uint8Array, additionalData: Uint8Array, random: NonceSource): Uint8Array {
  const nonce = new Uint8Array(NONCE_BYTES);
  random.fill(nonce);
  let plain = msg;
  if (version === 0) {
    const pad = BLOCK - (msg.length % BLOCK);
    plain = new Uint8Array(msg.length + pad);
    plain.set(msg);
    plain.fill(pad, msg.length);
  }
  const cipher = createCipheriv(algorithm(key), key, nonce);
  if (additionalData.length > 0) cipher.setAAD(additionalData);
  const body = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  const out = new Uint8Array(VERSION_BYTES + NONCE_BYTES + body.length);
  out[0] = version;
  out.set(nonce, 1);
  out.set(body, 1 + NONCE_BYTES);
  return out;
}

function tryDecrypt(key: Uint8Array, buf: Uint8Array, additionalData: Uint8Array): Uint8Array | null {
  const nonce = buf.subarray(1, 1 + NONCE_BYTES);
  const ct = buf.subarray(1 + NONCE_BYTES, buf.length - TAG_BYTES);
  const tag = buf.subarray(buf.length - TAG_BYTES);
  try {
    const d = createDecipheriv(algorithm(key), key, nonce);
    if (additionalData.length > 0) d.setAAD(additionalData);
    d.setAuthTag(tag);
    return new Uint8Array(Buffer.concat([d.update(ct), d.final()]));
  } catch {
    return null;
  }
}

/** Tries every key; throws WireError('decrypt-failed') when none opens the message. */
export function decryptPayload(keys: readonly Uint8Array[], buf: Uint8Array, additionalData: Uint8Array): Uint8Array {
  if (buf.length < VERSION_BYTES + NONCE_BYTES + TAG_BYTES) throw new WireError('decrypt-failed', 'encrypted payload too short');
  const version = buf[0]!;
  if (version > MAX_ENCRYPTION_VERSION) throw new WireError('decrypt-failed', `unsupported encryption version ${version}`);
  for (const key of keys) {
    const plain = tryDecrypt(key, buf, additionalData);
    if (plain === null) continue;
    if (version === 0) {
      const pad = plain[plain.length - 1] ?? 0;
      if (pad === 0 || pad > BLOCK || pad > plain.length) throw new WireError('decrypt-failed', 'bad padding');
      return plain.subarray(0, plain.length - pad);
    }
    return plain;
  }
  throw new WireError('decrypt-failed', 'no installed key decrypts the message');
}
