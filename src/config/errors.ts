export interface ConfigFieldError {
  /** Dotted path of the field, e.g. "swim.probeInterval". */
  field: string;
  /** What the field must be. */
  rule: string;
  /** What was found, as written. */
  got: unknown;
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly source: string,
    readonly errors: ConfigFieldError[],
  ) {
    super(`invalid configuration in ${source}:\n` + errors.map((e) => `  ${e.field}: ${e.rule}, got ${JSON.stringify(e.got)}`).join('\n'));
    this.name = 'ConfigError';
  }
}
