// The real world behind the core's injected interfaces: the monotonic clock,
// Node timers, and crypto-grade randomness (AES-GCM nonces come from here).
import { randomBytes, randomInt } from 'node:crypto';
import type { Random, Scheduler, TimerHandle } from '../base/env.js';

export class RealScheduler implements Scheduler {
  nowMs(): number {
    return performance.now();
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const t = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(t) };
  }
}

export class CryptoRandom implements Random {
  private pool = randomBytes(4096);
  private at = 0;

  next(): number {
    if (this.at + 4 > this.pool.length) {
      this.pool = randomBytes(4096);
      this.at = 0;
    }
    const v = this.pool.readUInt32BE(this.at);
    this.at += 4;
    return v / 4294967296;
  }

  int(n: number): number {
    return n <= 1 ? 0 : randomInt(n);
  }

  fill(out: Uint8Array): void {
    out.set(randomBytes(out.length));
  }
}
