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
