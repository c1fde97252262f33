// Run-time key rotation on this member's keyring, for the local API and for
// Serf's key queries alike: list, install, use (make primary), remove. The
// keyring is the one the core seals and opens with, so a `use` switches what
// this member sends at once, and every installed key keeps decrypting.
import { Keyring, KeyringError } from '../wire/keyring.js';

export interface KeyView {
  /** Base64, as in security.keys. */
  key: string;
  primary: boolean;
}

export type KeyOperation = 'install' | 'use' | 'remove';

/** Parses a base64 key (standard alphabet, as `swimd keygen` and `serf keygen` print). */
export function parseKey(text: unknown): Uint8Array {
  if (typeof text !== 'string' || text.length > 64) throw new KeyringError('KEY_NOT_BASE64', 'expected a base64 key of 16, 24 or 32 bytes');
  const b = Buffer.from(text, 'base64');
  if (b.toString('base64') !== text) throw new KeyringError('KEY_NOT_BASE64', 'expected a base64 key of 16, 24 or 32 bytes');
  return new Uint8Array(b);
}

export class KeyOps {
  constructor(
    private readonly keyring: Keyring | null,
    private readonly log: (op: KeyOperation, keys: number) => void = () => {},
  ) {}

  private ring(): Keyring {
    if (this.keyring === null) throw new KeyringError('ENCRYPTION_DISABLED', 'encryption is not enabled on this member (security.keys is empty)');
    return this.keyring;
  }

  list(): KeyView[] {
    return this.ring().keys().map((k, i) => ({ key: Buffer.from(k).toString('base64'), primary: i === 0 }));
  }

  primary(): string {
    return Buffer.from(this.ring().primaryKey()!).toString('base64');
  }

  apply(op: KeyOperation, key: Uint8Array): void {
    const ring = this.ring();
    if (op === 'install') ring.install(key);
    else if (op === 'use') ring.use(key);
    else ring.remove(key);
    this.log(op, ring.keys().length);
  }
}
