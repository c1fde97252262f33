// One member's record inside the core (mutable, private to the core) and its
// immutable snapshot for everyone else.
import type { Address } from '../base/env.js';
import type { MemberSnapshot, MemberState, ReachSnapshot } from './member-types.js';

export interface MemberRecord {
  name: string;
  host: string;
  port: number;
  addr: Uint8Array;
  meta: Uint8Array;
  incarnation: number;
  state: MemberState;
  stateChangedAtMs: number;
  vsn: number[];
  /** Bumped on every state change, so a suspicion timer can tell it is still current. */
  changeSeq: number;
  /**
   * This node reached the member at its advertised address itself (a direct or
   * TCP ack, a verification ping, a push/pull it started). A member known only
   * from gossip is not trusted with roles (partition ownership) until then.
   */
  contacted: boolean;
  /** Where it was last reached (set with contacted): a takeover of its address that never verifies reverts here. */
  verified: { host: string; port: number; addr: Uint8Array } | null;
  /** The path the last answered probe took (see reachability.ts); unset before one was answered. */
  reach?: ReachSnapshot;
  /** Cached snapshot, rebuilt only when the record changes. */
  snapshot: MemberSnapshot | null;
}

export function snapshotOf(m: MemberRecord): MemberSnapshot {
  if (m.snapshot === null) {
    m.snapshot = Object.freeze({
      name: m.name,
      host: m.host,
      port: m.port,
      state: m.state,
      incarnation: m.incarnation,
      meta: m.meta,
      stateChangedAtMs: m.stateChangedAtMs,
      vsn: Object.freeze([...m.vsn]),
      contacted: m.contacted,
      reach: m.reach ?? null,
    });
  }
  return m.snapshot;
}

export function sameBytes(a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): boolean {
  const x = a ?? new Uint8Array(0);
  const y = b ?? new Uint8Array(0);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

export function isDeadOrLeft(m: MemberRecord): boolean {
  return m.state === 'dead' || m.state === 'left';
}

export function addressOf(m: MemberRecord): Address {
  return { host: m.host, port: m.port };
}
