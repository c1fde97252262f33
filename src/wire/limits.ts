/** Bounds on what the decoders accept from the network. */
export interface WireLimits {
  /** Largest datagram accepted, in bytes. */
  maxPacketBytes: number;
  /** Largest single stream (TCP) message accepted, in bytes. */
  maxStreamBytes: number;
  /** A push/pull header announcing more node states than this is dropped. */
  maxPushPullNodes: number;
  /** How deep compound/compress/crc wrappers may nest inside one packet. */
  maxNestingDepth: number;
}

export const DEFAULT_WIRE_LIMITS: Readonly<WireLimits> = Object.freeze({
  maxPacketBytes: 65_536,
  maxStreamBytes: 10 * 1024 * 1024,
  maxPushPullNodes: 10_000,
  maxNestingDepth: 4,
});
