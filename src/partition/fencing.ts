// The view version: a digest of one member's view that only moves forward.
// It was swimd's first fencing token and is no longer one: during a network
// split the two sides' versions grow independently, so an isolated primary can
// hold a token its successor cannot outrank (see "Limit" below; the simulator's
// history checker shows it failing). Fencing tokens are quorum-granted epochs
// now (ownership.ts). The view version remains the `modulo` strategy's epoch,
// a cheap "has my view changed" number in the API, and the simulator's baseline.
//
// Construction. Every member that a daemon has ever known contributes one term,
//     term(m) = incarnation(m) × 4 + rank(state(m))   (alive 0, suspect 1, dead 2, left 3)
// and the view version is V = Σ term(m) over all of them, tombstones included
// (a member forgotten by the core keeps its last term here). A partition's
// fencing token is the view version of the view it was computed from.
//
// Guarantees, for a daemon whose views only move forward (the core's invariant:
// a member's (incarnation, state rank) never goes backwards, and a refuted or
// restarted member comes back with a higher incarnation):
//  (1) Two daemons with the same view compute the same tokens: V is a function
//      of the view alone, not of the order in which it was learned.
//  (2) On one daemon a token never decreases: every term only grows
//      ((i+1)·4 > i·4 + 3 covers a member coming back alive), and terms are
//      never removed.
//  (3) It strictly increases whenever a partition's primary changes: a primary
//      changes only when the view changes, and every view change either adds a
//      member (a term ≥ 4) or strictly raises one member's term.
//  (4) If daemon Y's view dominates X's (Y knows every member X knows, each at
//      an equal or more advanced (incarnation, state)), then V_Y ≥ V_X, and
//      V_Y > V_X when the views differ, which they must when the primaries do.
//
// The price of (1): the token of every partition advances on every membership
// change, not only when its own primary changes.
//
// Limit. During a network partition the two sides' views diverge and neither
// dominates the other: each side's tokens grow independently and either side's
// may be higher. Use the quorum guard (partitions.quorum) so that the minority
// side claims no primaries at all; after the heal the merged view dominates both
// sides and its tokens exceed everything either side issued. A daemon restarted
// from scratch rebuilds V from the cluster; members reaped everywhere before the
// restart no longer count, so its V can be lower than before: storage must keep
// its own high-water mark (below).
//
// A narrower limit: a member's own incarnation runs ahead of what others know
// until its refutation spreads. A primary that refuted and died before anyone
// heard it holds a token up to 2 above what the survivors compute; their writes
// for its partitions are then refused until the next membership change raises
// the view version again. That delays the new primary; it never lets the old
// one write.
//
// How a storage layer uses it. Every write carries (partition, token). Storage
// keeps the highest token it has accepted per partition and rejects any write
// with a lower one; equal tokens are accepted so a primary can keep writing.
// Once a new primary has written with its (higher) token, a deposed or paused
// ex-primary can never write again with the token it held.
import { STATE_RANK, type MemberState } from '../core/member-types.js';

export function termOf(incarnation: number, state: MemberState): number {
  return incarnation * 4 + STATE_RANK[state];
}

/** Tracks every member's highest term and their sum, the view version. */
export class ViewVersion {
  private readonly terms = new Map<string, number>();
  private total = 0;

  /** Records a member's state; returns true when the view version moved. */
  observe(name: string, incarnation: number, state: MemberState): boolean {
    const t = termOf(incarnation, state);
    const old = this.terms.get(name);
    if (old !== undefined && old >= t) return false;
    this.terms.set(name, t);
    this.total += t - (old ?? 0);
    return true;
  }

  value(): number {
    return this.total;
  }
}
