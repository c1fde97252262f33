// Which path last reached each member (a direct UDP ack, an ack relayed after an
// indirect ping, or only the TCP fallback ping) and when, on the scheduler's
// clock. A member that answers only over TCP for udpBlockedAfterProbes
// consecutive probe rounds of its own is a UDP filter between us, not a failure:
// that episode is logged once at warn (rate-limited over all members) and once
// at info when a UDP ack arrives again. One entry per member name, removed when
// the member table reaps the member, so bounded by the member table.
import { UDP_BLOCKED_WARNINGS_PER_MINUTE } from '../base/swim-config.js';
import type { CoreContext } from './context.js';
import { isDeadOrLeft, type MemberRecord } from './member.js';
import type { MemberTable } from './member-table.js';
import type { ReachPath, ReachSnapshot } from './member-types.js';

const MINUTE_MS = 60_000;

interface ReachEntry {
  /** Consecutive probe rounds of this member answered over TCP only. */
  tcpOnlyRounds: number;
  /** In a TCP-only episode: reached only over TCP for the knob's count of rounds, no UDP ack since. */
  episode: boolean;
}

export class Reachability {
  private readonly entries = new Map<string, ReachEntry>();
  private windowStartMs = Number.NEGATIVE_INFINITY;
  private warningsInWindow = 0;

  constructor(
    private readonly ctx: CoreContext,
    private readonly table: MemberTable,
  ) {}

  /** A probe round of `m` got an ack over UDP, directly or relayed. */
  reachedOverUdp(m: MemberRecord, path: Exclude<ReachPath, 'tcp'>): void {
    if (!this.current(m)) return;
    this.record(m, path);
    const e = this.entries.get(m.name);
    if (!e) return;
    e.tcpOnlyRounds = 0;
    if (e.episode) {
      e.episode = false;
      this.ctx.log.log('info', `UDP to ${m.name} ${hostPort(m)} answers again (${path})`, { member: m.name, address: hostPort(m), path });
    }
  }

  /** A probe round of `m` ended with no UDP ack but an answer to the TCP fallback ping. */
  reachedOverTcpOnly(m: MemberRecord): void {
    const { ctx } = this;
    if (!this.current(m)) return;
    this.record(m, 'tcp');
    ctx.stats.tcpOnlyProbes++;
    let e = this.entries.get(m.name);
    if (!e) {
      e = { tcpOnlyRounds: 0, episode: false };
      this.entries.set(m.name, e);
    }
    e.tcpOnlyRounds++;
    if (e.episode || e.tcpOnlyRounds < ctx.cfg.udpBlockedAfterProbes) return;
    e.episode = true;
    const now = ctx.env.scheduler.nowMs();
    if (now - this.windowStartMs >= MINUTE_MS) {
      this.windowStartMs = now;
      this.warningsInWindow = 0;
    }
    if (this.warningsInWindow >= UDP_BLOCKED_WARNINGS_PER_MINUTE) {
      ctx.stats.udpBlockedWarningsSuppressed++;
      return;
    }
    this.warningsInWindow++;
    ctx.stats.udpBlockedWarnings++;
    ctx.log.log('warn', `UDP to ${m.name} ${hostPort(m)} appears blocked; it answers over TCP only`, { member: m.name, address: hostPort(m), probes: e.tcpOnlyRounds });
  }

  /** A probe round of `m` got no answer on any path: the TCP-only streak is broken (an episode stays until UDP answers). */
  unreached(m: MemberRecord): void {
    const e = this.entries.get(m.name);
    if (e) e.tcpOnlyRounds = 0;
  }

  /** The member table reaped `name`. */
  forget(name: string): void {
    this.entries.delete(name);
  }

  /** Members alive or suspect that are now in a TCP-only episode. */
  tcpOnlyCount(): number {
    let n = 0;
    for (const [name, e] of this.entries) {
      const m = this.table.get(name);
      if (e.episode && m && !isDeadOrLeft(m)) n++;
    }
    return n;
  }

  size(): number {
    return this.entries.size;
  }

  /** A round that outlived its member's record (reaped, or reaped and back) says nothing about the one now in the table. */
  private current(m: MemberRecord): boolean {
    return this.table.get(m.name) === m;
  }

  private record(m: MemberRecord, path: ReachPath): void {
    const reach: ReachSnapshot = Object.freeze({ path, atMs: this.ctx.env.scheduler.nowMs() });
    m.reach = reach;
    // The snapshot carries the path: rebuild it, without counting a view change.
    m.snapshot = null;
  }
}

function hostPort(m: MemberRecord): string {
  return m.host.includes(':') ? `[${m.host}]:${m.port}` : `${m.host}:${m.port}`;
}
