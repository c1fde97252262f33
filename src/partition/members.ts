// What partition assignment needs to know about a member, taken from the
// core's snapshot and the Serf-format tags in its metadata.
import type { MemberSnapshot, MemberState } from '../core/member-types.js';
import { decodeTags } from '../wire/serf-tags.js';

export interface PartitionMember {
  readonly name: string;
  readonly state: MemberState;
  readonly incarnation: number;
  /** Tag `zone`: replicas of a partition prefer distinct zones. */
  readonly zone: string;
  /** Tag `weight` (> 0, default 1): scales how many partitions a member wins. */
  readonly weight: number;
  /** Tag `drain` ("true" or "1"): never primary, may stay a replica. */
  readonly drain: boolean;
  /** All tags, for eligibility selectors (partitions.eligible). */
  readonly tags: Readonly<Record<string, string>>;
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
    drain: tags?.drain === 'true' || tags?.drain === '1',
    tags: tags ?? {},
  };
}
