// What every protocol knob in the YAML file does: one sentence, its formula and
// its trade-off. The README's knob table is rendered from this list (a unit test
// keeps the two equal), and the defaults column is read from the presets, so
// documentation and behaviour cannot drift apart.
import { formatDurationMs } from './duration.js';
import { lanConfig, localConfig, wanConfig } from './presets.js';
import { LIVE_SWIM_FIELDS, UDP_BLOCKED_WARNINGS_PER_MINUTE, type SwimConfig } from '../base/swim-config.js';

export interface KnobDoc {
  /** Key in the YAML file. */
  readonly key: string;
  /** The SwimConfig field it sets. */
  readonly field: keyof SwimConfig;
  readonly kind: 'duration' | 'int' | 'bool' | 'string';
  /** Smallest value the file may set (milliseconds for durations); 1 when absent. */
  readonly min?: number;
  /** Largest value the file may set; 1000 for swim.* integers, 10,000,000 for limits.* when absent. */
  readonly max?: number;
  readonly sentence: string;
  readonly formula: string;
  readonly tradeOff: string;
}

export const KNOB_DOCS: readonly KnobDoc[] = [
  {
    key: 'swim.probeInterval',
    field: 'probeIntervalMs',
    kind: 'duration',
    sentence: 'Each member probes one other member, round-robin over a shuffled list, once per interval.',
    formula: 'effective interval = probeInterval × (health score + 1)',
    tradeOff: 'Lower finds failures sooner and sends more packets.',
  },
  {
    key: 'swim.probeTimeout',
    field: 'probeTimeoutMs',
    kind: 'duration',
    sentence: 'How long a probe waits for a direct ack before asking other members to probe indirectly.',
    formula: 'must be < probeInterval; scaled by (health score + 1)',
    tradeOff: 'Too low on a slow network causes needless indirect probes; too high leaves less of the period for them.',
  },
  {
    key: 'swim.indirectChecks',
    min: 0,
    field: 'indirectChecks',
    kind: 'int',
    sentence: 'How many random members are asked to probe a target that missed its direct ack.',
    formula: 'packets per failed probe ≈ 2 × indirectChecks',
    tradeOff: 'More makes a false suspicion from one bad link rarer and costs packets.',
  },
  {
    key: 'swim.suspicionMult',
    field: 'suspicionMult',
    kind: 'int',
    sentence: 'Sets the shortest time a suspected member has to refute before it is declared dead.',
    formula: 'min timeout = suspicionMult × max(1, log10 n) × probeInterval; confirmations wanted k = suspicionMult − 2',
    tradeOff: 'Higher gives a slow member longer to refute; detection is slower.',
  },
  {
    key: 'swim.suspicionMaxTimeoutMult',
    field: 'suspicionMaxTimeoutMult',
    kind: 'int',
    sentence: 'A suspicion starts at this multiple of the minimum timeout and shrinks as independent members confirm it (Lifeguard).',
    formula: 'timeout(c) = max(min, max − (max − min) × ln(c + 1) / ln(k + 1)), max = mult × min',
    tradeOff: 'Higher protects a healthy member from a lone, unhealthy accuser; a real failure seen by one member only is declared later.',
  },
  {
    key: 'swim.refusalSuspicionMult',
    min: 0,
    field: 'refusalSuspicionMult',
    kind: 'int',
    sentence: "Crash fast path: when the member's host refuses a probe (ICMP port unreachable to the direct ping, confirmed by a refused TCP ping: the process died, the host is up), the prober suspects it at once and declares it dead after this many probe intervals unless it refutes; 0 keeps memberlist's behaviour.",
    formula: 'dead after refusalSuspicionMult × probeInterval × (health score + 1), or the Lifeguard timeout if shorter',
    tradeOff: 'Lower declares a crashed process dead sooner; a member restarting on the same port has less time to come back before its partitions move (it is alive again at its next incarnation either way).',
  },
  {
    key: 'swim.crashWatchInterval',
    min: 0,
    field: 'crashWatchIntervalMs',
    kind: 'duration',
    sentence: "Crash watch: each member also pings the next live member in name order this often; a refusal from the target's host, or three pings in a row without an ack, start a probe round of it at once, which decides as any other; 0 turns it off, and it is off when refusalSuspicionMult is 0.",
    formula: 'first probe of a failed member within crashWatchInterval (kill -9 on a live host) or 3 × crashWatchInterval (silence); one extra ping and ack per member per interval, whatever the cluster size',
    tradeOff: 'Shorter probes a failed member sooner and sends more packets (at 250 ms, 4 pings and 4 acks a second per member, about 360 B/s); it accuses no one by itself, so loss and pauses cost extra probe rounds, not suspicions.',
  },
  {
    key: 'swim.awarenessMaxMultiplier',
    field: 'awarenessMaxMultiplier',
    kind: 'int',
    sentence: 'Lifeguard: a member that misses nacks or has to refute raises its health score and slows its own probing.',
    formula: 'health score in [0, awarenessMaxMultiplier − 1]',
    tradeOff: 'Higher lets an overloaded member back off further before it accuses healthy peers; its own probing is slower meanwhile.',
  },
  {
    key: 'swim.retransmitMult',
    field: 'retransmitMult',
    kind: 'int',
    sentence: 'How many times each membership update is piggybacked on outgoing packets.',
    formula: 'transmissions = retransmitMult × ⌈log10(n + 1)⌉',
    tradeOff: 'Higher spreads updates more reliably under loss, with more bytes per packet.',
  },
  {
    key: 'swim.gossipInterval',
    field: 'gossipIntervalMs',
    kind: 'duration',
    sentence: 'How often queued updates are sent to gossipNodes random members, besides riding on probes.',
    formula: 'rounds to reach everyone ≈ log(n) / log(gossipNodes + 1)',
    tradeOff: 'Shorter spreads news sooner and sends more packets.',
  },
  {
    key: 'swim.gossipNodes',
    field: 'gossipNodes',
    kind: 'int',
    sentence: 'How many random members each gossip round sends to.',
    formula: 'packets per second ≈ gossipNodes / gossipInterval (when there is news)',
    tradeOff: 'More spreads news in fewer rounds and costs packets.',
  },
  {
    key: 'swim.gossipToTheDeadTime',
    field: 'gossipToTheDeadTimeMs',
    kind: 'duration',
    sentence: 'Dead members still receive gossip for this long, so a member wrongly declared dead learns it and refutes.',
    formula: 'window after the death is recorded',
    tradeOff: 'Longer heals more false deaths by gossip alone and sends packets to members that may really be gone.',
  },
  {
    key: 'swim.pushPullInterval',
    min: 0,
    field: 'pushPullIntervalMs',
    kind: 'duration',
    sentence: 'Full-state exchange (anti-entropy) with one random member over TCP; 0s disables it.',
    formula: 'interval × (⌈log2 n − 5⌉ + 1) above 32 members; ramps up from one probe interval after start and join',
    tradeOff: 'Shorter repairs missed updates sooner; each exchange carries the whole member list.',
  },
  {
    key: 'swim.reconnectInterval',
    min: 0,
    field: 'reconnectIntervalMs',
    kind: 'duration',
    sentence: 'swimd retries one dead member and any seed missing from the view by push/pull each interval, as Serf does; this is what merges the halves of a healed network partition.',
    formula: 'one TCP attempt per interval',
    tradeOff: 'Shorter heals partitions sooner and costs a connection attempt per interval.',
  },
  {
    key: 'swim.reconnectTimeout',
    field: 'reconnectTimeoutMs',
    kind: 'duration',
    sentence: 'How long a dead member is kept (for reconnect attempts and as a tombstone) before it is forgotten.',
    formula: 'reaped after reconnectTimeout in the dead or left state',
    tradeOff: 'Longer keeps retrying members that may never return; shorter may forget one half of a long partition.',
  },
  {
    key: 'swim.tcpTimeout',
    field: 'tcpTimeoutMs',
    kind: 'duration',
    sentence: 'Bound on one push/pull exchange or TCP fallback probe.',
    formula: 'per connection, connect to last byte',
    tradeOff: 'Too low fails exchanges of large member lists on slow links; too high holds a push/pull slot on a dead peer.',
  },
  {
    key: 'swim.leavePropagateDelay',
    min: 0,
    field: 'leavePropagateDelayMs',
    kind: 'duration',
    sentence: 'Time given to the leave broadcast before the process stops.',
    formula: 'the leave (a dead message about itself) is gossiped at once, then the process waits this long',
    tradeOff: 'Longer makes it likelier that everyone records a leave rather than a failure; shutdown is slower.',
  },
  {
    key: 'swim.udpBufferSize',
    min: 512,
    max: 65000,
    field: 'udpBufferSize',
    kind: 'int',
    sentence: 'Largest datagram swimd sends; piggybacked updates fill what the message leaves.',
    formula: 'room for updates = udpBufferSize − message − label − encryption overhead − 2 bytes per compound part',
    tradeOff: 'Larger carries more updates per packet but risks IP fragmentation above the path MTU.',
  },
  {
    key: 'swim.disableTcpPings',
    field: 'disableTcpPings',
    kind: 'bool',
    sentence: 'Turns off the TCP fallback probe that runs beside indirect probes.',
    formula: 'one extra TCP connection per failed direct probe when enabled',
    tradeOff: 'Disabling saves connections; a member whose UDP is filtered is then declared dead instead of reported.',
  },
  {
    key: 'swim.udpBlockedAfterProbes',
    field: 'udpBlockedAfterProbes',
    kind: 'int',
    sentence: 'A member whose probes are answered only by the TCP fallback this many rounds in a row is logged once at warn ("UDP to NAME HOST:PORT appears blocked; it answers over TCP only") and counted in `swimd_members_tcp_only`, until a UDP ack ends the episode (logged at info).',
    formula: `warning after ≈ udpBlockedAfterProbes × n × probeInterval (each member is probed once per n periods); at most ${UDP_BLOCKED_WARNINGS_PER_MINUTE} such warnings a minute over all members`,
    tradeOff: 'Lower reports a UDP filter sooner; 1 also reports single rounds whose UDP replies were merely lost.',
  },
  {
    key: 'swim.enableCompression',
    field: 'enableCompression',
    kind: 'bool',
    sentence: 'Compresses push/pull state with LZW (compressed input is always accepted).',
    formula: 'applied to stream messages above a small size; datagrams are sent uncompressed',
    tradeOff: 'Saves bytes on large member lists for a little CPU.',
  },
  {
    key: 'limits.maxBroadcasts',
    field: 'maxBroadcasts',
    kind: 'int',
    sentence: 'Bound on the broadcast queue; when full, the most-transmitted updates are dropped first.',
    formula: 'one entry per member at most (a newer update replaces the older)',
    tradeOff: 'Smaller bounds memory; too small drops news in a burst of changes.',
  },
  {
    key: 'limits.maxMembers',
    field: 'maxMembers',
    kind: 'int',
    sentence: 'Bound on the member table, tombstones included; alive messages about new members beyond it are dropped and counted.',
    formula: 'memory ≈ maxMembers × (name + meta + ~200 bytes)',
    tradeOff: 'Protects against a flood of invented members; must exceed the real cluster size.',
  },
  {
    key: 'limits.maxPushPullNodes',
    field: 'maxPushPullNodes',
    kind: 'int',
    sentence: 'Bound on the member entries accepted in one push/pull exchange.',
    formula: 'an exchange announcing more is refused and counted; our own sends stop at the bound',
    tradeOff: 'Must exceed the real cluster size; smaller limits the work one peer can impose.',
  },
  {
    key: 'limits.maxConcurrentPushPulls',
    field: 'maxConcurrentPushPulls',
    kind: 'int',
    sentence: 'Bound on push/pull exchanges served at once; more are refused.',
    formula: 'as memberlist’s limit of 128',
    tradeOff: 'Lower caps memory and CPU under a join storm; joins then retry.',
  },
  {
    key: 'limits.handoffQueueDepth',
    field: 'handoffQueueDepth',
    kind: 'int',
    sentence: 'Bound on each queue between packet receipt and state changes; alive messages have their own queue and go first.',
    formula: 'two queues of this depth',
    tradeOff: 'Smaller bounds memory; too small drops updates in a burst (counted as queue-full).',
  },
  {
    key: 'limits.maxAckHandlers',
    field: 'maxAckHandlers',
    kind: 'int',
    sentence: 'Bound on outstanding probes and indirect probes awaiting an ack.',
    formula: 'each expires after its probe timeout',
    tradeOff: 'Protects against a flood of indirect-probe requests; too small refuses legitimate ones.',
  },
  {
    key: 'limits.maxPacketsPerSource',
    min: 0,
    field: 'maxPacketsPerSource',
    kind: 'int',
    sentence: 'Datagrams per second one source address and port may have processed; the rest are dropped before decoding and counted (`source-rate`); 0 disables the limit.',
    formula: 'per source, per one-second window; a member sends a few per second (probes, acks, gossip)',
    tradeOff: 'Lower sheds a flooding peer sooner; it must stay well above what one real member sends (indirect probes and gossip bursts included).',
  },
  {
    key: 'limits.maxNameBytes',
    field: 'maxNameBytes',
    kind: 'int',
    sentence: 'Longest member name accepted from the network; an alive message with a longer name is refused and counted (`identity-bad-name`).',
    formula: 'UTF-8 bytes; Serf allows 128',
    tradeOff: 'Smaller bounds memory per invented member; must admit every real name.',
  },
  {
    key: 'limits.maxKeys',
    field: 'maxKeys',
    kind: 'int',
    max: 256,
    sentence: 'Most encryption keys the keyring holds; an install beyond it (`swimd keys install`, `/v1/keys` or Serf\'s `serf keys -install`) is refused with `KEYRING_FULL`.',
    formula: 'every key is tried on each undecryptable packet: decrypt cost ≤ maxKeys AES-GCM opens',
    tradeOff: 'Higher allows longer overlapping rotations; each extra key costs a decrypt attempt per packet on a stale key.',
  },
  {
    key: 'limits.memberNamePattern',
    field: 'memberNamePattern',
    kind: 'string',
    sentence: 'A regular expression every member name from the network must match, as Serf\'s node-name validation; empty accepts any printable UTF-8 name.',
    formula: 'applied to alive messages (gossip, push/pull, evidence) before they touch the view',
    tradeOff: 'A strict pattern (e.g. `^[A-Za-z0-9.-]+$`) refuses forged names early; it must admit every real member, Serf agents included.',
  },
];

