// Members that stay in the view but may not be primary now, beyond drain and
// eligibility (the engine treats them as drained: replicas, never primary):
// - Damped, read from their own tags (DAMPED_TAG; each member scores itself,
//   flap-damping.ts). Damped members are barred while the live eligible
//   members that could be primary instead are at least as many as they are.
//   Otherwise (a series of splits can damp every member, or all but a few:
//   each refutes its own death once per heal) the flaps are the cluster's, not
//   a few members' own, and the damped members are primary candidates again:
//   damping alone never leaves a partition without a primary, nor piles every
//   primary on the few members a split happened to spare.
// - Gone: suspected at an incarnation at which a probe of it was refused over
//   UDP and TCP (its host is up and nothing listens on its port). Its process
//   is dead or restarting, and a restarted process holds no epoch, so its
//   partitions move now rather than after the suspicion's short timeout; the
//   member itself is declared dead only when that runs out, and a restart
//   (a new incarnation) ends the bar. The mark is this member's own probe, or
//   the evidence of a claim or hint from the member that probed.
// - Silent: an eligible member whose heartbeats stopped reaching this member
//   (heartbeats.ts). Unlike the others this is each member's own judgement on
//   its own clock; granters judge for themselves, so a claim resting on one
//   member's bad link is refused. Hearing it again ends the bar.
// Damped and gone are functions of the member list and the marks, so members
// that hold the same view decide the same.
import type { MemberSnapshot } from '../core/member-types.js';
import { DAMPED_TAG, partitionMemberOf, type PartitionMember } from './members.js';

export class PrimaryBars {
  /** Live eligible members advertising the damped tag. */
  private readonly damped = new Set<string>();
  /** Live eligible members that may be primary: neither damped nor drained. */
  private readonly candidates = new Set<string>();
  /** Refusal-backed suspects: name → the incarnation it is suspected at. */
  private readonly gone = new Map<string, number>();
  /** Members whose heartbeats stopped reaching this member. */
  private readonly silent = new Set<string>();
  /** Whether the damped members were last reported as candidates (no other member could be primary). */
  private reportedFallback = true;

  constructor(
    private readonly eligible: (m: PartitionMember) => boolean = () => true,
    /** Bound on the gone marks (one per suspect member at most): swim.maxMembers. */
    private readonly maxGone = 1024,
  ) {}

  /** Kept from primary now (the engine treats it as drained). */
  suppressed(name: string): boolean {
    return this.gone.has(name) || this.silent.has(name) || this.dampingBars(name);
  }

  /** Kept from primary by its damped tag (the fallback considered). */
  dampingBars(name: string): boolean {
    return this.damped.has(name) && this.barsDamped();
  }

  /** Damped members are barred: the members that could be primary instead are at least as many. */
  private barsDamped(): boolean {
    return this.candidates.size > 0 && this.candidates.size >= this.damped.size;
  }

  isGone(name: string): boolean {
    return this.gone.has(name);
  }

  goneIncarnation(name: string): number | undefined {
    return this.gone.get(name);
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
   * True once each time the damping fallback turned on or off since the last
   * call (by an observed snapshot or a gone mark: either count may cross the
   * other) while some member is damped: the caller then reads every damped
   * member again.
   */
  takeFallbackChange(): boolean {
    const on = !this.barsDamped();
    if (on === this.reportedFallback) return false;
    this.reportedFallback = on;
    return this.damped.size > 0;
  }

  /** Records a member's latest snapshot (`pm`: its tags decoded, when the caller has them already). */
  observe(s: MemberSnapshot, pm: PartitionMember = partitionMemberOf(s)): void {
    this.damped.delete(s.name);
    this.candidates.delete(s.name);
    // A gone mark holds only while the member is suspect at that incarnation: dead, left or back ends it.
    const goneAt = this.gone.get(s.name);
    if (goneAt !== undefined && (s.state !== 'suspect' || s.incarnation !== goneAt)) this.gone.delete(s.name);
    if (s.state !== 'alive' && s.state !== 'suspect') this.silent.delete(s.name);
    if ((s.state === 'alive' || s.state === 'suspect') && this.eligible(pm)) {
      if (pm.tags[DAMPED_TAG] === '1') this.damped.add(s.name);
      else if (!pm.drain && !this.gone.has(s.name) && !this.silent.has(s.name)) this.candidates.add(s.name);
    }
  }

  /**
   * Marks a suspect member whose process refused probes at `incarnation`.
   * Returns true when the mark is new and holds (the member is suspect at that
   * incarnation in `s`); the caller then applies an update event for it (and
   * checks takeFallbackChange: the member may have been the last candidate).
   */
  markGone(s: MemberSnapshot, incarnation: number): boolean {
    if (s.state !== 'suspect' || s.incarnation !== incarnation || this.gone.get(s.name) === incarnation) return false;
    if (this.gone.size >= this.maxGone && !this.gone.has(s.name)) return false;
    this.gone.set(s.name, incarnation);
    this.candidates.delete(s.name);
    return true;
  }

  /**
   * Sets or clears the silent bar of a member (alive or suspect: the caller
   * applies an update event for it after, and checks takeFallbackChange).
   * Returns true when it changed. Bounded like the gone marks.
   */
  setSilent(s: MemberSnapshot, on: boolean, pm: PartitionMember = partitionMemberOf(s)): boolean {
    if (on === this.silent.has(s.name)) return false;
    if (on) {
      if ((s.state !== 'alive' && s.state !== 'suspect') || this.silent.size >= this.maxGone) return false;
      this.silent.add(s.name);
    } else this.silent.delete(s.name);
    this.observe(s, pm);
    return true;
  }

  /** Drops the silent bar without re-reading the member: it is no longer eligible or alive, so the bar reads nothing now. */
  forgetSilent(name: string): void {
    this.silent.delete(name);
  }

  isSilent(name: string): boolean {
    return this.silent.has(name);
  }
}
