// Joining by host name, with retries. Seeds (and bind/advertise) may be DNS
// names: they are resolved to every A and AAAA record (a headless Kubernetes
// service returns one per pod), and every returned address is joined. A join
// that reaches nobody is retried with a bounded, doubling delay, resolving the
// names again each time (pods come and go); after the last attempt the member
// keeps running alone and reports `degraded` with the reason. When the seeds
// fail (or there are none) the members remembered in the data directory's
// snapshot are tried instead.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Address } from '../base/env.js';
import { SwimdError } from '../base/errors.js';

/** A resolver: every address of a name (node:dns lookup with all: true, or a fake in tests). */
export type Lookup = (name: string) => Promise<readonly { address: string; family: number }[]>;

export const systemLookup: Lookup = (name) => dnsLookup(name, { all: true, verbatim: true });

/** A name answering with more addresses than this is cut to the first ones (a join contacts each). */
export const MAX_ADDRESSES_PER_NAME = 64;

export class ResolveError extends SwimdError {
  constructor(message: string) {
    super('ADDRESS_UNRESOLVED', message);
  }
}

/**
 * Which addresses the bound UDP socket can send to: a udp4 socket only IPv4, a
 * udp6 one (also on `::`) only IPv6 (Node refuses an IPv4 destination with
 * EINVAL). Addresses of the other family are skipped and logged, never tried.
 */
export type Family = 4 | 6 | 'any';

export function familyOfBind(host: string): Family {
  return isIP(host) === 6 ? 6 : 4;
}

function fits(family: Family, address: string): boolean {
  return family === 'any' || isIP(address) === family;
}

const show = (a: Address): string => (isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);

export interface ResolvedSeeds {
  addresses: Address[];
  /** Names that did not resolve, with why. */
  failures: { name: string; error: string }[];
  /** Addresses of a family the socket cannot reach, or past MAX_ADDRESSES_PER_NAME. */
  skipped: string[];
}

/** Resolves every seed (names in parallel), keeping the configured order; IP literals pass through. Never throws. */
export async function resolveSeeds(seeds: readonly Address[], lookup: Lookup, family: Family, maxPerName = MAX_ADDRESSES_PER_NAME): Promise<ResolvedSeeds> {
  const out: ResolvedSeeds = { addresses: [], failures: [], skipped: [] };
  const perSeed = await Promise.all(
    seeds.map(async (seed): Promise<Address[]> => {
      if (isIP(seed.host) !== 0) {
        if (fits(family, seed.host)) return [seed];
        out.skipped.push(show(seed));
        return [];
      }
      try {
        const found = await lookup(seed.host);
        if (found.length === 0) out.failures.push({ name: show(seed), error: 'no addresses' });
        const usable: Address[] = [];
        for (const f of found) {
          const a = { host: f.address, port: seed.port };
          if (!fits(family, f.address) || usable.length >= maxPerName) out.skipped.push(show(a));
          else usable.push(a);
        }
        return usable;
      } catch (err) {
        out.failures.push({ name: show(seed), error: (err as { code?: string }).code ?? (err as Error).message });
        return [];
      }
    }),
  );
  const seen = new Set<string>();
  for (const a of perSeed.flat()) {
    if (seen.has(show(a))) continue;
    seen.add(show(a));
    out.addresses.push(a);
  }
  return out;
}

/**
 * bind and advertise: a name is resolved once at start; an IPv4 answer is
 * preferred (the default sockets are udp4). Throws ResolveError naming the field.
 */
export async function resolveAddressOnce(a: Address, field: string, lookup: Lookup): Promise<Address> {
  if (isIP(a.host) !== 0) return a;
  let found: readonly { address: string; family: number }[];
  try {
    found = await lookup(a.host);
  } catch (err) {
    throw new ResolveError(`${field}: "${a.host}:${a.port}" does not resolve (${(err as { code?: string }).code ?? (err as Error).message})`);
  }
  const pick = found.find((f) => f.family === 4) ?? found[0];
  if (!pick) throw new ResolveError(`${field}: "${a.host}:${a.port}" resolves to no address`);
  return { host: pick.address, port: a.port };
}

export type JoinState = 'alone' | 'joining' | 'retrying' | 'joined' | 'failed';

export interface JoinStatus {
  state: JoinState;
  attempts: number;
  /** Why the last attempt reached nobody (null once joined or with nothing to join). */
  reason: string | null;
  /** Where the members came from on the successful attempt. */
  via: 'seeds' | 'snapshot' | null;
}

