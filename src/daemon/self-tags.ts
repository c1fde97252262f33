// This member's own tags: the configured ones, changes made at run time
// (`PUT /v1/self/tags`, `swimd tags`, `swimd drain`), and the tags swimd sets
// itself (the ownership tag, the partition settings' fingerprint, and whether
// the application has a live session).
// Every change is spread as a new incarnation of this member, so partitions
// move through the normal path on every member.
import { META_MAX_BYTES } from '../wire/messages.js';
import { encodeTags } from '../wire/serf-tags.js';
import { OWNERSHIP_TAG, OWNERSHIP_TAG_VALUE } from '../partition/leadership.js';
import { APP_TAG, DAMPED_TAG } from '../partition/members.js';
import { SwimdError } from '../base/errors.js';
import { TABLE_CONFIG_TAG } from '../partition/agreement.js';

export class TagError extends SwimdError {
  declare readonly code: 'TAG_RESERVED' | 'TAG_INVALID' | 'META_TOO_LARGE';
  constructor(code: 'TAG_RESERVED' | 'TAG_INVALID' | 'META_TOO_LARGE', message: string) {
    super(code, message);
  }
}

const RESERVED = new Set([OWNERSHIP_TAG, APP_TAG, TABLE_CONFIG_TAG, DAMPED_TAG]);
const MAX_TAG_BYTES = 128;

export class SelfTags {
  private user: Record<string, string>;
  /** With partitions.requireSession: does the application beside this daemon have a live session? */
  private appUp: boolean;
  /** Flap damping suppresses this member in its own view (advertised so that newcomers agree). */
  private damped = false;

  constructor(
    configured: Record<string, string>,
    private readonly requireSession: boolean,
    private readonly apply: (meta: Uint8Array) => void,
    /** Fixed tags swimd sets itself (reserved names only), such as the partition settings' fingerprint. */
    private readonly own: Readonly<Record<string, string>> = {},
    /** Suppressed by flap damping at start (the score a previous process saved). */
    damped = false,
  ) {
    this.damped = damped;
    for (const k of Object.keys(own)) if (!RESERVED.has(k)) throw new TagError('TAG_INVALID', `tag ${k} is not one swimd sets itself`);
    for (const k of Object.keys(configured)) if (RESERVED.has(k)) throw new TagError('TAG_RESERVED', `node.meta.${k} is set by swimd itself`);
    this.user = { ...configured };
    this.appUp = !requireSession;
    this.check(this.encode(this.user, this.appUp));
  }

  /** Tags as advertised now (user tags plus swimd's own). */
  all(): Record<string, string> {
    return this.full(this.user, this.appUp);
  }

  /** The metadata to start with. */
  meta(): Uint8Array {
    return this.encode(this.user, this.appUp);
  }

  /** Sets and removes user tags in one change; validates everything before applying anything. */
  update(set: Record<string, unknown>, unset: readonly unknown[]): Record<string, string> {
    const next = { ...this.user };
    for (const k of unset) {
      if (typeof k !== 'string') throw new TagError('TAG_INVALID', `unset: expected tag names, got ${JSON.stringify(k)}`);
      if (RESERVED.has(k)) throw new TagError('TAG_RESERVED', `tag ${k} is set by swimd itself`);
      delete next[k];
    }
    for (const [k, v] of Object.entries(set)) {
      if (RESERVED.has(k)) throw new TagError('TAG_RESERVED', `tag ${k} is set by swimd itself`);
      if (k === '' || Buffer.byteLength(k) > MAX_TAG_BYTES) throw new TagError('TAG_INVALID', `tag name ${JSON.stringify(k.slice(0, 40))}: expected 1 to ${MAX_TAG_BYTES} bytes`);
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new TagError('TAG_INVALID', `tag ${k}: expected a string, number or boolean`);
      next[k] = String(v);
    }
    const meta = this.encode(next, this.appUp);
    this.check(meta);
    this.user = next;
    this.apply(meta);
    return this.all();
  }

  /** The application's session began or ended (only meaningful with requireSession). */
  setAppUp(up: boolean): void {
    if (!this.requireSession || up === this.appUp) return;
    this.appUp = up;
    this.apply(this.encode(this.user, this.appUp));
  }

  /** Flap damping suppressed or released this member: spread now. */
  setDamped(on: boolean): void {
    if (on === this.damped) return;
    this.damped = on;
    this.apply(this.encode(this.user, this.appUp));
  }

  /** Flap damping suppressed this member in the refutation about to go out: the metadata it must carry (null when too large). */
  stageDamped(on: boolean): Uint8Array | null {
    const meta = this.encode(this.user, this.appUp, on);
    if (meta.length > META_MAX_BYTES) return null;
    this.damped = on;
    return meta;
  }

  private full(user: Record<string, string>, appUp: boolean, damped = this.damped): Record<string, string> {
    return { ...user, ...this.own, [OWNERSHIP_TAG]: OWNERSHIP_TAG_VALUE, ...(this.requireSession ? { [APP_TAG]: appUp ? 'up' : 'down' } : {}), ...(damped ? { [DAMPED_TAG]: '1' } : {}) };
  }

  private encode(user: Record<string, string>, appUp: boolean, damped = this.damped): Uint8Array {
    return encodeTags(this.full(user, appUp, damped));
  }

  private check(meta: Uint8Array): void {
    if (meta.length > META_MAX_BYTES) throw new TagError('META_TOO_LARGE', `tags take ${meta.length} bytes encoded; the limit is ${META_MAX_BYTES}`);
  }
}
