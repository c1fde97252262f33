// Pure timing maths of the protocol, kept apart so it can be checked against
// case tables. Formulas are memberlist's (util.go, suspicion.go).

/** How many times a broadcast is sent before it retires: retransmitMult × ⌈log10(n + 1)⌉. */
export function retransmitLimit(retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(n + 1));
}

/**
 * Suspicion timeout bounds for a cluster of n members:
 * min = suspicionMult × max(1, log10 n) × probeInterval, max = suspicionMaxTimeoutMult × min.
 * Large clusters wait longer because news of a refutation takes more rounds to spread.
 */
export function suspicionTimeoutsMs(n: number, suspicionMult: number, suspicionMaxTimeoutMult: number, probeIntervalMs: number): { minMs: number; maxMs: number } {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  // memberlist computes in whole milliseconds of the node scale.
  const minMs = (suspicionMult * Math.floor(nodeScale * 1000) * probeIntervalMs) / 1000;
  return { minMs, maxMs: suspicionMaxTimeoutMult * minMs };
}

/**
 * Confirmations a suspicion waits for before it reaches its minimum timeout:
 * suspicionMult − 2, or 0 when there are too few other members to confirm.
 */
export function expectedConfirmations(suspicionMult: number, n: number): number {
  const k = suspicionMult - 2;
  return n - 2 < k ? 0 : Math.max(0, k);
}

/**
 * Lifeguard's dynamic suspicion: after c independent confirmations of k wanted,
 * the total timeout falls from max towards min as max − (ln(c+1)/ln(k+1))·(max − min),
 * never below min; returns what is left after `elapsedMs` (may be ≤ 0).
 */
export function remainingSuspicionTimeMs(confirmations: number, k: number, elapsedMs: number, minMs: number, maxMs: number): number {
  const frac = k < 1 ? 1 : Math.log(confirmations + 1) / Math.log(k + 1);
  const raw = maxMs - frac * (maxMs - minMs);
  const timeout = Math.max(minMs, Math.floor(raw));
  return timeout - elapsedMs;
}

/** Push/pull interval grows with the cluster beyond 32 members: × (⌈log2 n − 5⌉ + 1). */
export function pushPullScaledIntervalMs(intervalMs: number, n: number): number {
  const threshold = 32;
  if (n <= threshold) return intervalMs;
  const multiplier = Math.ceil(Math.log2(n) - Math.log2(threshold)) + 1;
  return multiplier * intervalMs;
}

/** Lifeguard scales probe interval and timeout by (health score + 1). */
export function scaleByAwareness(timeoutMs: number, score: number): number {
  return timeoutMs * (score + 1);
}
