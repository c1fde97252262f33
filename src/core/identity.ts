// Identity checks on what a peer says about a member, before it touches the
// view: a port in 1–65535, a unicast address, a name within its bound, of
// printable UTF-8 (and matching limits.memberNamePattern if set), metadata
// within memberlist's bound. Each refusal has a reason, counted as
// `identity-<reason>`.
import { META_MAX_BYTES, type AliveMsg } from '../wire/messages.js';

export type IdentityRefusal = 'bad-port' | 'bad-address' | 'bad-name' | 'bad-meta';

export interface IdentityRules {
  maxNameBytes: number;
  /** Compiled limits.memberNamePattern, or null for printable UTF-8 only. */
  namePattern: RegExp | null;
}

export function identityRulesOf(cfg: { maxNameBytes: number; memberNamePattern: string }): IdentityRules {
  return { maxNameBytes: cfg.maxNameBytes, namePattern: cfg.memberNamePattern === '' ? null : new RegExp(cfg.memberNamePattern, 'u') };
}

/** No control characters (C0, DEL, C1), no replacement character from bytes that were not UTF-8, no line or paragraph separators. */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\ufffd\u2028\u2029]/u;

export function validName(name: string, rules: IdentityRules): boolean {
  if (name === '' || Buffer.byteLength(name) > rules.maxNameBytes || UNPRINTABLE.test(name)) return false;
  return rules.namePattern === null || rules.namePattern.test(name);
}

/** A unicast address a member can be reached at: not unspecified, multicast, broadcast, or in 0.0.0.0/8. */
export function isUnicast(addr: Uint8Array): boolean {
  if (addr.length === 4) {
    const a = addr[0]!;
    if (a === 0 || a >= 224) return false; // 0/8, multicast 224/4, reserved 240/4 and broadcast
    return true;
  }
  if (addr.length === 16) {
    if (addr[0] === 0xff) return false; // multicast
    return addr.some((b) => b !== 0); // :: is unspecified
  }
  return false;
}

export function checkAlive(a: AliveMsg, rules: IdentityRules): IdentityRefusal | null {
  if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65_535) return 'bad-port';
  if (!isUnicast(a.addr)) return 'bad-address';
  if (!validName(a.node, rules)) return 'bad-name';
  if (a.meta !== undefined && a.meta !== null && a.meta.length > META_MAX_BYTES) return 'bad-meta';
  return null;
}
