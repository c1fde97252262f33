// The root of every error swimd raises on purpose. Each subclass carries a
// stable `code` (upper snake case) that callers, logs and the API's error
// bodies use; messages may change between versions, codes do not.
export class SwimdError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
