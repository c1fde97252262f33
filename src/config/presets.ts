// LAN / WAN / local presets. Protocol timings are memberlist's DefaultLANConfig,
// DefaultWANConfig and DefaultLocalConfig; the bounds and the reconnect loop are
// swimd's own. What each knob does, its formula and its trade-off: knobs.ts.
import type { SwimConfig } from '../base/swim-config.js';

export type ProfileName = 'lan' | 'wan' | 'local';

export function lanConfig(): SwimConfig {
  return {
    probeIntervalMs: 1000,
    probeTimeoutMs: 500,
    indirectChecks: 3,
    disableTcpPings: false,
    udpBlockedAfterProbes: 3,
    awarenessMaxMultiplier: 8,
    suspicionMult: 4,
    suspicionMaxTimeoutMult: 6,
    refusalSuspicionMult: 1,
    crashWatchIntervalMs: 1000,
    retransmitMult: 4,
    gossipIntervalMs: 200,
    gossipNodes: 3,
    gossipToTheDeadTimeMs: 30_000,
    pushPullIntervalMs: 30_000,
    reconnectIntervalMs: 3_000,
    reconnectTimeoutMs: 3_600_000,
    tcpTimeoutMs: 10_000,
    udpBufferSize: 1400,
    maxBroadcasts: 4096,
    maxMembers: 10_000,
    maxPushPullNodes: 10_000,
    maxConcurrentPushPulls: 128,
    handoffQueueDepth: 1024,
    maxAckHandlers: 4096,
    maxPacketsPerSource: 2000,
    maxNameBytes: 128,
    maxKeys: 16,
    memberNamePattern: '',
    protocolVersion: 2,
    delegateProtocolMin: 2,
    delegateProtocolMax: 5,
    delegateProtocolVersion: 4,
    label: '',
    keys: [],
    gossipVerifyIncoming: true,
    gossipVerifyOutgoing: true,
    enableCompression: true,
    leavePropagateDelayMs: 1000,
  };
}

export function wanConfig(): SwimConfig {
  return {
    ...lanConfig(),
    probeIntervalMs: 5000,
    probeTimeoutMs: 3000,
    suspicionMult: 6,
    crashWatchIntervalMs: 5000,
    gossipIntervalMs: 500,
    gossipNodes: 4,
    gossipToTheDeadTimeMs: 60_000,
    pushPullIntervalMs: 60_000,
    reconnectIntervalMs: 10_000,
    tcpTimeoutMs: 30_000,
  };
}

export function localConfig(): SwimConfig {
  return {
    ...lanConfig(),
    probeIntervalMs: 1000,
    probeTimeoutMs: 200,
    indirectChecks: 1,
    crashWatchIntervalMs: 250,
    suspicionMult: 3,
    retransmitMult: 2,
    gossipIntervalMs: 100,
    gossipToTheDeadTimeMs: 15_000,
    pushPullIntervalMs: 15_000,
    reconnectIntervalMs: 2_000,
    tcpTimeoutMs: 1000,
  };
}

export function presetConfig(profile: ProfileName): SwimConfig {
  switch (profile) {
    case 'lan':
      return lanConfig();
    case 'wan':
      return wanConfig();
    case 'local':
      return localConfig();
  }
}
