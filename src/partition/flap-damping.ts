// Flap damping, as BGP route-flap damping: a member that keeps being accused
// (suspect or dead) and refuting it drags its partitions back and forth, so each
// refutation adds a penalty to a score, the score halves every half-life, and
// above a suppress threshold the member may not be primary (it stays in the
// cluster and stays a replica, as a drained member does) until the score falls
// below a lower reuse threshold.
//
// Who decides: the flapping member itself, and only it. Every refutation of an
// accusation passes through the accused member (only it can raise its own
// incarnation), so it alone counts its flaps exactly, whichever accusations the
// rest of the cluster happened to hear. Members on the two sides of a split, or
// one that joined later, would each count a different set. The member states
// its decision in its tags (DAMPED_TAG), and every member, itself included,
// reads eligibility from the tags alone. Tags travel with the incarnation, so
// the cluster agrees on the decision wherever it agrees on the member's latest
// alive message: the same agreement SWIM gives every other tag.
// - The refutation that crosses the threshold carries the tag itself (the
//   caller stages the new metadata before the refuting alive is built), so the
//   member's return and its suppression are one change everywhere: no
//   partition moves back to it only to move away a moment later.
// - Release is a plain tag change, once the score has decayed below the reuse
//   threshold.
// - A restarted process refutes its predecessor's death (one flap) and starts
//   from the score the previous process left in node.dataDir, so a crash loop
//   is damped like a stall loop.
// No I/O and no clock of its own: the caller passes the time and persists the
// score.

import { SwimdError } from '../base/errors.js';

export interface FlapDampingOptions {
  /** Score added per flap; 0 disables damping. */
  penalty: number;
  /** Above this score the member is not eligible for primary. */
  suppressAbove: number;
  /** A suppressed member becomes eligible again once its score falls below this. */
  reuseBelow: number;
  halfLifeMs: number;
}

export class FlapDampingConfigError extends SwimdError {
  declare readonly code: 'FLAP_DAMPING_CONFIG_INVALID';
  constructor(message: string) {
    super('FLAP_DAMPING_CONFIG_INVALID', message);
  }
}

/** Ticks per half-life: the decay clock's resolution, and how often a suppressed member checks for its release. */
export const TICKS_PER_HALF_LIFE = 16;
/** The score never exceeds this multiple of suppressAbove, which bounds how long a member stays suppressed after its last flap. */
export const CEILING_FACTOR = 2;

export interface DampingState {
  readonly score: number;
  readonly suppressed: boolean;
  /** Flaps counted by this process. */
  readonly flaps: number;
}

/** What outlives the process (node.dataDir): the score as of a tick of the wall clock, and the decision. */
export interface SavedDamping {
  readonly value: number;
  readonly atTick: number;
  readonly suppressed: boolean;
}

export function validateFlapDamping(o: FlapDampingOptions): void {
  if (!(o.penalty >= 0) || !Number.isFinite(o.penalty)) throw new FlapDampingConfigError(`flapPenalty must be ≥ 0, got ${o.penalty}`);
  if (o.penalty === 0) return;
  if (!(o.suppressAbove > 0)) throw new FlapDampingConfigError(`flapSuppressAbove must be > 0, got ${o.suppressAbove}`);
  if (!(o.reuseBelow > 0 && o.reuseBelow < o.suppressAbove)) throw new FlapDampingConfigError(`flapReuseBelow must be above 0 and below flapSuppressAbove (${o.suppressAbove}), got ${o.reuseBelow}`);
  if (!(o.halfLifeMs >= TICKS_PER_HALF_LIFE)) throw new FlapDampingConfigError(`flapHalfLife must be at least ${TICKS_PER_HALF_LIFE}ms, got ${o.halfLifeMs}ms`);
}

/** This member's own damping score and decision. */
export class FlapDamping {
  readonly tickMs: number;
  /** Score as of tick `atTick` (the latest flap's stamp). */
  private value = 0;
  private atTick = -Infinity;
  private suppressed = false;
  /** Flaps counted by this process (a monotonic counter for metrics). */
  flapsCounted = 0;

  constructor(
    readonly opts: FlapDampingOptions,
    saved: SavedDamping | null = null,
  ) {
    validateFlapDamping(opts);
    this.tickMs = opts.halfLifeMs / TICKS_PER_HALF_LIFE;
    if (saved !== null && this.enabled && Number.isFinite(saved.value) && saved.value > 0 && Number.isFinite(saved.atTick)) {
      this.value = Math.min(saved.value, opts.suppressAbove * CEILING_FACTOR);
      this.atTick = saved.atTick;
      this.suppressed = saved.suppressed === true;
    }
  }

  get enabled(): boolean {
    return this.opts.penalty > 0;
  }

  /** The decision now in force (set when a flap crosses the threshold, released in evaluate()). */
  isSuppressed(): boolean {
    return this.suppressed;
  }

  stateAt(nowMs: number): DampingState {
    return { score: this.scoreAt(this.tickOf(nowMs)), suppressed: this.suppressed, flaps: this.flapsCounted };
  }

  saved(): SavedDamping {
    return { value: this.value, atTick: this.atTick, suppressed: this.suppressed };
  }

  /**
   * This member is about to refute an accusation of itself: one flap, however
   * far its incarnation has to jump. Returns true when this flap suppressed it,
   * so the refutation must carry the tag.
   */
  refuting(nowMs: number): boolean {
    if (!this.enabled) return false;
    const stamp = Math.max(this.atTick, this.tickOf(nowMs));
    this.value = Math.min(this.opts.suppressAbove * CEILING_FACTOR, this.scoreAt(stamp) + this.opts.penalty);
    this.atTick = stamp;
    this.flapsCounted++;
    if (this.suppressed || this.value <= this.opts.suppressAbove) return false;
    this.suppressed = true;
    return true;
  }

  /** When to call evaluate() next: the next tick boundary while suppressed; else null. */
  nextEvaluationMs(nowMs: number): number | null {
    if (!this.enabled || !this.suppressed) return null;
    return (this.tickOf(nowMs) + 1) * this.tickMs;
  }

  /** Releases the member once its score fell below the reuse threshold; true when it did now. */
  evaluate(nowMs: number): boolean {
    if (!this.enabled || !this.suppressed || this.scoreAt(this.tickOf(nowMs)) >= this.opts.reuseBelow) return false;
    this.suppressed = false;
    return true;
  }

  private tickOf(nowMs: number): number {
    return Math.floor(nowMs / this.tickMs);
  }

  private scoreAt(tick: number): number {
    if (this.value === 0 || tick <= this.atTick) return this.value;
    return this.value * 2 ** (-(tick - this.atTick) / TICKS_PER_HALF_LIFE);
  }
}
