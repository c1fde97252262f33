// Flap damping, as BGP route-flap damping: a member that keeps being accused
// (suspect or dead) and refuting it drags its partitions back and forth, so each
// refutation adds a penalty to the member's score, the score halves every
// half-life, and above a suppress threshold the member may not be primary (it
// stays in the cluster and stays a replica, as a drained member does) until the
// score falls below a lower reuse threshold.
//
// Every member decides about every other member for itself, so the rule is
// built for agreement between members that heard the same gossip:
// - What counts is the member's own incarnation sequence after an accusation.
//   A member issues a new incarnation only to refute something said about it
//   or to change its metadata, one number at a time. So when a member held
//   suspect or dead comes back, the incarnations it moved up since the last
//   alive, less one if its metadata changed, are its refutations. Every member
//   that saw one accusation and the final alive counts them all, even
//   refutations of suspicions that never reached it (broadcast queues drop an
//   accusation once its refutation is queued, so counting the accusations one
//   heard would differ from member to member). An alive above an alive with no
//   accusation between (a forged or bit-flipped one) counts nothing. A node
//   counts its own flaps from the accusations of itself it refutes.
// - A flap counts at once, and the member is suppressed as soon as its score
//   passes the suppress threshold: the alive that carries the refutation is the
//   same message that brings the member back, so its return and its suppression
//   are one change, made when the news arrives (the disagreement window is the
//   one the alive message has anyway, and no partition moves back only to move
//   away again a moment later).
// - Decay and reuse follow a shared coarse clock (wall-clock ticks of
//   halfLife / 16; virtual time in the simulator): a flap is stamped with the
//   tick it arrived in, the score is a function of those stamps alone, and a
//   suppressed member is released only at tick boundaries. Members that heard
//   a flap within the same tick (gossip spreads a refutation in well under a
//   second) hold the same score and release the member at the same boundary;
//   otherwise they differ by as many ticks as the news took to reach them.
// - A graceful leave and rejoin, or a process at another address under the same
//   name, starts over: it is a new process. A restart at the same address
//   counts once if the cluster had noticed the crash (held it suspect or dead)
//   and nothing otherwise, so a crash loop is damped like a stall loop; one
//   restart alone does not suppress while the penalty is below the threshold.
// No I/O and no clock of its own: the caller passes the time.

import { SwimdError } from '../base/errors.js';

export interface FlapDampingOptions {
  /** Score added per flap; 0 disables damping. */
  penalty: number;
  /** Above this score a member is not eligible for primary. */
  suppressAbove: number;
  /** A suppressed member becomes eligible again once its score falls below this. */
  reuseBelow: number;
  halfLifeMs: number;
  /** Bound on the members tracked; the lowest score is forgotten first. */
  maxMembers: number;
}

export class FlapDampingConfigError extends SwimdError {
  declare readonly code: 'FLAP_DAMPING_CONFIG_INVALID';
  constructor(message: string) {
    super('FLAP_DAMPING_CONFIG_INVALID', message);
  }
}

/** Ticks per half-life: the decay clock's resolution. */
export const TICKS_PER_HALF_LIFE = 16;
/** The score never exceeds this multiple of suppressAbove, which bounds how long a member stays suppressed after its last flap. */
export const CEILING_FACTOR = 2;

/** What damping reads of a member at each event. */
export interface ObservedMember {
  readonly name: string;
  readonly state: 'alive' | 'suspect' | 'dead' | 'left';
  readonly incarnation: number;
  readonly meta: Uint8Array;
  /** host:port: another address is another process. */
  readonly address: string;
}

interface DampingRecord {
  /** Score as of tick `atTick` (the latest counted flap's stamp). */
  value: number;
  atTick: number;
  suppressed: boolean;
  /** The last alive seen: its incarnation, metadata and address. */
  incarnation: number;
  meta: Uint8Array;
  address: string;
  flaps: number;
  /** Held suspect or dead here (or, for this node itself, accused) since the last alive: the next alive above it is a refutation. */
  accused: boolean;
  /** Held dead since the last alive: its return counts as one flap. */
  wasDead: boolean;
  /** This node itself, refuting an accusation: its next incarnation is one flap. */
  selfRefuting: boolean;
}

