// Flap damping, as BGP route-flap damping: a member that keeps being accused
// (suspect or dead) and refuting it drags its partitions back and forth, so each
// refutation adds a penalty to the member's score, the score halves every
// half-life, and above a suppress threshold the member may not be primary (it
// stays in the cluster and stays a replica, as a drained member does) until the
// score falls below a lower reuse threshold.
//
// Every member decides about every other member for itself, so the rule is
// built for agreement between members that heard the same gossip:
// - A flap is (member, accused incarnation i): counted once when this node has
//   heard an accusation at incarnation i (suspect or dead, current or already
//   refuted, about itself too) and holds the member alive at an incarnation
//   above i. The accusation and the refutation are both gossiped to everyone,
//   and the pair is counted whichever arrives first, so members that heard the
//   same messages count the same flaps, each once.
// - A flap counts at once, and the member is suppressed as soon as its score
//   passes the suppress threshold: the refutation that counts the flap is the
//   same message that brings the member back, so its return and its
//   suppression are one change, made when the news arrives (the disagreement
//   window is the one the alive message has anyway, and no partition moves
//   back only to move away again a moment later).
// - Decay and reuse follow a shared coarse clock (wall-clock ticks of
//   halfLife / 16; virtual time in the simulator): a flap is stamped with the
//   tick it arrived in, the score is a function of those stamps alone, and a
//   suppressed member is released only at tick boundaries. Members that heard
//   a flap within the same tick (gossip spreads a refutation in well under a
//   second) hold the same score and release the member at the same boundary;
//   otherwise they differ by one tick.
// - A graceful leave and rejoin, or a process at another address under the same
//   name, starts over: it is a new process, not a refutation. A crash noticed by
//   the cluster and a restart at the same address is, on the wire, a refutation
//   of the death and counts once (so a crash loop is damped too); one restart
//   alone never suppresses (penalty < suppress threshold).
// No I/O and no clock of its own: the caller passes the time.

export interface FlapDampingOptions {
  /** Score added per flap; 0 disables damping. */
  penalty: number;
  /** Above this score a member is not eligible for primary. */
  suppressAbove: number;
  /** A suppressed member becomes eligible again once its score falls below this. */
  reuseBelow: number;
  halfLifeMs: number;
  /** Bound on the members tracked (those with a score or a pending accusation); the lowest score is forgotten first. */
  maxMembers: number;
}

export class FlapDampingConfigError extends Error {
  readonly code = 'FLAP_DAMPING_CONFIG_INVALID';
}

/** Ticks per half-life: the decision clock's resolution. */
export const TICKS_PER_HALF_LIFE = 16;
/** Accused incarnations remembered per member until a refutation settles them. */
const PENDING_MAX = 16;
/** The score never exceeds this multiple of suppressAbove, which bounds how long a member stays suppressed after its last flap. */
export const CEILING_FACTOR = 2;

interface DampingRecord {
  /** Score as of tick `atTick` (the latest counted flap's stamp, or a later evaluation). */
  value: number;
  atTick: number;
  /** What the flaps stamped at atTick added (ticks before atTick do not see it yet). */
  addedAtTick: number;
  suppressed: boolean;
  /** Highest accused incarnation counted: older accusations are already settled. */
  countedUpTo: number;
  /** Accused incarnations above countedUpTo not yet refuted. */
  pending: number[];
  /** The alive incarnation last seen, and the address it was seen at (another address is another process). */
  aliveIncarnation: number;
  address: string;
  flaps: number;
}

export interface DampingState {
  readonly score: number;
  readonly suppressed: boolean;
  /** Flaps counted since the member last joined. */
  readonly flaps: number;
}

