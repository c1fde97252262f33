// Typed, counted drops for everything the wire layer refuses. Decoders return
// a DecodeResult instead of throwing, so nothing escapes the receive path.
import { SwimdError } from '../base/errors.js';

export type DropReason =
  | 'truncated'
  | 'malformed'
  | 'unknown-type'
  | 'oversized'
  | 'bad-crc'
  | 'label-mismatch'
  | 'missing-label'
  | 'decrypt-failed'
  | 'unencrypted'
  | 'unsupported-compression'
  | 'too-many-parts'
  | 'bad-version'
  | 'too-many-nodes';

export class WireError extends SwimdError {
  declare readonly code: DropReason;
  constructor(code: DropReason, message: string) {
    super(code, message);
  }
}

export type DecodeResult<T> = { ok: true; value: T } | { ok: false; reason: DropReason; detail: string };

export function fail<T>(reason: DropReason, detail: string): DecodeResult<T> {
  return { ok: false, reason, detail };
}

/** Runs a decoder that signals problems by throwing WireError, and turns any throw into a typed drop. */
export function capture<T>(fn: () => T): DecodeResult<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof WireError) return { ok: false, reason: err.code, detail: err.message };
    return { ok: false, reason: 'malformed', detail: err instanceof Error ? err.message : String(err) };
  }
}

export const KNOWN_DROP_REASONS: ReadonlySet<DropReason> = new Set<DropReason>([
  'truncated', 'malformed', 'unknown-type', 'oversized', 'bad-crc', 'label-mismatch', 'missing-label',
  'decrypt-failed', 'unencrypted', 'unsupported-compression', 'too-many-parts', 'bad-version', 'too-many-nodes',
]);
