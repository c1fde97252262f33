import type { WatchLine } from '../api/views.js';
import { SwimdError } from '../base/errors.js';

/** A plain text table with padded columns. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** A bad command-line argument: the CLI prints it and exits with status 2, as for any usage error. */
export class UsageError extends SwimdError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** `--tag k=v` values as a map; `argument` names the flag in the error. */
export function parseTagFilters(items: readonly string[], argument = '--tag'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of items) {
    const eq = t.indexOf('=');
    if (eq <= 0) throw new UsageError(`${argument}: expected k=v, got "${t}"`);
    out[t.slice(0, eq)] = t.slice(eq + 1);
  }
  return out;
}

/** Members in any of `states` (all when empty) that carry every tag in `tags`. */
export function filterMembers<M extends { state: string; meta: Record<string, string> }>(members: readonly M[], states: readonly string[], tags: Record<string, string>): M[] {
  return members.filter((m) => (states.length === 0 || states.includes(m.state)) && Object.entries(tags).every(([k, v]) => m.meta[k] === v));
}

/** `a 3, b 2` for counts by name, largest first; `-` stands for no member. */
function countsText(names: readonly (string | null)[]): string {
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n ?? '-', (counts.get(n ?? '-') ?? 0) + 1);
  return [...counts].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).map(([n, c]) => `${n} ${c}`).join(', ');
}

/** One line per watch event: a partitions line is summarised, never printed per partition. */
export function watchSummary(line: WatchLine): string {
  switch (line.type) {
    case 'snapshot': {
      const held = line.partitions.partitions.filter((p) => p.primary !== null);
      return `snapshot: ${line.members.length} members (${countsText(line.members.map((m) => m.state))}), ${line.partitions.partitions.length} partitions, ${held.length} with a primary, view ${line.partitions.viewVersion}, quorum ${line.partitions.quorum}`;
    }
    case 'member':
      return `member ${line.event}: ${line.member.name} (${line.member.state}, inc ${line.member.incarnation})`;
    case 'partitions': {
      const c = line.changed;
      if (c.length === 0) return `partitions: none changed, view ${line.viewVersion}, quorum ${line.quorum}`;
      let low = Infinity;
      let high = -Infinity;
      for (const x of c) (low = Math.min(low, x.token)), (high = Math.max(high, x.token));
      const moved = c.filter((x) => x.oldPrimary !== x.newPrimary);
      return (
        `partitions: ${c.length} changed, view ${line.viewVersion}, quorum ${line.quorum}; ` +
        `primary now ${countsText(c.map((x) => x.newPrimary))}` +
        (moved.length > 0 ? `; moved from ${countsText(moved.map((x) => x.oldPrimary))}` : '') +
        `; tokens ${low}..${high}`
      );
    }
    case 'resync':
      return `resync: ${line.reason}`;
  }
}

/** A member's reach for the members table: "direct 1.2s ago", "tcp 3s ago", "-" before any probe was answered. */
export function reachText(reach: { path: string; ageMs?: number } | null | undefined): string {
  if (!reach) return '-';
  if (reach.ageMs === undefined) return reach.path;
  const s = reach.ageMs / 1000;
  return `${reach.path} ${s < 10 ? s.toFixed(1) : Math.round(s)}s ago`;
}

/** The start-up seed check and the TCP-only count for `swimd status`: "ok, 0 members TCP-only" or "failed (10.0.0.2:7946 tcp only), …". */
export function pathsText(health: Record<string, unknown>): string {
  const seeds = health.seeds as { state: string; seeds: { address: string; udp: boolean; tcp: boolean }[] } | undefined;
  const only = (s: { udp: boolean; tcp: boolean }): string => (s.udp && s.tcp ? 'both' : s.udp ? 'udp only' : s.tcp ? 'tcp only' : 'no answer');
  const check = !seeds ? 'unknown' : seeds.state === 'failed' ? `failed (${seeds.seeds.map((s) => `${s.address} ${only(s)}`).join(', ')})` : seeds.state;
  return `seed check ${check}, ${Number(health.tcpOnlyMembers ?? 0)} members reached over TCP only`;
}