export function validateFlapDamping(o: FlapDampingOptions): void {
  if (!(o.penalty >= 0) || !Number.isFinite(o.penalty)) throw new FlapDampingConfigError(`flapPenalty must be ≥ 0, got ${o.penalty}`);
  if (o.penalty === 0) return;
  if (!(o.suppressAbove > 0)) throw new FlapDampingConfigError(`flapSuppressAbove must be > 0, got ${o.suppressAbove}`);
  if (!(o.reuseBelow > 0 && o.reuseBelow < o.suppressAbove)) throw new FlapDampingConfigError(`flapReuseBelow must be above 0 and below flapSuppressAbove (${o.suppressAbove}), got ${o.reuseBelow}`);
  if (!(o.halfLifeMs >= TICKS_PER_HALF_LIFE)) throw new FlapDampingConfigError(`flapHalfLife must be at least ${TICKS_PER_HALF_LIFE}ms, got ${o.halfLifeMs}ms`);
  if (!(o.maxMembers >= 1)) throw new FlapDampingConfigError(`maxMembers must be ≥ 1, got ${o.maxMembers}`);
}

export class FlapDamping {
  readonly tickMs: number;
  private readonly records = new Map<string, DampingRecord>();
  private suppressedCount = 0;
  /** Flaps counted in all (a monotonic counter for metrics). */
  flapsCounted = 0;

  constructor(readonly opts: FlapDampingOptions) {
    validateFlapDamping(opts);
    this.tickMs = opts.halfLifeMs / TICKS_PER_HALF_LIFE;
  }

  get enabled(): boolean {
    return this.opts.penalty > 0;
  }

  /** The decision now in force (set when a flap is counted, released in evaluate()). */
  isSuppressed(name: string): boolean {
    return this.records.get(name)?.suppressed ?? false;
  }

  suppressedMembers(): number {
    return this.suppressedCount;
  }

  /** Score at the current tick and the decision. */
  stateOf(name: string, nowMs: number): DampingState {
    const r = this.records.get(name);
    if (r === undefined) return { score: 0, suppressed: false, flaps: 0 };
    return { score: this.scoreAt(r, Math.floor(nowMs / this.tickMs)), suppressed: r.suppressed, flaps: r.flaps };
  }

  /**
   * An accusation (suspect, or dead that is not a leave) of `name` at
   * `incarnation` was heard; `current` is what this node held of the member
   * before applying it. True when this suppressed the member (an accusation
   * heard after its refutation).
   */
  accused(name: string, incarnation: number, current: { state: string; incarnation: number; address: string } | undefined, nowMs: number): boolean {
    if (!this.enabled) return false;
    let r = this.records.get(name);
    if (r === undefined) {
      r = this.recordOf(name);
      if (current !== undefined && current.state === 'alive') {
        r.aliveIncarnation = current.incarnation;
        r.address = current.address;
      }
    }
    if (incarnation <= r.countedUpTo || r.pending.includes(incarnation)) return false;
    // Already refuted here (the accusation arrived after the alive that answers it).
    if (r.aliveIncarnation > incarnation) return this.count(r, incarnation, nowMs);
    r.pending.push(incarnation);
    if (r.pending.length > PENDING_MAX) {
      r.pending.sort((a, b) => a - b);
      r.pending.shift();
    }
    return false;
  }

  /**
   * What this node holds about a member now (each member event, before the
   * engine reads it). A join starts over; an alive above accused incarnations
   * counts them. True when the decision changed (suppressed, or released by a
   * reset), so the event must be read with the new decision.
   */
  observed(name: string, state: 'alive' | 'suspect' | 'dead' | 'left', incarnation: number, address: string, joined: boolean, nowMs: number): boolean {
    if (!this.enabled) return false;
    const r = this.records.get(name);
    // Nothing to count for a member never accused here.
    if (r === undefined) return false;
    if (joined || state === 'left' || (state === 'alive' && r.address !== '' && r.address !== address)) {
      const was = r.suppressed;
      this.reset(r, state === 'alive' ? incarnation : 0, state === 'alive' ? address : '');
      return was;
    }
    if (state !== 'alive') return false;
    r.address = address;
    if (incarnation <= r.aliveIncarnation) return false;
    r.aliveIncarnation = incarnation;
    const settled = r.pending.filter((i) => i < incarnation).sort((a, b) => a - b);
    if (settled.length === 0) return false;
    r.pending = r.pending.filter((i) => i >= incarnation);
    let flipped = false;
    for (const i of settled) flipped = this.count(r, i, nowMs) || flipped;
    return flipped;
  }