/**
 * Flap damping's defaults. Four refutations within about 45 s suppress a member
 * (1 + 2^(−15/60) + 2^(−30/60) + 2^(−45/60) ≈ 3.1 > 3), which one restart or a
 * rare stall never reaches; after its last flap a member suppressed at a score
 * just above 3 is eligible again about one minute later (60 s · log2(3.1 / 1.5)),
 * and at most two half-lives later (the score is capped at 2 × suppressAbove).
 */
export const FLAP_DEFAULTS = { penalty: 1, suppressAbove: 3, reuseBelow: 1.5, halfLifeMs: 60_000 } as const;

/** Damping as the daemon runs it by default (the simulator and VOPR use it by this name). */
export const FLAP_ENABLED = { ...FLAP_DEFAULTS, penalty: 1 } as const;

/** Knobs of the partitions section documented in the same table, with one default for every profile. */
export interface PartitionKnobDoc {
  readonly key: string;
  readonly kind: 'duration' | 'number';
  readonly defaultValue: number;
  readonly sentence: string;
  readonly formula: string;
  readonly tradeOff: string;
}

export const PARTITION_KNOB_DOCS: readonly PartitionKnobDoc[] = [
  {
    key: 'partitions.flapPenalty',
    kind: 'number',
    defaultValue: FLAP_DEFAULTS.penalty,
    sentence: 'Flap damping: score this member gives itself each time it refutes an accusation of itself (it was suspected or declared dead and answered); each member scores only itself and states the decision in its tag `swimd-damped`, which every member honours; 0 turns this member\'s own damping off.',
    formula: 'score = Σ penalty · 2^(−age / flapHalfLife) over counted flaps, capped at 2 × flapSuppressAbove',
    tradeOff: 'Higher suppresses after fewer flaps; a heal after a split counts one flap on every member, and when every member is damped they are all primary candidates again.',
  },
  {
    key: 'partitions.flapSuppressAbove',
    kind: 'number',
    defaultValue: FLAP_DEFAULTS.suppressAbove,
    sentence: 'Above this score a member is not eligible for primary (it stays a member and a replica, as when drained).',
    formula: 'with penalty 1: about flapSuppressAbove + 1 flaps within one half-life',
    tradeOff: 'Lower stops a flapping member from taking primaries back sooner; too low suppresses a member after a few ordinary stalls.',
  },
  {
    key: 'partitions.flapReuseBelow',
    kind: 'number',
    defaultValue: FLAP_DEFAULTS.reuseBelow,
    sentence: 'A suppressed member becomes eligible for primary again once its score falls below this (must be below flapSuppressAbove).',
    formula: 'time to reuse after the last flap = flapHalfLife · log2(score / flapReuseBelow)',
    tradeOff: 'Lower keeps a member out longer (more hysteresis); higher returns it sooner and risks another round of moves.',
  },
  {
    key: 'partitions.flapHalfLife',
    kind: 'duration',
    defaultValue: FLAP_DEFAULTS.halfLifeMs,
    sentence: 'The score halves every half-life, on ticks of flapHalfLife / 16 of the wall clock; the score is kept in node.dataDir, so a restarted process carries on from it (a crash loop is damped like a stall loop).',
    formula: 'tick = flapHalfLife / 16; suppression starts with the flap that crosses the threshold',
    tradeOff: 'Longer remembers flaps longer (slower reuse); shorter forgets a slow flapper between flaps.',
  },
];

