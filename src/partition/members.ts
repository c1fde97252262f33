// What partition assignment needs to know about a member, taken from the
// core's snapshot and the Serf-format tags in its metadata.
import type { MemberSnapshot, MemberState } from '../core/member-types.js';
import { decodeTags } from '../wire/serf-tags.js';

/**
 * Tag a daemon sets with partitions.requireSession: "down" while no application
 * session is live. Such a member is treated like a drained one (never primary).
 */
export const APP_TAG = 'swimd-app';

/**
 * Tag a daemon sets to "1" while flap damping suppresses it (flap-damping.ts):
 * the member counts its own flaps and states the decision here, and every
 * member reads it (damped-members.ts). It can only take a member out of primary roles.
 */
export const DAMPED_TAG = 'swimd-damped';

export interface PartitionMember {
  readonly name: string;
  readonly state: MemberState;
  readonly incarnation: number;
  /** Tag `zone`: replicas of a partition prefer distinct zones. */
  readonly zone: string;
  /** Tag `weight` (> 0, default 1): scales how many partitions a member wins. */
  readonly weight: number;
  /** Tag `drain` ("true" or "1"), or no live application session: never primary, may stay a replica. */
  readonly drain: boolean;
  /** All tags, for eligibility selectors (partitions.eligible). */
  readonly tags: Readonly<Record<string, string>>;
  /** The local node reached it itself; a member known only from gossip holds no role. */
  readonly contacted: boolean;
}

export function partitionMemberOf(s: MemberSnapshot): PartitionMember {
  const tags = s.meta.length > 0 ? decodeTags(s.meta) : null;
  const weight = Number(tags?.weight ?? '1');
  return {
    name: s.name,
    state: s.state,
    incarnation: s.incarnation,
    zone: tags?.zone ?? '',
    weight: Number.isFinite(weight) && weight > 0 ? weight : 1,
    drain: tags?.drain === 'true' || tags?.drain === '1' || tags?.[APP_TAG] === 'down',
    tags: tags ?? {},
    contacted: s.contacted,
  };
}

/** The member states, by its own tag, that flap damping keeps it from being primary. */
export function isDamped(s: MemberSnapshot): boolean {
  return partitionMemberOf(s).tags[DAMPED_TAG] === '1';
}
