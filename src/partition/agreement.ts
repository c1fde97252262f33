// Do the other swimd members publish the same partition table as this one?
// Each daemon sends its table's checksum (checksum.ts) with a summary of the
// table's configuration in the user state of memberlist's push/pull, and
// compares what its peers send with its own. Tables differ legitimately while
// news is still spreading, so a difference only counts when both sides have
// been at rest for the settle time, or when their configurations differ (no
// amount of waiting fixes that). A disagreement that lasts is logged once per
// episode. No I/O and no clock of its own: time comes from the environment.
//
// The configuration (partitions.count, .replicas, .strategy) also travels as a
// short member tag, so a member set up differently is reported at once, before
// any push/pull.
//
// State layout (big-endian), at most AGREEMENT_STATE_MAX_BYTES:
//   [0xF6][version 1][flags: bit 0 settled][strategy: 0 rendezvous, 1 modulo]
//   [partitions u32][replicas u8][eligible members u32][table sequence u32]
//   [checksum 8 bytes][name length u8][name UTF-8]
import { SwimdError } from '../base/errors.js';
import { SwimdPayloadMagic } from '../wire/messages.js';
import type { UserStateRefusal } from '../core/stats.js';

export const AGREEMENT_WIRE_VERSION = 1;
const FIXED_BYTES = 26;
/** Largest agreement state accepted: the fixed fields and a name of up to 255 bytes. */
export const AGREEMENT_STATE_MAX_BYTES = FIXED_BYTES + 255;

/** Member tag with this member's partitions.count, .replicas and .strategy, as "256:3:r". */
export const TABLE_CONFIG_TAG = 'swimd-pt';

/** A state this member cannot send (a name that does not fit, a checksum that is not one). */
export class AgreementError extends SwimdError {
  declare readonly code: 'AGREEMENT_STATE_INVALID';
  constructor(message: string) {
    super('AGREEMENT_STATE_INVALID', message);
  }
}

export interface TableConfig {
  readonly partitions: number;
  readonly replicas: number;
  readonly strategy: 'rendezvous' | 'modulo';
}

export function tableConfigTag(c: TableConfig): string {
  return `${c.partitions}:${c.replicas}:${c.strategy === 'modulo' ? 'm' : 'r'}`;
}

export function parseTableConfigTag(v: string): TableConfig | null {
  const m = /^(\d{1,9}):(\d{1,3}):([rm])$/.exec(v);
  if (!m) return null;
  return { partitions: Number(m[1]), replicas: Number(m[2]), strategy: m[3] === 'm' ? 'modulo' : 'rendezvous' };
}

export function describeTableConfig(c: TableConfig): string {
  return `partitions.count ${c.partitions}, replicas ${c.replicas}, strategy ${c.strategy}`;
}

function sameConfig(a: TableConfig, b: TableConfig): boolean {
  return a.partitions === b.partitions && a.replicas === b.replicas && a.strategy === b.strategy;
}

export interface AgreementState {
  readonly name: string;
  /** 16 hex digits. */
  readonly checksum: string;
  readonly config: TableConfig;
  readonly eligibleMembers: number;
  /** The sender's table change count (mod 2^32). */
  readonly seq: number;
  /** The sender's table had not changed for the settle time when it sent this. */
  readonly settled: boolean;
}

export function isAgreementState(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === SwimdPayloadMagic.Agreement && b[1] === AGREEMENT_WIRE_VERSION;
}