function formatValue(doc: KnobDoc, cfg: SwimConfig): string {
  const v = cfg[doc.field];
  if (doc.kind === 'duration') return formatDurationMs(v as number);
  if (doc.kind === 'string') return v === '' ? '""' : `\`${String(v)}\``;
  return String(v);
}

/** Defaults under the three profiles, collapsed to one value when they agree. */
export function defaultsOf(doc: KnobDoc): string {
  const values = [lanConfig(), wanConfig(), localConfig()].map((c) => formatValue(doc, c));
  return values.every((v) => v === values[0]) ? values[0]! : values.join(' / ');
}

/** True when a running daemon applies the knob on SIGHUP (LIVE_SWIM_FIELDS); other changes need a restart. */
export function isLive(doc: KnobDoc): boolean {
  return (LIVE_SWIM_FIELDS as readonly string[]).includes(doc.field);
}

/** The README's knob table, in Markdown. */
export function renderKnobTable(): string {
  const rows = KNOB_DOCS.map((d) => `| \`${d.key}\` | ${defaultsOf(d)} | ${isLive(d) ? 'live' : 'restart'} | ${d.sentence} | ${d.formula} | ${d.tradeOff} |`);
  for (const d of PARTITION_KNOB_DOCS) {
    const value = d.kind === 'duration' ? formatDurationMs(d.defaultValue) : String(d.defaultValue);
    rows.push(`| \`${d.key}\` | ${value} | restart | ${d.sentence} | ${d.formula} | ${d.tradeOff} |`);
  }
  return ['| key | lan / wan / local | on SIGHUP | what it does | formula | trade-off |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

/** A daemon-level knob (partitions.*) documented like the protocol knobs; the default is a formula of other keys. */
export interface DaemonKnobDoc {
  readonly key: string;
  readonly defaultText: string;
  readonly sentence: string;
  readonly formula: string;
  readonly tradeOff: string;
}

export const DAEMON_KNOB_DOCS: readonly DaemonKnobDoc[] = [
  {
    key: 'partitions.heartbeatInterval',
    defaultText: '0 (off) / 0 (off) / 100ms',
    sentence: 'Every eligible member sends every other one a heartbeat this often (an ownership datagram of about 20 bytes before framing); one it heard before and has not heard for partitions.heartbeatTimeout is silent on this member: it may not be primary here and does not count for this member\'s quorum. A cut-off primary\'s partitions so move to the majority, and it stops naming itself primary, without waiting for SWIM; a granter grants only if it finds the old primary silent on its own clock too, so one broken link moves nothing, and the epochs fence writes whatever the clocks do. A member that sends none (heartbeats off, an older version) is never judged; above 64 eligible members heartbeats stop and SWIM decides alone; 0 turns them off.',
    formula: 'a cut-off primary\'s partitions are claimed heartbeatTimeout − up to 1 interval after the cut, plus one claim round; each member sends and receives (eligible − 1) / heartbeatInterval datagrams a second',
    tradeOff: 'Shorter moves partitions sooner and costs more datagrams (n² per interval in the cluster); with a timeout of few intervals, loss or a stalled peer moves partitions needlessly (safe, but a failover each time).',
  },
  {
    key: 'partitions.heartbeatTimeout',
    defaultText: '3.5 × heartbeatInterval',
    sentence: 'How long an eligible member may go unheard before it is silent on this member (must exceed heartbeatInterval); a member whose timers run late says by how much in its heartbeats, and is given that much longer plus the judge\'s own lateness (at most 2 × heartbeatTimeout more), and a stall of this member\'s own timers longer than half of the slack restarts everyone\'s clock rather than judging them.',
    formula: 'three heartbeats in a row lost, with half an interval for their phase; false silence under independent loss q needs the claimant and quorum − 1 granters to lose about timeout / interval heartbeats in a row each',
    tradeOff: 'Longer tolerates more loss and longer pauses of peers before moving partitions; shorter fails over sooner.',
  },
  {
    key: 'partitions.disagreementWarnAfter',
    defaultText: '2 × pushPullInterval (1m without push/pull)',
    sentence: 'A peer whose partition-table checksum differs from this member\'s, with both tables at rest (unchanged for 2 × partitions.syncInterval) or with other partition settings, is reported at once; when the disagreement has lasted this long it is also logged at warn, once per episode, with both checksums.',
    formula: 'a given peer is compared about every (n − 1) / 2 push/pull intervals (each member starts one exchange per interval with a random member and answers others)',
    tradeOff: 'Shorter warns sooner; in a large cluster, shorter than a few push/pull intervals may warn of a difference that the next exchange would show healed.',
  },
];

/** The README row of a daemon knob (the partitions table). */
export function renderDaemonKnobRow(d: DaemonKnobDoc): string {
  return `| \`${d.key}\` | ${d.defaultText} | ${d.sentence} Formula: ${d.formula}. Trade-off: ${d.tradeOff} |`;
}
