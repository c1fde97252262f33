// Errors the core hands to callers (join, push/pull, setMeta).
import { SwimdError } from '../base/errors.js';
export class SwimError extends SwimdError {
  declare readonly code: 'META_TOO_LARGE' | 'NOT_RUNNING' | 'JOIN_FAILED' | 'PUSH_PULL_FAILED' | 'INCOMPATIBLE_PROTOCOL';
  constructor(code: SwimError['code'], message: string) {
    super(code, message);
  }
}
