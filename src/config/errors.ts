import { SwimdError } from '../base/errors.js';
export interface ConfigFieldError {
  /** Dotted path of the field, e.g. "swim.probeInterval". */
  field: string;
  /** What the field must be. */
  rule: string;
  /** What was found, as written; absent when the rule already says it (a value from the profile, an unknown key). */
  got?: unknown;
}

export class ConfigError extends SwimdError {
  declare readonly code: 'CONFIG_INVALID';
  constructor(
    readonly source: string,
    readonly errors: ConfigFieldError[],
  ) {
    super('CONFIG_INVALID', `invalid configuration in ${source}:\n` + errors.map((e) => `  ${e.field}: ${e.rule}${'got' in e ? `, got ${JSON.stringify(e.got)}` : ''}`).join('\n'));
  }
}