export interface JoinRetryDeps {
  seeds: readonly Address[];
  lookup: Lookup;
  family: Family;
  retryIntervalMs: number;
  retryMax: number;
  /** Pushes/pulls with every address; resolves how many answered (0 and null when all were this member). */
  join(addresses: Address[]): Promise<{ contacted: number; error: string | null }>;
  /** The reconnect loop's seed list, kept to the latest resolution. */
  setSeeds(addresses: Address[]): void;
  /** Addresses to try when the seeds fail or are none (the snapshot's members; empty after a leave). */
  fallback(): Address[];
  /** Other members this one sees alive (the reconnect loop may join after the retries stopped). */
  aliveOthers(): number;
  setTimer(delayMs: number, fn: () => void): () => void;
  log(level: 'info' | 'warn', msg: string, fields: Record<string, unknown>): void;
}

/** The delay after attempt n (1-based): doubling from retryInterval, capped at 8 × retryInterval. */
export function retryDelayMs(intervalMs: number, attempt: number): number {
  return Math.min(intervalMs * 2 ** Math.min(attempt - 1, 30), intervalMs * 8);
}

export class JoinRetry {
  private st: JoinStatus = { state: 'joining', attempts: 0, reason: null, via: null };
  private cancelTimer: (() => void) | null = null;
  private stopped = false;
  /** Resolves when an attempt has decided (joined, alone, failed) or the retry was stopped. */
  readonly settled: Promise<JoinStatus>;
  private settle!: (s: JoinStatus) => void;

  constructor(private readonly d: JoinRetryDeps) {
    this.settled = new Promise((r) => (this.settle = r));
  }

  start(): void {
    void this.attempt();
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.settle(this.status());
  }

  status(): JoinStatus {
    // The reconnect loop keeps trying the seeds; once it brought someone in, the join is done.
    if ((this.st.state === 'retrying' || this.st.state === 'failed') && this.d.aliveOthers() > 0) {
      this.cancelTimer?.();
      this.cancelTimer = null;
      this.st = { ...this.st, state: 'joined', reason: null, via: 'seeds' };
    }
    return { ...this.st };
  }

  private finish(next: JoinStatus): void {
    this.st = next;
    this.settle(this.status());
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    const { d } = this;
    const n = this.st.attempts + 1;
    this.st = { ...this.st, attempts: n };
    const names = d.seeds.map(show);
    const problems: string[] = [];
    let onlySelf = false;
    if (d.seeds.length > 0) {
      const r = await resolveSeeds(d.seeds, d.lookup, d.family);
      if (this.stopped) return;
      for (const f of r.failures) problems.push(`${f.name}: ${f.error}`);
      d.setSeeds(r.addresses);
      d.log('info', 'joining seeds', { attempt: n, of: d.retryMax, seeds: names, addresses: r.addresses.map(show), ...(r.skipped.length ? { skipped: r.skipped } : {}), ...(r.failures.length ? { unresolved: problems } : {}) });
      if (r.addresses.length > 0) {
        const j = await d.join(r.addresses);
        if (this.stopped) return;
        if (j.contacted > 0) {
          d.log('info', 'joined', { attempt: n, via: 'seeds', contacted: j.contacted, of: r.addresses.length });
          return this.finish({ state: 'joined', attempts: n, reason: null, via: 'seeds' });
        }
        if (j.error === null) onlySelf = true;
        else problems.push(`no seed answered (${j.error})`);
      }
    }
    const fb = d.fallback();
    if (fb.length > 0) {
      d.log('info', 'joining the members remembered in the snapshot', { attempt: n, addresses: fb.map(show) });
      const j = await d.join(fb);
      if (this.stopped) return;
      if (j.contacted > 0) {
        d.log('info', 'joined', { attempt: n, via: 'snapshot', contacted: j.contacted, of: fb.length });
        return this.finish({ state: 'joined', attempts: n, reason: null, via: 'snapshot' });
      }
      if (j.error !== null) problems.push(`no snapshot member answered (${j.error})`);
    }
    if (problems.length === 0) {
      // Nothing to join, or the seeds name only this member (the first pod of a service).
      if (d.seeds.length > 0 || fb.length > 0) d.log('info', onlySelf ? 'the seeds name only this member; running alone until others join' : 'nothing to join', { seeds: names });
      return this.finish({ state: 'alone', attempts: n, reason: null, via: null });
    }
    const reason = problems.join('; ');
    if (n >= d.retryMax) {
      d.log('warn', 'join failed on the last attempt (join.retryMax); running alone and reporting degraded', { attempt: n, seeds: names, reason });
      return this.finish({ state: 'failed', attempts: n, reason, via: null });
    }
    const delayMs = retryDelayMs(d.retryIntervalMs, n);
    this.st = { state: 'retrying', attempts: n, reason, via: null };
    d.log('warn', 'join failed; retrying', { attempt: n, of: d.retryMax, seeds: names, reason, retryInMs: delayMs });
    this.cancelTimer = d.setTimer(delayMs, () => {
      this.cancelTimer = null;
      void this.attempt();
    });
  }
}
