// Errors the core hands to callers (join, push/pull, setMeta).
export class SwimError extends Error {
  readonly code: 'META_TOO_LARGE' | 'NOT_RUNNING' | 'JOIN_FAILED' | 'PUSH_PULL_FAILED' | 'INCOMPATIBLE_PROTOCOL';
  constructor(code: SwimError['code'], message: string) {
    super(message);
    this.name = 'SwimError';
    this.code = code;
  }
}
