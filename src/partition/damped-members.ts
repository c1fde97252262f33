// Which members flap damping keeps from being primary, read from their own
// tags (DAMPED_TAG; each member scores itself, flap-damping.ts). A damped
// member is treated as drained while at least one live eligible member could
// be primary instead; when none could (a series of splits can damp every
// member: each one refutes its own death once per heal), the damped members
// are primary candidates again, so damping alone never leaves a partition
// without a primary. Both are functions of the member list and its tags, so
// members that hold the same view decide the same.
import type { MemberSnapshot } from '../core/member-types.js';
import { DAMPED_TAG, partitionMemberOf, type PartitionMember } from './members.js';

export class DampedMembers {
  /** Live eligible members advertising the damped tag. */
  private readonly damped = new Set<string>();
  /** Live eligible members that may be primary: neither damped nor drained. */
  private readonly candidates = new Set<string>();

  constructor(private readonly eligible: (m: PartitionMember) => boolean = () => true) {}

  /** Kept from primary now (the engine treats it as drained). */
  suppressed(name: string): boolean {
    return this.candidates.size > 0 && this.damped.has(name);
  }

  /** Live members that advertise the damped tag. */
  advertising(): number {
    return this.damped.size;
  }

  /** Damped members whose reading changes when the fallback turns on or off. */
  dampedNames(): string[] {
    return [...this.damped];
  }

  /**
   * Records a member's latest snapshot. Returns true when the fallback turned
   * on or off, so that every damped member must be read again.
   */
  observe(s: MemberSnapshot): boolean {
    const hadCandidates = this.candidates.size > 0;
    this.damped.delete(s.name);
    this.candidates.delete(s.name);
    if (s.state === 'alive' || s.state === 'suspect') {
      const m = partitionMemberOf(s);
      if (this.eligible(m)) {
        if (m.tags[DAMPED_TAG] === '1') this.damped.add(s.name);
        else if (!m.drain) this.candidates.add(s.name);
      }
    }
    return hadCandidates !== this.candidates.size > 0 && this.damped.size > 0;
  }
}
