/** A plain text table with padded columns. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
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
