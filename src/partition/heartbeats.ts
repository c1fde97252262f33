// Heartbeats among the eligible members, so a primary cut off from the rest
// loses its partitions in a fraction of a second rather than after SWIM's
// probe round, indirect probes and suspicion (seconds).
//
// Every eligible member sends every other one a small datagram each interval.
// A member not heard from for `timeoutMs` on the receiver's own clock is
// *silent* here: it may not be primary in this member's view (PrimaryBars),
// and it does not count towards this member's quorum. So:
//  - the majority side of a split sees the cut-off primary silent, its
//    successor claims, and granters grant only if they too find it silent on
//    their own clocks (a granter grants only to the rightful primary of its own
//    view); one member's bad link cannot move a partition;
//  - the cut-off primary finds everyone silent, so it counts no quorum and
//    stops naming itself primary at about the same moment;
//  - a member that finds so many silent that it hears fewer than a quorum says
//    so in its heartbeats, and whoever still hears it bars it as if silent:
//    with everything towards a primary lost (it is heard, but hears nobody and
//    so can hold nothing), the others fail over instead of waiting for SWIM.
//    Only members judged silent count against it, so nobody starts out cut
//    off, and a heartbeat heard clears its sender's silence, so members that
//    all found each other silent (an outage of the whole network) recover as
//    soon as heartbeats flow again.
// Safety never rests on this: the epochs fence every write whatever the clocks
// say. Silence decides only when partitions move, like a lease whose expiry each
// member judges itself.
//
// Guards against false silence:
//  - a member is judged only once it has been heard since it came alive here,
//    so a member that sends no heartbeats (heartbeats off, an older version)
//    is never silent: it falls back to SWIM's detection;
//  - a gap in this member's own timers (a pause, a stall of its event loop) is
//    its own silence, not the others': everyone's clock restarts after it;
//  - a member whose own timers run late (a loaded host: CPU starvation, GC)
//    says by how much in its heartbeats, and its judges wait that much longer
//    for it, plus their own lateness: a busy host is given slack, a quiet one
//    is judged on the timeout alone (capped at LATENESS_SLACK_MAX_MULT × the
//    timeout, so a claim of lateness cannot keep a member unjudged);
//  - above MAX_PEERS eligible members nobody is judged (the cost is n² datagrams
//    per interval), and SWIM decides alone.
//
// No I/O and no clock of its own: time and sending come in through the ports.
import type { Scheduler, TimerHandle } from '../base/env.js';

/** Above this many eligible members heartbeats stop and nobody is judged silent. */
export const HEARTBEAT_MAX_PEERS = 64;

/** Lateness a member is given beyond the timeout, at most this many timeouts (its own report plus the judge's). */
export const LATENESS_SLACK_MAX_MULT = 2;

/** Recent lateness decays by this factor each tick: a 300 ms stall is forgotten (under 30 ms) after about 2 s at 100 ms. */
const LATENESS_DECAY = 0.9;

export interface HeartbeatOptions {
  /** Heartbeats go out this often; 0 turns them off. */
  intervalMs: number;
  /** A member heard from before and not since this long is silent. */
  timeoutMs: number;
  /** Members (this one included) a member must hear to say it hears a quorum. */
  quorum: number;
}

export interface HeartbeatPorts {
  scheduler: Scheduler;
  /** The eligible members to send to and judge (this member excluded). */
  peers(): ReadonlySet<string>;
  /**
   * Sends one heartbeat; `hearsQuorum` false says this member hears fewer than a quorum, `lateMs`
   * how late its own timers have run lately.
   */
  send(to: string, hearsQuorum: boolean, lateMs: number): void;
  /**
   * Members became barred here (silent, or they hear no quorum: their partitions may move), or no
   * longer are. Members found silent together come in one call, so the receiver re-reads its view
   * once for all of them, not once per member with the others still counted.
   */
  onBarred(names: readonly string[], barred: boolean): void;
  /** Whether this member hears a quorum changed (it has just told the others). */
  onHearsQuorum?(hears: boolean): void;
}

export interface HeartbeatStats {
  sent: number;
  received: number;
  silences: number;
  returns: number;
  /** Timer gaps longer than the timeout: this member's own pause, after which nobody was judged. */
  ownGaps: number;
  /** Heartbeats sent saying this member hears fewer than a quorum. */
  sentCutOff: number;
}