  /** The next tick boundary, while a suppressed member waits for its release there; else null. */
  nextEvaluationMs(nowMs: number): number | null {
    if (!this.enabled || this.suppressedCount === 0) return null;
    return (Math.floor(nowMs / this.tickMs) + 1) * this.tickMs;
  }

  /** Releases, at the current tick, the suppressed members whose score fell below the reuse threshold; returns them. */
  evaluate(nowMs: number): string[] {
    if (!this.enabled) return [];
    const tick = Math.floor(nowMs / this.tickMs);
    const flipped: string[] = [];
    for (const [name, r] of this.records) {
      const score = this.scoreAt(r, tick);
      if (r.suppressed && score < this.opts.reuseBelow) {
        r.suppressed = false;
        this.suppressedCount--;
        flipped.push(name);
      }
      // Nothing left to remember: the record goes (a member that flaps again starts from zero, as it would anyway).
      if (!r.suppressed && score < this.opts.penalty / 1000 && r.pending.length === 0) this.records.delete(name);
    }
    return flipped;
  }

  private scoreAt(r: DampingRecord, tick: number): number {
    if (tick === r.atTick) return r.value;
    if (tick < r.atTick) return (r.value - r.addedAtTick) * 2 ** ((r.atTick - tick) / TICKS_PER_HALF_LIFE);
    return r.value * 2 ** (-(tick - r.atTick) / TICKS_PER_HALF_LIFE);
  }

  /** Counts one flap in the current tick; true when it suppressed the member. */
  private count(r: DampingRecord, incarnation: number, nowMs: number): boolean {
    if (incarnation > r.countedUpTo) r.countedUpTo = incarnation;
    const stamp = Math.max(r.atTick, Math.floor(nowMs / this.tickMs));
    const ceiling = this.opts.suppressAbove * CEILING_FACTOR;
    const before = this.scoreAt(r, stamp);
    const after = Math.min(ceiling, before + this.opts.penalty);
    r.addedAtTick = (stamp === r.atTick ? r.addedAtTick : 0) + (after - before);
    r.value = after;
    r.atTick = stamp;
    r.flaps++;
    this.flapsCounted++;
    if (r.suppressed || after <= this.opts.suppressAbove) return false;
    r.suppressed = true;
    this.suppressedCount++;
    return true;
  }

  private reset(r: DampingRecord, aliveIncarnation: number, address: string): void {
    if (r.suppressed) this.suppressedCount--;
    r.value = 0;
    r.addedAtTick = 0;
    r.suppressed = false;
    r.pending = [];
    r.countedUpTo = -1;
    r.aliveIncarnation = aliveIncarnation;
    r.address = address;
    r.flaps = 0;
  }

  private recordOf(name: string): DampingRecord {
    if (this.records.size >= this.opts.maxMembers) this.forgetLowest();
    const r: DampingRecord = { value: 0, atTick: -Infinity, addedAtTick: 0, suppressed: false, countedUpTo: -1, pending: [], aliveIncarnation: -1, address: '', flaps: 0 };
    this.records.set(name, r);
    return r;
  }

  private forgetLowest(): void {
    let lowest: string | null = null;
    let lowestScore = Infinity;
    for (const [name, r] of this.records) {
      const s = (r.suppressed ? this.opts.suppressAbove : 0) + (Number.isFinite(r.atTick) ? r.value : 0);
      if (s < lowestScore) {
        lowestScore = s;
        lowest = name;
      }
    }
    if (lowest === null) return;
    if (this.records.get(lowest)!.suppressed) this.suppressedCount--;
    this.records.delete(lowest);
  }
}