export interface DampingState {
  readonly score: number;
  readonly suppressed: boolean;
  /** Flaps counted since the member (this process of it) was first seen. */
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

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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
   * What this node holds about a member now (each member event, before the
   * engine reads it). `joined`: a join event (first seen, or back after a
   * leave), which starts over. Returns true when the decision changed
   * (suppressed, or released by a new process), so the event must be read
   * with the new decision.
   */
  observed(m: ObservedMember, joined: boolean, nowMs: number): boolean {
    if (!this.enabled) return false;
    const r = this.records.get(m.name);
    if (r === undefined) {
      if (m.state === 'alive') this.add(m);
      return false;
    }
    if (joined || m.state === 'left' || (m.state === 'alive' && r.address !== m.address)) {
      const was = r.suppressed;
      this.reset(r, m);
      return was;
    }
    if (m.state === 'suspect' || m.state === 'dead') {
      r.accused = true;
      if (m.state === 'dead') r.wasDead = true;
      return false;
    }
    if (m.state !== 'alive' || m.incarnation <= r.incarnation) return false;
    // Back from an accusation: the incarnations it moved up, less the one a metadata change took,
    // are its refutations. An alive above an alive (a forged or bit-flipped one among them) is none.
    const metaChanged = !sameBytes(r.meta, m.meta);
    // A return from death is one flap, however many incarnations it took: a restarted process
    // refutes its death and then sets its tags, each a new incarnation, and that is one crash.
    const refutations = !r.accused ? 0 : r.wasDead || r.selfRefuting ? 1 : m.incarnation - r.incarnation - (metaChanged ? 1 : 0);
    r.incarnation = m.incarnation;
    r.accused = false;
    r.wasDead = false;
    r.selfRefuting = false;
    if (metaChanged) r.meta = Uint8Array.from(m.meta);
    return refutations > 0 && this.count(r, refutations, nowMs);
  }

  /** This node is about to refute an accusation of itself: its next incarnation is a refutation. */
  selfAccused(name: string): void {
    const r = this.records.get(name);
    if (r === undefined) return;
    r.accused = true;
    // This node knows each of its refutations as it makes it: one flap each, however far it had to
    // jump (a restarted process starts low and refutes its predecessor's death far above).
    r.selfRefuting = true;
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
      if (r.suppressed && this.scoreAt(r, tick) < this.opts.reuseBelow) {
        r.suppressed = false;
        this.suppressedCount--;
        flipped.push(name);
      }
    }
    return flipped;
  }

  private scoreAt(r: DampingRecord, tick: number): number {
    if (r.value === 0 || tick <= r.atTick) return r.value;
    return r.value * 2 ** (-(tick - r.atTick) / TICKS_PER_HALF_LIFE);
  }

  /** Counts `n` flaps in the current tick; true when they suppressed the member. */
  private count(r: DampingRecord, n: number, nowMs: number): boolean {
    const stamp = Math.max(r.atTick, Math.floor(nowMs / this.tickMs));
    r.value = Math.min(this.opts.suppressAbove * CEILING_FACTOR, this.scoreAt(r, stamp) + n * this.opts.penalty);
    r.atTick = stamp;
    r.flaps += n;
    this.flapsCounted += n;
    if (r.suppressed || r.value <= this.opts.suppressAbove) return false;
    r.suppressed = true;
    this.suppressedCount++;
    return true;
  }

  private reset(r: DampingRecord, m: ObservedMember): void {
    if (r.suppressed) this.suppressedCount--;
    r.value = 0;
    r.atTick = -Infinity;
    r.suppressed = false;
    r.incarnation = m.state === 'alive' ? m.incarnation : -1;
    r.meta = Uint8Array.from(m.meta);
    r.address = m.address;
    r.flaps = 0;
    r.accused = false;
    r.wasDead = false;
    r.selfRefuting = false;
  }

  private add(m: ObservedMember): void {
    if (this.records.size >= this.opts.maxMembers) this.forgetLowest();
    this.records.set(m.name, { value: 0, atTick: -Infinity, suppressed: false, incarnation: m.incarnation, meta: Uint8Array.from(m.meta), address: m.address, flaps: 0, accused: false, wasDead: false, selfRefuting: false });
  }

  /** Makes room: the member with the lowest score goes (it is tracked again from its next alive). */
  private forgetLowest(): void {
    let lowest: string | null = null;
    let lowestScore = Infinity;
    for (const [name, r] of this.records) {
      const s = (r.suppressed ? this.opts.suppressAbove * CEILING_FACTOR : 0) + r.value;
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
