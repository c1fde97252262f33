// A member that cannot decrypt what arrives (a peer on another key, or one
// sending plaintext to an encrypted cluster) says so at warn, at most once per
// DECRYPT_WARNING_INTERVAL_MS per reason, with the source of the latest drop
// and how many drops of that reason came since the previous line. Time is the
// injected scheduler's, so the rate limit holds in the simulator too.
import { formatAddress, type Address } from '../base/env.js';
import type { CoreContext } from './context.js';

export const DECRYPT_WARNING_INTERVAL_MS = 10_000;

export type DecryptDropReason = 'decrypt-failed' | 'unencrypted';

interface WarnState {
  lastLoggedMs: number;
  /** Drops of this reason since the last line (logged in the next one). */
  since: number;
}

export function isDecryptDrop(reason: string): reason is DecryptDropReason {
  return reason === 'decrypt-failed' || reason === 'unencrypted';
}

export class DecryptWarning {
  private readonly states = new Map<DecryptDropReason, WarnState>();

  constructor(private readonly ctx: CoreContext) {}

  /** One datagram or stream dropped for `reason`, from `from`. */
  dropped(reason: DecryptDropReason, from: Address, path: 'udp' | 'tcp'): void {
    const { ctx } = this;
    const now = ctx.env.scheduler.nowMs();
    let s = this.states.get(reason);
    if (!s) {
      s = { lastLoggedMs: Number.NEGATIVE_INFINITY, since: 0 };
      this.states.set(reason, s);
    }
    s.since++;
    if (now - s.lastLoggedMs < DECRYPT_WARNING_INTERVAL_MS) return;
    const count = s.since;
    s.since = 0;
    s.lastLoggedMs = now;
    const source = formatAddress(from);
    const what = reason === 'decrypt-failed' ? 'could not be decrypted with any installed key' : 'arrived unencrypted while encryption is required';
    ctx.log.log('warn', `input from ${source} ${what} (${count} dropped since the last warning)`, { reason, source, path, count });
  }
}
