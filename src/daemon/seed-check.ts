// The start-up check of both paths to the seeds: a firewall that passes TCP but
// drops UDP (or the reverse) lets a member join by push/pull and then flap, so
// at start the daemon pings every seed over UDP and over TCP, through the core,
// and says which path failed where when no seed answers over both.
import type { Address } from '../base/env.js';
import { formatAddress } from '../base/env.js';
import type { SwimConfig } from '../base/swim-config.js';
import type { PathCheck } from '../core/swim-node.js';

export type SeedCheckState = 'none' | 'checking' | 'ok' | 'failed';

export interface SeedPathView {
  address: string;
  udp: boolean;
  tcp: boolean;
}

export interface SeedCheckView {
  /** none: no seeds but this member; ok: some seed answers over both; failed: none does. */
  state: SeedCheckState;
  seeds: SeedPathView[];
}

export interface PathChecker {
  checkPath(to: Address, timeoutMs: number, done: (r: PathCheck) => void): void;
}

export type SeedCheckLog = (level: 'info' | 'warn', fields: Record<string, unknown>, msg: string) => void;

/** How long the check waits for each seed: a TCP exchange's bound, and no more than five probe periods. */
export function seedCheckTimeoutMs(cfg: Pick<SwimConfig, 'tcpTimeoutMs' | 'probeIntervalMs'>): number {
  return Math.min(cfg.tcpTimeoutMs, 5 * cfg.probeIntervalMs);
}

/** What to say about one seed's failed path(s). */
export function seedPathProblem(address: string, r: PathCheck): string | null {
  if (r.udp && r.tcp) return null;
  if (r.udp) return `seed ${address} answers over UDP but not TCP`;
  if (r.tcp) return `seed ${address} answers over TCP but not UDP`;
  return `seed ${address} answers over neither UDP nor TCP`;
}

export class SeedCheck {
  private state: SeedCheckState = 'none';
  private results: SeedPathView[] = [];
  /** Resolves when every seed has answered or timed out (at once without seeds). */
  readonly done: Promise<SeedCheckView>;

  constructor(node: PathChecker, seeds: readonly Address[], timeoutMs: number, log: SeedCheckLog) {
    if (seeds.length === 0) {
      this.done = Promise.resolve(this.view());
      return;
    }
    this.state = 'checking';
    this.done = Promise.all(
      seeds.map((s) => new Promise<SeedPathView>((resolve) => node.checkPath(s, timeoutMs, (r) => resolve({ address: formatAddress(s), udp: r.udp, tcp: r.tcp })))),
    ).then((results) => {
      this.results = results;
      if (results.some((r) => r.udp && r.tcp)) {
        this.state = 'ok';
        log('info', { seeds: results.length, both: results.filter((r) => r.udp && r.tcp).length }, 'a seed answers over UDP and TCP');
      } else {
        this.state = 'failed';
        for (const r of results) log('warn', { seed: r.address, udp: r.udp, tcp: r.tcp }, seedPathProblem(r.address, r)!);
      }
      return this.view();
    });
  }

  view(): SeedCheckView {
    return { state: this.state, seeds: this.results.map((r) => ({ ...r })) };
  }
}
