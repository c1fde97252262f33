// Checks of facts that must never break (an observer's view never goes back,
// queues stay within bounds, a timer is never armed twice). Strict mode throws,
// so tests and the simulator stop at the first violation with the state intact;
// otherwise a violation is counted (stats.drops["invariant:<what>"], exported as
// a drop reason) and logged, and the member keeps running.
import type { CoreLogger } from '../base/env.js';
import { SwimdError } from '../base/errors.js';
import { countDrop, type CoreStats, type InvariantName } from './stats.js';

export class InvariantError extends SwimdError {
  constructor(what: string) {
    super('INVARIANT_BROKEN', `invariant broken: ${what}`);
  }
}

/** Read once: set SWIMD_STRICT_ASSERT=1 (the test scripts do) to throw instead of counting. */
const STRICT_FROM_ENVIRONMENT = typeof process !== 'undefined' && process.env['SWIMD_STRICT_ASSERT'] === '1';

export class Invariants {
  constructor(
    private readonly stats: CoreStats,
    private readonly log: CoreLogger,
    readonly strict: boolean = STRICT_FROM_ENVIRONMENT,
  ) {}

  /** Cheap on hot paths: `what` is a constant; details are only built on failure. */
  check(ok: boolean, what: InvariantName, detail?: () => Record<string, unknown>): void {
    if (ok) return;
    if (this.strict) throw new InvariantError(detail ? `${what} ${JSON.stringify(detail())}` : what);
    countDrop(this.stats, `invariant:${what}`);
    this.log.log('error', 'invariant broken', { what, ...(detail ? detail() : {}) });
  }
}