export class Heartbeats {
  readonly stats: HeartbeatStats = { sent: 0, received: 0, silences: 0, returns: 0, ownGaps: 0, sentCutOff: 0 };
  /** When each member was last heard, for members heard at least once since they came alive here. */
  private readonly lastHeardMs = new Map<string, number>();
  private readonly silent = new Set<string>();
  /** Members whose last heartbeat said they hear fewer than a quorum. */
  private readonly cutOff = new Set<string>();
  /** The lateness each member's last heartbeat reported (ms). */
  private readonly peerLateMs = new Map<string, number>();
  /** How late this member's own send ticks ran lately (ms, decaying). */
  private ownLateMs = 0;
  /** What this member's last heartbeats said of itself. */
  private saidHearsQuorum = true;
  /** Found over the timeout by a timer, marked after the datagrams already waiting are read. */
  private readonly pending = new Set<string>();
  private sendTimer: TimerHandle | null = null;
  private checkTimer: TimerHandle | null = null;
  private checkAtMs = Infinity;
  private lastTickMs = 0;
  private stopped = true;

  constructor(
    readonly opts: HeartbeatOptions,
    private readonly ports: HeartbeatPorts,
  ) {
    if (opts.intervalMs > 0 && !(opts.timeoutMs > opts.intervalMs)) throw new RangeError(`heartbeat timeout (${opts.timeoutMs} ms) must exceed the interval (${opts.intervalMs} ms)`);
  }

  get enabled(): boolean {
    return this.opts.intervalMs > 0;
  }

  start(): void {
    if (!this.enabled || !this.stopped) return;
    this.stopped = false;
    this.lastTickMs = this.ports.scheduler.nowMs();
    this.sendTimer = this.ports.scheduler.setTimer(this.opts.intervalMs, () => this.tick());
  }

  stop(): void {
    this.stopped = true;
    this.sendTimer?.cancel();
    this.checkTimer?.cancel();
    this.sendTimer = this.checkTimer = null;
  }

  /** Silent here, or its last heartbeat said it hears no quorum: not primary here, not counted for quorum. */
  isBarred(name: string): boolean {
    return this.silent.has(name) || this.cutOff.has(name);
  }

  /** Heard within the timeout and not barred: this member hears it itself, whatever others suspect. */
  isFresh(name: string): boolean {
    const at = this.lastHeardMs.get(name);
    return at !== undefined && this.ports.scheduler.nowMs() - at < this.timeoutFor(name) && !this.isBarred(name);
  }

  isSilent(name: string): boolean {
    return this.silent.has(name);
  }

  /** Members barred here now. */
  barredCount(): number {
    let n = this.silent.size;
    for (const name of this.cutOff) if (!this.silent.has(name)) n++;
    return n;
  }

  /** This member hears fewer than a quorum: only members judged silent count against it. */
  hearsQuorum(): boolean {
    const peers = this.ports.peers();
    if (peers.size > HEARTBEAT_MAX_PEERS) return true;
    let silent = 0;
    for (const name of this.silent) if (peers.has(name)) silent++;
    return 1 + peers.size - silent >= this.opts.quorum;
  }

  /** A heartbeat from `name` (its sender already checked against the member's address). */
  heard(name: string, hearsQuorum = true, lateMs = 0): void {
    if (this.stopped || !this.ports.peers().has(name)) return;
    this.stats.received++;
    this.peerLateMs.set(name, Math.max(0, lateMs));
    const was = this.isBarred(name);
    const first = !this.lastHeardMs.has(name);
    this.lastHeardMs.set(name, this.ports.scheduler.nowMs());
    if (first) this.armCheck();
    if (this.silent.delete(name)) this.stats.returns++;
    if (hearsQuorum) this.cutOff.delete(name);
    else this.cutOff.add(name);
    const now = this.isBarred(name);
    if (now !== was) this.ports.onBarred([name], now);
    this.reportIfChanged();
  }

  /** `name` is no longer a peer (dead, left, not eligible): forgotten, and no longer barred. */
  forget(name: string): void {
    this.lastHeardMs.delete(name);
    this.peerLateMs.delete(name);
    this.silent.delete(name);
    this.cutOff.delete(name);
  }

  /**
   * Judges everyone now, with the timeout shortened by `slackMs`: a granter
   * reading a claim judges on its own clock, but a claimant that found the
   * owner silent a moment earlier heard its last heartbeat at about the same
   * time, so a little slack keeps both sides from deciding a beat apart.
   */
  checkNow(slackMs = 0): void {
    if (this.stopped) return;
    this.check(this.ports.scheduler.nowMs(), slackMs);
  }

  /** How long `name` may go unheard here: the timeout, plus its reported lateness and this member's own, capped. */
  timeoutFor(name: string): number {
    const slack = (this.peerLateMs.get(name) ?? 0) + this.ownLateMs;
    return this.opts.timeoutMs + Math.min(slack, LATENESS_SLACK_MAX_MULT * this.opts.timeoutMs);
  }

