// The protocol core's knobs. Field names and meanings follow memberlist's Config;
// durations carry their unit in the name. Documentation of each knob (sentence,
// formula, trade-off) is in config/knobs.ts, the LAN / WAN / local presets in
// config/presets.ts, and validation of the YAML file (errors naming the field)
// in config/daemon-config.ts. The shape lives here, below both config and core,
// so the core reads its knobs without importing any config module.

/**
 * The knobs a running member applies at once (SIGHUP, SwimNode.updateTiming):
 * declared once, here, for the core (what it can change live), the config
 * layer (what a reload applies), the API (/v1/self) and the README table.
 */
export const LIVE_SWIM_FIELDS = [
  'probeIntervalMs',
  'probeTimeoutMs',
  'gossipIntervalMs',
  'pushPullIntervalMs',
  'suspicionMult',
  'suspicionMaxTimeoutMult',
  'refusalSuspicionMult',
  'retransmitMult',
  'gossipNodes',
  'indirectChecks',
  'awarenessMaxMultiplier',
  'gossipToTheDeadTimeMs',
] as const satisfies readonly (keyof SwimConfig)[];
export type LiveSwimField = (typeof LIVE_SWIM_FIELDS)[number];

export interface SwimConfig {
  // --- failure detection ---
  probeIntervalMs: number;
  probeTimeoutMs: number;
  indirectChecks: number;
  disableTcpPings: boolean;
  /** Consecutive probe rounds of one member answered over TCP only before "UDP appears blocked" is logged. */
  udpBlockedAfterProbes: number;
  awarenessMaxMultiplier: number;
  suspicionMult: number;
  suspicionMaxTimeoutMult: number;
  /**
   * A probe the member's host refused (nothing listens on its port: the
   * process died on a host that is up) starts a suspicion that ends in death
   * after this many probe intervals instead of the Lifeguard timeout (0: off).
   */
  refusalSuspicionMult: number;
  /** Crash watch: how often each member pings the next member in name order, acting only on a refusal (0: off). */
  crashWatchIntervalMs: number;
  // --- dissemination ---
  retransmitMult: number;
  gossipIntervalMs: number;
  gossipNodes: number;
  gossipToTheDeadTimeMs: number;
  pushPullIntervalMs: number;
  /** Serf-style periodic reconnect to dead members and seeds (memberlist alone lacks it). */
  reconnectIntervalMs: number;
  /** How long a dead member is kept (as a tombstone for reconnect) before it is reaped. */
  reconnectTimeoutMs: number;
  tcpTimeoutMs: number;
  // --- limits (every network-fed structure is bounded) ---
  udpBufferSize: number;
  maxBroadcasts: number;
  maxMembers: number;
  maxPushPullNodes: number;
  maxConcurrentPushPulls: number;
  handoffQueueDepth: number;
  maxAckHandlers: number;
  /** Datagrams per second one source address and port may have processed (0: no limit). */
  maxPacketsPerSource: number;
  /** Longest member name accepted from the network, in UTF-8 bytes. */
  maxNameBytes: number;
  /** Most encryption keys the keyring holds (installs over the API or by Serf's key queries beyond it are refused). */
  maxKeys: number;
  /** A regular expression every member name from the network must match ('' = printable UTF-8 only). */
  memberNamePattern: string;
  // --- identity / protocol versions ---
  protocolVersion: number;
  delegateProtocolMin: number;
  delegateProtocolMax: number;
  delegateProtocolVersion: number;
  // --- security ---
  label: string;
  /** AES keys (16, 24 or 32 bytes). The first encrypts; every key is tried to decrypt. */
  keys: Uint8Array[];
  gossipVerifyIncoming: boolean;
  gossipVerifyOutgoing: boolean;
  /** Compress outgoing messages with LZW when the result is smaller. */
  enableCompression: boolean;
  /** Time allowed for a graceful leave broadcast before shutdown. */
  leavePropagateDelayMs: number;
}

/** At most this many "UDP appears blocked" warnings a minute over all members; the rest are counted, not logged. */
export const UDP_BLOCKED_WARNINGS_PER_MINUTE = 10;