export function encodeAgreementState(s: AgreementState): Uint8Array {
  const name = Buffer.from(s.name, 'utf8');
  if (name.length === 0 || name.length > 255) throw new AgreementError(`member name of ${name.length} bytes cannot be sent in an agreement state`);
  if (!/^[0-9a-f]{16}$/.test(s.checksum)) throw new AgreementError(`checksum ${s.checksum} is not 16 hex digits`);
  const b = Buffer.alloc(FIXED_BYTES + name.length);
  b[0] = SwimdPayloadMagic.Agreement;
  b[1] = AGREEMENT_WIRE_VERSION;
  b[2] = s.settled ? 1 : 0;
  b[3] = s.config.strategy === 'modulo' ? 1 : 0;
  b.writeUInt32BE(s.config.partitions >>> 0, 4);
  b[8] = s.config.replicas & 0xff;
  b.writeUInt32BE(Math.min(s.eligibleMembers, 0xffffffff) >>> 0, 9);
  b.writeUInt32BE(s.seq >>> 0, 13);
  b.write(s.checksum, 17, 'hex');
  b[25] = name.length;
  name.copy(b, FIXED_BYTES);
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

export type AgreementDecode = { ok: true; value: AgreementState } | { ok: false; reason: UserStateRefusal };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Never throws: a state that is not swimd's, or is bad, comes back as a drop reason. */
export function decodeAgreementState(raw: Uint8Array): AgreementDecode {
  if (raw.length < 1 || raw[0] !== SwimdPayloadMagic.Agreement) return { ok: false, reason: 'foreign' };
  if (raw.length < 2 || raw[1] !== AGREEMENT_WIRE_VERSION) return { ok: false, reason: 'version' };
  if (raw.length > AGREEMENT_STATE_MAX_BYTES) return { ok: false, reason: 'oversized' };
  if (raw.length < FIXED_BYTES) return { ok: false, reason: 'malformed' };
  const b = Buffer.from(raw.buffer, raw.byteOffset, raw.length);
  const nameLen = b[25]!;
  if (nameLen === 0 || FIXED_BYTES + nameLen !== b.length || b[3]! > 1 || b[2]! > 1) return { ok: false, reason: 'malformed' };
  let name: string;
  try {
    name = utf8.decode(raw.subarray(FIXED_BYTES));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  return {
    ok: true,
    value: {
      name,
      checksum: b.toString('hex', 17, 25),
      config: { partitions: b.readUInt32BE(4), replicas: b[8]!, strategy: b[3] === 1 ? 'modulo' : 'rendezvous' },
      eligibleMembers: b.readUInt32BE(9),
      seq: b.readUInt32BE(13),
      settled: b[2] === 1,
    },
  };
}

/** What this daemon's own table looks like now. */
export interface LocalTable {
  readonly checksum: string;
  readonly tableSeq: number;
  readonly eligibleMembers: number;
  /** Clock time of the table's last change. */
  readonly changedAtMs: number;
}

export interface AgreementEnv {
  nowMs(): number;
  local(): LocalTable;
  /** An alive swimd member other than this one (it carries the ownership tag): only these are compared. */
  isPeer(name: string): boolean;
  /** A member still in the view and not left: mismatched configurations are reported for these. */
  isMember(name: string): boolean;
  log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>): void;
}

export interface AgreementOptions {
  self: string;
  config: TableConfig;
  /** A table unchanged for this long is at rest. */
  settleMs: number;
  /** A disagreement lasting this long is logged at warn (once per episode). */
  warnAfterMs: number;
  /** Bound on the peers remembered (the member table's bound). */
  maxPeers: number;
}

export type AgreementOutcome = 'agree' | 'disagree' | 'unsettled';

interface PeerRecord {
  checksum: string;
  config: TableConfig;
  eligibleMembers: number;
  seq: number;
  comparedAtMs: number;
  outcome: AgreementOutcome;
  /** Our checksum when this comparison was made. */
  localChecksum: string;
  /** First comparison of the current disagreement; null while none is open. */
  episodeSinceMs: number | null;
  warned: boolean;
}

export interface AgreementReport {
  checksum: string;
  agreeing: number;
  disagreeing: { name: string; checksum: string; ageMs: number }[];
  /** Peers not compared yet, or last compared while one side's table was still moving. */
  unknown: number;
}

export interface ConfigMismatch {
  name: string;
  theirs: TableConfig;
  ours: TableConfig;
}

export interface AgreementStats {
  received: number;
  agreeing: number;
  disagreeing: number;
  unsettled: number;
  warnings: number;
  configMismatches: number;
}

export class Agreement {
  readonly stats: AgreementStats = { received: 0, agreeing: 0, disagreeing: 0, unsettled: 0, warnings: 0, configMismatches: 0 };
  private readonly peers = new Map<string, PeerRecord>();
  private readonly mismatches = new Map<string, TableConfig>();

  constructor(
    readonly opts: AgreementOptions,
    private readonly env: AgreementEnv,
  ) {}

  /** This daemon's state as sent in push/pull. */
  localState(): Uint8Array {
    const local = this.env.local();
    return encodeAgreementState({
      name: this.opts.self,
      checksum: local.checksum,
      config: this.opts.config,
      eligibleMembers: local.eligibleMembers,
      seq: local.tableSeq,
      settled: this.settled(local),
    });
  }

  /**
   * What to put in a push/pull: to a member dialled by name only if it is a
   * swimd peer, in answer only to a state that is swimd's, else nothing, so a
   * Serf agent never receives a state it would not understand.
   */
  stateFor(peer: string | null, incoming: Uint8Array | null): Uint8Array {
    if (incoming !== null) return isAgreementState(incoming) ? this.localState() : new Uint8Array(0);
    if (peer !== null && this.env.isPeer(peer)) return this.localState();
    return new Uint8Array(0);
  }

  /** A peer's state from a push/pull; returns why it was refused (not swimd's, or not usable), or null. */
  receive(raw: Uint8Array): UserStateRefusal | null {
    const d = decodeAgreementState(raw);
    if (!d.ok) return d.reason;
    const s = d.value;
    if (s.name === this.opts.self) return 'self';
    if (!this.env.isPeer(s.name)) return 'unknown-sender';
    let rec = this.peers.get(s.name);
    if (!rec && this.peers.size >= this.opts.maxPeers) return 'peers-full';
    this.stats.received++;
    const now = this.env.nowMs();
    const local = this.env.local();
    const outcome: AgreementOutcome =
      s.checksum === local.checksum ? 'agree' : !sameConfig(s.config, this.opts.config) || (s.settled && this.settled(local)) ? 'disagree' : 'unsettled';
    if (!rec) {
      rec = { checksum: s.checksum, config: s.config, eligibleMembers: s.eligibleMembers, seq: s.seq, comparedAtMs: now, outcome, localChecksum: local.checksum, episodeSinceMs: null, warned: false };
      this.peers.set(s.name, rec);
    }
    Object.assign(rec, { checksum: s.checksum, config: s.config, eligibleMembers: s.eligibleMembers, seq: s.seq, comparedAtMs: now, outcome, localChecksum: local.checksum });
    if (outcome === 'agree') {
      this.stats.agreeing++;
      if (rec.warned) this.env.log('info', `partition table agrees with member ${s.name} again`, { member: s.name, checksum: local.checksum });
      rec.episodeSinceMs = null;
      rec.warned = false;
    } else if (outcome === 'disagree') {
      this.stats.disagreeing++;
      rec.episodeSinceMs ??= now;
      this.warnIfLasting(s.name, rec, local, now);
    } else this.stats.unsettled++;
    return null;
  }

  /** A member's tags as they are now (join, update, alive again); null for a member without tags. */
  observeMember(name: string, tags: Readonly<Record<string, string>> | null): void {
    if (name === this.opts.self) return;
    const raw = tags?.[TABLE_CONFIG_TAG];
    const theirs = raw === undefined ? null : parseTableConfigTag(raw);
    if (theirs === null || sameConfig(theirs, this.opts.config)) {
      this.mismatches.delete(name);
      return;
    }
    const known = this.mismatches.get(name);
    if (known && sameConfig(known, theirs)) return;
    if (!known && this.mismatches.size >= this.opts.maxPeers) return;
    this.mismatches.set(name, theirs);
    this.stats.configMismatches++;
    this.env.log('error', `member ${name} computes partitions with other settings (${describeTableConfig(theirs)}; this member ${describeTableConfig(this.opts.config)}): the two publish different tables`, {
      member: name,
      theirs,
      ours: this.opts.config,
    });
  }

  /** The member left, died or was forgotten: its comparison no longer says anything. */
  forget(name: string, alsoConfig: boolean): void {
    this.peers.delete(name);
    if (alsoConfig) this.mismatches.delete(name);
  }

  /** Periodic: drops what is kept about members gone from the view, and warns of disagreements that have lasted. */
  tick(): void {
    const now = this.env.nowMs();
    const local = this.env.local();
    for (const [name, rec] of this.peers) {
      if (!this.env.isPeer(name)) this.peers.delete(name);
      // Only while our table is still the one that disagreed: after a change of ours the next comparison decides.
      else if (rec.outcome === 'disagree' && rec.localChecksum === local.checksum) this.warnIfLasting(name, rec, local, now);
    }
    for (const name of this.mismatches.keys()) if (!this.env.isMember(name)) this.mismatches.delete(name);
  }

  /** Agreement with `peers` (the alive swimd members other than this one). */
  report(peers: Iterable<string>): AgreementReport {
    const now = this.env.nowMs();
    let agreeing = 0;
    let total = 0;
    const disagreeing: AgreementReport['disagreeing'] = [];
    for (const name of peers) {
      if (name === this.opts.self) continue;
      total++;
      const rec = this.peers.get(name);
      if (rec?.outcome === 'agree') agreeing++;
      else if (rec?.outcome === 'disagree') disagreeing.push({ name, checksum: rec.checksum, ageMs: Math.max(0, Math.round(now - rec.comparedAtMs)) });
    }
    disagreeing.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { checksum: this.env.local().checksum, agreeing, disagreeing, unknown: total - agreeing - disagreeing.length };
  }

  /** Members seen with other table settings than this one's. */
  configMismatches(): ConfigMismatch[] {
    return [...this.mismatches].map(([name, theirs]) => ({ name, theirs, ours: this.opts.config })).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  peerCount(): number {
    return this.peers.size;
  }

  private settled(local: LocalTable): boolean {
    return this.env.nowMs() - local.changedAtMs >= this.opts.settleMs;
  }

  private warnIfLasting(name: string, rec: PeerRecord, local: LocalTable, now: number): void {
    if (rec.warned || rec.episodeSinceMs === null || now - rec.episodeSinceMs < this.opts.warnAfterMs) return;
    rec.warned = true;
    this.stats.warnings++;
    this.env.log('warn', `partition table disagrees with member ${name}`, {
      member: name,
      checksum: local.checksum,
      theirChecksum: rec.checksum,
      forMs: Math.round(now - rec.episodeSinceMs),
      ours: { ...this.opts.config, eligibleMembers: local.eligibleMembers },
      theirs: { ...rec.config, eligibleMembers: rec.eligibleMembers },
    });
  }
}
