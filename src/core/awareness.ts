// Lifeguard's local health score. A node that misses nacks or has to refute
// suspicions about itself is probably the slow one (CPU starved, overloaded
// network), so it slows its own probing instead of accusing healthy peers.
import { scaleByAwareness } from './timing.js';

export class Awareness {
  private score = 0;
  constructor(private max: number) {}

  /** Adds delta and clamps to [0, max − 1]. */
  applyDelta(delta: number): void {
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta));
  }

  healthScore(): number {
    return this.score;
  }

  scaleTimeoutMs(timeoutMs: number): number {
    return scaleByAwareness(timeoutMs, this.score);
  }

  setMax(max: number): void {
    this.max = max;
    this.applyDelta(0);
  }
}