  /** This member's own recent lateness (ms), as its heartbeats report it. */
  lateMs(): number {
    return Math.round(this.ownLateMs);
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.ports.scheduler.nowMs();
    const peers = this.ports.peers();
    const late = Math.max(0, now - this.lastTickMs - this.opts.intervalMs);
    if (now - this.lastTickMs > this.stallMs()) {
      // This member's own timers stalled (a pause): what it did not hear meanwhile says nothing of the others.
      this.stats.ownGaps++;
      for (const name of this.lastHeardMs.keys()) this.lastHeardMs.set(name, now);
    }
    this.ownLateMs = Math.max(late, this.ownLateMs * LATENESS_DECAY);
    this.lastTickMs = now;
    this.sendAll(peers);
    this.check(now, 0, false);
    this.sendTimer = this.ports.scheduler.setTimer(this.opts.intervalMs, () => this.tick());
  }

  private sendAll(peers: ReadonlySet<string>): void {
    if (peers.size > HEARTBEAT_MAX_PEERS) return;
    const hears = this.hearsQuorum();
    this.saidHearsQuorum = hears;
    const lateMs = this.lateMs();
    for (const name of peers) {
      this.ports.send(name, hears, lateMs);
      this.stats.sent++;
      if (!hears) this.stats.sentCutOff++;
    }
  }

  /** Whether this member hears a quorum changed: the others learn it now, not at the next tick. */
  private reportIfChanged(): void {
    if (this.stopped || this.hearsQuorum() === this.saidHearsQuorum) return;
    this.sendAll(this.ports.peers());
    this.ports.onHearsQuorum?.(this.saidHearsQuorum);
  }

  /** A send tick this much later than the last one is a stall of this member, not silence of the others. */
  private stallMs(): number {
    return this.opts.intervalMs + (this.opts.timeoutMs - this.opts.intervalMs) / 2;
  }

  /**
   * Marks the members over their timeout less `slackMs`. From a timer (`markNow` false) it only
   * picks them, and marks after the datagrams already waiting are read (a
   * zero-delay timer runs after them): heartbeats queued behind a busy turn
   * are not silence.
   */
  private check(now: number, slackMs: number, markNow = true): void {
    const peers = this.ports.peers();
    const judging = peers.size <= HEARTBEAT_MAX_PEERS;
    const over: string[] = [];
    const back: string[] = [];
    for (const [name, at] of this.lastHeardMs) {
      if (!peers.has(name)) {
        const was = this.isBarred(name);
        this.forget(name);
        if (was) back.push(name);
        continue;
      }
      if (!judging) {
        const was = this.isBarred(name);
        this.silent.delete(name);
        this.cutOff.delete(name);
        if (was) back.push(name);
        continue;
      }
      // The same sum as armCheck's deadline, so a check at its deadline finds the member over it.
      if (now >= at + this.timeoutFor(name) - slackMs && !this.silent.has(name)) over.push(name);
    }
    if (back.length > 0) this.ports.onBarred(back, false);
    if (over.length > 0) {
      if (markNow) this.mark(over, now, slackMs);
      else {
        for (const name of over) this.pending.add(name);
        this.ports.scheduler.setTimer(0, () => {
          for (const name of over) this.pending.delete(name);
          if (!this.stopped) this.mark(over, this.ports.scheduler.nowMs(), slackMs);
        });
      }
    }
    this.armCheck();
  }

  private mark(names: readonly string[], now: number, slackMs: number): void {
    const peers = this.ports.peers();
    if (peers.size > HEARTBEAT_MAX_PEERS) return this.armCheck();
    const barred: string[] = [];
    for (const name of names) {
      const at = this.lastHeardMs.get(name);
      if (at === undefined || now < at + this.timeoutFor(name) - slackMs || this.silent.has(name) || !peers.has(name)) continue;
      const was = this.isBarred(name);
      this.silent.add(name);
      this.stats.silences++;
      if (!was) barred.push(name);
    }
    if (barred.length > 0) this.ports.onBarred(barred, true);
    this.armCheck();
    this.reportIfChanged();
  }

  /** One timer at the next moment a member heard so far would turn silent. */
  private armCheck(): void {
    if (this.stopped) return;
    let next = Infinity;
    // Above the peer bound nobody is judged; the send tick looks again each interval.
    if (this.ports.peers().size <= HEARTBEAT_MAX_PEERS) {
      for (const [name, at] of this.lastHeardMs) if (!this.silent.has(name) && !this.pending.has(name)) next = Math.min(next, at + this.timeoutFor(name));
    }
    if (next === this.checkAtMs && this.checkTimer !== null) return;
    this.checkTimer?.cancel();
    this.checkTimer = null;
    this.checkAtMs = next;
    if (next === Infinity) return;
    this.checkTimer = this.ports.scheduler.setTimer(Math.max(0, next - this.ports.scheduler.nowMs()), () => {
      this.checkTimer = null;
      this.checkAtMs = Infinity;
      if (this.stopped) return;
      const now = this.ports.scheduler.nowMs();
      // After a stall of this member's own timers the next send tick restarts everyone's clock first.
      if (now - this.lastTickMs > this.stallMs()) return;
      this.check(now, 0, false);
    });
  }
}
