// Shared vocabulary for members, used by the core, partition leadership, the
// agent and the API.

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/**
 * Rank of a state for precedence and for view versions: an update with a higher
 * (incarnation, rank) pair is newer. Left ranks above dead because a graceful
 * leave is final for that incarnation.
 */
export const STATE_RANK: Readonly<Record<MemberState, number>> = {
  alive: 0,
  suspect: 1,
  dead: 2,
  left: 3,
};

/** How a probe last reached a member: its own UDP ack, an ack relayed after an indirect ping, or only the TCP fallback ping. */
export type ReachPath = 'direct' | 'indirect' | 'tcp';

export interface ReachSnapshot {
  readonly path: ReachPath;
  /** Scheduler clock (ms) of that probe's answer. */
  readonly atMs: number;
}

/** An immutable picture of one member as the local node sees it. */
export interface MemberSnapshot {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly state: MemberState;
  readonly incarnation: number;
  /** Raw metadata bytes as carried on the wire (≤ 512). */
  readonly meta: Uint8Array;
  /** Virtual or real ms (Scheduler clock) when the state last changed. */
  readonly stateChangedAtMs: number;
  /** [pMin, pMax, pCur, dMin, dMax, dCur] as advertised by the member. */
  readonly vsn: readonly number[];
  /** This node has reached the member at its address itself (not only heard of it by gossip). */
  readonly contacted: boolean;
  /** The path this node's last answered probe of the member took; null before one was answered (the core always sets it). */
  readonly reach?: ReachSnapshot | null;
}

/** Typed membership events, emitted by the core in the order they happen. */
export type MemberEvent =
  | { kind: 'join'; member: MemberSnapshot }
  | { kind: 'update'; member: MemberSnapshot }
  | { kind: 'suspect'; member: MemberSnapshot; from: string }
  | { kind: 'alive-again'; member: MemberSnapshot }
  | { kind: 'dead'; member: MemberSnapshot; from: string }
  | { kind: 'left'; member: MemberSnapshot };
