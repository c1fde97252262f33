import type { DropReason } from '../wire/errors.js';
import type { IdentityRefusal } from './identity.js';
/** Plain counters the core keeps; the daemon exports them as metrics. */
export interface CoreStats {
  probes: number;
  acks: number;
  nacks: number;
  indirectProbes: number;
  tcpFallbackProbes: number;
  /** Probes that got no ack by any route (direct, indirect, TCP): each starts or confirms a suspicion. */
  failedProbes: number;
  /** Probes the member's host refused (port unreachable, connection reset): the crash fast path. */
  refusedProbes: number;
  /** Crash-watch pings sent between probe rounds, and the refusals among their answers that started a probe round. */
  crashWatchPings: number;
  crashWatchRefusals: number;
  /** Crash-watch targets that missed SILENT_MISSES pings in a row and got a probe round at once. */
  crashWatchSilences: number;
  suspicions: number;
  refutes: number;
  /** Accusations of this node older than its incarnation, answered by re-announcing the current alive. */
  staleAccusations: number;
  deaths: number;
  leaves: number;
  joins: number;
  pushPulls: number;
  /** Verification pings sent to members heard of only by gossip. */
  verifications: number;
  /** Direct answers to stale accusations (the alive this node holds, sent to the accuser). */
  staleAnswers: number;
  /** Members moved back to their last verified address after a move there never verified. */
  addressReverts: number;
  pushPullFailures: number;
  reconnects: number;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Probe rounds answered only by the TCP fallback ping (no UDP ack, direct or relayed). */
  tcpOnlyProbes: number;
  /** "UDP appears blocked" warnings logged, and those over the per-minute bound (counted, not logged). */
  udpBlockedWarnings: number;
  udpBlockedWarningsSuppressed: number;
  /** Dropped input by reason: wire reasons (truncated, decrypt-failed, …) and core ones (queue-full, wrong-node, …). */
  drops: Partial<Record<CoreDropReason, number>>;
  /** Protocol periods run (probe rounds started). */
  probePeriods: number;
  /** Protocol periods that started a whole period or more late (an event-loop stall skipped one). */
  missedProbePeriods: number;
  /** Largest delay seen between when a protocol period was due and when it ran. */
  maxProbeLatenessMs: number;
}

export function newStats(): CoreStats {
  return {
    probes: 0,
    acks: 0,
    nacks: 0,
    indirectProbes: 0,
    tcpFallbackProbes: 0,
    failedProbes: 0,
    refusedProbes: 0,
    crashWatchPings: 0,
    crashWatchRefusals: 0,
    crashWatchSilences: 0,
    suspicions: 0,
    refutes: 0,
    staleAccusations: 0,
    deaths: 0,
    leaves: 0,
    joins: 0,
    pushPulls: 0,
    verifications: 0,
    staleAnswers: 0,
    addressReverts: 0,
    pushPullFailures: 0,
    reconnects: 0,
    packetsIn: 0,
    packetsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    tcpOnlyProbes: 0,
    udpBlockedWarnings: 0,
    udpBlockedWarningsSuppressed: 0,
    drops: {},
    probePeriods: 0,
    missedProbePeriods: 0,
    maxProbeLatenessMs: 0,
  };
}

/**
 * Every reason the core drops input for: the metric label of
 * swimd_drops_total. Append-only, like the wire enum: dashboards key on them.
 */
export const CORE_DROP_REASONS = [
  'ack-handlers-full', 'address-conflict', 'bad-address', 'bad-version', 'identity-address-taken',
  'incompatible-protocol', 'internal-error', 'listener-error', 'members-full', 'push-pull-busy',
  'queue-full', 'source-rate', 'unexpected-evidence', 'unexpected-packet-message',
  'unexpected-stream-message', 'unknown-ack', 'unknown-nack', 'user-message-ignored', 'verify-queued',
  'wrong-node',
] as const;

/**
 * Why a push/pull user-state delegate refused a state (counted as
 * `user-state-<refusal>`): not its own (another program's state, such as
 * Serf's), a format version it does not read, too large, malformed, its own
 * state echoed back, from a sender that is not a member it compares with, or
 * its table of peers is full.
 */
export const USER_STATE_REFUSALS = ['foreign', 'version', 'oversized', 'malformed', 'self', 'unknown-sender', 'peers-full'] as const;
export type UserStateRefusal = (typeof USER_STATE_REFUSALS)[number];

/** The invariants the core checks (counted as `invariant:<name>` outside strict mode). */
export const INVARIANT_NAMES = [
  'ack-handlers-over-bound', 'broadcasts-over-bound', 'member-added-twice', 'members-over-bound',
  'push-pulls-in-flight-negative', 'timer-armed-twice', 'view-went-back',
] as const;
export type InvariantName = (typeof INVARIANT_NAMES)[number];

/**
 * A drop reason: the core's own, a wire decoder's (for datagrams, or prefixed
 * `stream-` for streams), an identity check's (`identity-`), or a broken
 * invariant's. The type admits nothing else, so no call can invent a label.
 */
export type CoreDropReason =
  | (typeof CORE_DROP_REASONS)[number]
  | DropReason
  | `stream-${DropReason}`
  | `identity-${IdentityRefusal}`
  | `user-state-${UserStateRefusal}`
  | `invariant:${InvariantName}`;

export function countDrop(stats: CoreStats, reason: CoreDropReason, n = 1): void {
  stats.drops[reason] = (stats.drops[reason] ?? 0) + n;
}
