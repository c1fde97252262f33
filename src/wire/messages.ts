// memberlist's message types and bodies, as they travel on the wire.
// Bodies are msgpack maps keyed by the Go field names (see gomsgpack.ts for the
// exact encoding rules). Byte fields (addresses, Meta, Vsn, Payload) are bytes,
// never text.

/**
 * Message type byte. WARNING: this enum is part of the wire protocol shared with
 * HashiCorp memberlist and Serf. It is append-only: never renumber or reuse a
 * value, or swimd stops talking to every existing peer.
 */
export enum MessageType {
  Ping = 0,
  IndirectPing = 1,
  AckResp = 2,
  Suspect = 3,
  Alive = 4,
  Dead = 5,
  PushPull = 6,
  Compound = 7,
  User = 8,
  Compress = 9,
  Encrypt = 10,
  NackResp = 11,
  HasCrc = 12,
  Err = 13,
  /** Label header; 244 so it can never collide with a message type. */
  HasLabel = 244,
}

/**
 * First byte of swimd's own payloads inside memberlist's opaque fields (user
 * messages, push/pull user state), followed by a format version. Serf's own
 * payloads start with small message-type numbers, so these never pass for
 * one of them. Append-only like MessageType.
 */
export enum SwimdPayloadMagic {
  /** Ownership protocol user messages (src/partition/ownership-wire.ts). */
  Ownership = 0xf5,
  /** Partition-table agreement state in push/pull (src/partition/agreement.ts). */
  Agreement = 0xf6,
  /** Evidence in an ownership claim or hint: a member's process refused probes (src/partition/ownership-wire.ts). */
  Refused = 0xf7,
}

/** Member state numbers used in push/pull node states (Go `int`). Append-only like MessageType. */
export enum WireState {
  Alive = 0,
  Suspect = 1,
  Dead = 2,
  Left = 3,
}

export interface PingMsg {
  seqNo: number;
  /** Name of the node the ping is meant for; a receiver with another name ignores it. */
  node: string;
  sourceAddr?: Uint8Array;
  sourcePort?: number;
  sourceNode?: string;
}

export interface IndirectPingMsg {
  seqNo: number;
  target: Uint8Array;
  port: number;
  node: string;
  nack: boolean;
  sourceAddr?: Uint8Array;
  sourcePort?: number;
  sourceNode?: string;
}

export interface AckRespMsg {
  seqNo: number;
  payload: Uint8Array | null;
}

export interface NackRespMsg {
  seqNo: number;
}

export interface ErrRespMsg {
  error: string;
}

export interface SuspectMsg {
  incarnation: number;
  node: string;
  from: string;
}

export interface DeadMsg {
  incarnation: number;
  node: string;
  /** When `from === node` the node left gracefully. */
  from: string;
}

export interface AliveMsg {
  incarnation: number;
  node: string;
  /** 4 bytes (IPv4) or 16 bytes (IPv6). */
  addr: Uint8Array;
  port: number;
  /** ≤ 512 bytes. */
  meta: Uint8Array | null;
  /** [protocolMin, protocolMax, protocolCur, delegateMin, delegateMax, delegateCur]. */
  vsn: Uint8Array;
}

export interface PushPullHeader {
  nodes: number;
  userStateLen: number;
  join: boolean;
}

export interface PushNodeState {
  name: string;
  addr: Uint8Array;
  port: number;
  meta: Uint8Array | null;
  incarnation: number;
  state: WireState;
  vsn: Uint8Array;
}

/** A whole push/pull message: header, node states, and opaque user state. */
export interface PushPullMsg {
  join: boolean;
  nodes: PushNodeState[];
  userState: Uint8Array;
}

export interface UserMsg {
  payload: Uint8Array;
}

/** A decoded single message (after compound, compression, CRC, encryption and label were unwrapped). */
export type Message =
  | { type: MessageType.Ping; body: PingMsg }
  | { type: MessageType.IndirectPing; body: IndirectPingMsg }
  | { type: MessageType.AckResp; body: AckRespMsg }
  | { type: MessageType.NackResp; body: NackRespMsg }
  | { type: MessageType.Err; body: ErrRespMsg }
  | { type: MessageType.Suspect; body: SuspectMsg }
  | { type: MessageType.Alive; body: AliveMsg }
  | { type: MessageType.Dead; body: DeadMsg }
  | { type: MessageType.PushPull; body: PushPullMsg }
  | { type: MessageType.User; body: UserMsg };

/** Protocol and delegate versions swimd speaks (memberlist: ProtocolVersionMin 1, Max 5). */
export const PROTOCOL_VERSION_MIN = 1;
export const PROTOCOL_VERSION_MAX = 5;
/** Protocol version swimd advertises as current (memberlist's default config uses 2). */
export const PROTOCOL_VERSION_CURRENT = 2;
export const META_MAX_BYTES = 512;
export const LABEL_MAX_BYTES = 255;
export const COMPOUND_MAX_PARTS = 255;
