// The AES-GCM keyring: the first (primary) key encrypts, every key is tried to
// decrypt, so a cluster can rotate keys by install → use → remove.
import { SwimdError } from '../base/errors.js';

export class KeyringError extends SwimdError {
  declare readonly code: 'KEY_INVALID_LENGTH' | 'KEY_NOT_INSTALLED' | 'KEY_IS_PRIMARY' | 'KEYRING_EMPTY' | 'KEYRING_FULL' | 'KEY_NOT_BASE64' | 'ENCRYPTION_DISABLED';
  constructor(code: KeyringError['code'], message: string) {
    super(code, message);
  }
}

function checkKey(key: Uint8Array): void {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    throw new KeyringError('KEY_INVALID_LENGTH', `key must be 16, 24 or 32 bytes (AES-128/192/256), got ${key.length}`);
  }
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export class Keyring {
  private list: Uint8Array[] = [];

  /** `maxKeys` bounds installs from the API and the network. */
  constructor(
    keys: Uint8Array[],
    readonly maxKeys = 16,
  ) {
    if (keys.length === 0) throw new KeyringError('KEYRING_EMPTY', 'a keyring needs at least one key');
    for (const k of keys) this.install(k);
  }

  primaryKey(): Uint8Array | null {
    return this.list[0] ?? null;
  }

  keys(): Uint8Array[] {
    return this.list.slice();
  }

  install(key: Uint8Array): void {
    checkKey(key);
    if (this.list.some((k) => same(k, key))) return;
    if (this.list.length >= this.maxKeys) throw new KeyringError('KEYRING_FULL', `the keyring holds its limit of ${this.maxKeys} keys (limits.maxKeys); remove one first`);
    this.list.push(Uint8Array.from(key));
  }

  use(key: Uint8Array): void {
    const i = this.list.findIndex((k) => same(k, key));
    if (i < 0) throw new KeyringError('KEY_NOT_INSTALLED', 'key is not installed');
    const [k] = this.list.splice(i, 1);
    this.list.unshift(k!);
  }

  /** Removing a key that is not installed changes nothing and is no error, as in memberlist: `serf keys -remove` is retried and must stay idempotent. */
  remove(key: Uint8Array): void {
    checkKey(key);
    const i = this.list.findIndex((k) => same(k, key));
    if (i === 0) throw new KeyringError('KEY_IS_PRIMARY', 'the primary key cannot be removed; use another key first');
    if (i > 0) this.list.splice(i, 1);
  }
}
