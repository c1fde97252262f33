// Prometheus metrics (prom-client), read from the core's counters at scrape time
// so the hot path only bumps plain numbers.
import type { SwimNode } from '../core/swim-node.js';
import type { Leadership } from '../partition/leadership.js';
import { Counter, Gauge, Histogram, Registry } from './prom.js';

export interface DaemonMetrics {
  registry: Registry;
  failoverCompute: Histogram<string>;
  partitionChanges: Counter<string>;
  claimRound: Histogram<string>;
}

export function createMetrics(node: SwimNode, leadership: Leadership, transportStats: () => Record<string, number>, watchResyncs: () => number = () => 0, monitorDrops: () => number = () => 0, serfQueries: () => object = () => ({})): DaemonMetrics {
  const registry = new Registry();
  // Prometheus counters that follow the core's plain monotonic numbers: each scrape adds what
  // the number grew by since the last one (prom-client counters cannot be set).
  const counterFrom = (name: string, help: string, read: () => number): void => {
    let last = 0;
    new Counter({ name, help, registers: [registry], collect() {
      const v = read();
      if (v > last) this.inc(v - last);
      last = v;
    } });
  };
  const labelledCounterFrom = (name: string, help: string, label: string, read: () => Iterable<[string, number]>): void => {
    const last = new Map<string, number>();
    new Counter({ name, help, labelNames: [label], registers: [registry], collect() {
      for (const [key, v] of read()) {
        const before = last.get(key) ?? 0;
        if (v > before) this.inc({ [label]: key }, v - before);
        last.set(key, v);
      }
    } });
  };
  const s = node.stats;
  labelledCounterFrom('swimd_serf_queries_total', 'Serf queries and relays received, by outcome (answered, ignored: not a key query, duplicate, filteredOut, malformed, unsent, relayed, relayRefused).', 'outcome', () => Object.entries(serfQueries()) as [string, number][]);
  counterFrom('swimd_monitor_dropped_lines_total', 'Log lines not sent to a monitor stream whose reader was too slow (limits.monitorQueueBytes).', () => monitorDrops());
  counterFrom('swimd_probes_total', 'Direct probes sent.', () => s.probes);
  counterFrom('swimd_acks_total', 'Acks received for our probes.', () => s.acks);
  counterFrom('swimd_nacks_total', 'Nacks received from indirect probers.', () => s.nacks);
  counterFrom('swimd_indirect_probes_total', 'Indirect probe requests sent.', () => s.indirectProbes);
  counterFrom('swimd_failed_probes_total', 'Probes that got no ack by any route; each starts or confirms a suspicion.', () => s.failedProbes);
  counterFrom('swimd_refused_probes_total', "Probes the member's host refused (port unreachable, connection reset): suspicions on the crash fast path.", () => s.refusedProbes);
  counterFrom('swimd_crash_watch_pings_total', 'Crash-watch pings sent to the next member in name order between probe rounds (swim.crashWatchInterval).', () => s.crashWatchPings);
  counterFrom('swimd_crash_watch_refusals_total', "Crash-watch pings the target's host refused; each started a probe round of it at once.", () => s.crashWatchRefusals);
  counterFrom('swimd_crash_watch_silences_total', 'Crash-watch targets that missed three pings in a row; each got a probe round at once.', () => s.crashWatchSilences);
  counterFrom('swimd_suspicions_total', 'Members this node started suspecting.', () => s.suspicions);
  counterFrom('swimd_refutes_total', 'Suspicions of this node it refuted.', () => s.refutes);
  counterFrom('swimd_stale_accusations_total', 'Suspect or dead messages about this node older than its incarnation; each re-announces the current alive.', () => s.staleAccusations);
  counterFrom('swimd_deaths_total', 'Members this node recorded dead.', () => s.deaths);
  counterFrom('swimd_packets_in_total', 'Datagrams received.', () => s.packetsIn);
  counterFrom('swimd_packets_out_total', 'Datagrams sent.', () => s.packetsOut);
  counterFrom('swimd_bytes_in_total', 'Datagram bytes received.', () => s.bytesIn);
  counterFrom('swimd_bytes_out_total', 'Datagram bytes sent.', () => s.bytesOut);
  counterFrom('swimd_push_pulls_total', 'Completed push/pull exchanges.', () => s.pushPulls);
  labelledCounterFrom('swimd_drops_total', 'Input dropped, by reason.', 'reason', () => Object.entries(s.drops));
  counterFrom('swimd_verifications_total', 'Verification pings sent to members heard of only by gossip.', () => s.verifications);
  counterFrom('swimd_address_reverts_total', 'Members moved back to their last verified address after a move there never verified.', () => s.addressReverts);
  counterFrom('swimd_watch_resyncs_total', 'Watch readers too slow to keep up, sent a resync and a fresh snapshot instead of an unbounded queue.', watchResyncs);
  counterFrom('swimd_broadcasts_dropped_total', 'Queued updates dropped because the broadcast queue was full.', () => node.broadcastsDropped());
  new Gauge({ name: 'swimd_members_tcp_only', help: 'Members alive or suspect that answer probes only over TCP (swim.udpBlockedAfterProbes rounds in a row, no UDP ack since): UDP between them and this member looks filtered.', registers: [registry], collect() { this.set(node.tcpOnlyMembers()); } });
  counterFrom('swimd_tcp_only_probes_total', 'Probe rounds answered only by the TCP fallback ping (no UDP ack, direct or relayed).', () => s.tcpOnlyProbes);
  counterFrom('swimd_udp_blocked_warnings_total', '"UDP appears blocked" warnings logged (one per TCP-only episode of a member).', () => s.udpBlockedWarnings);
  counterFrom('swimd_udp_blocked_warnings_suppressed_total', 'TCP-only episodes not logged because the per-minute bound on those warnings was reached.', () => s.udpBlockedWarningsSuppressed);
  new Gauge({ name: 'swimd_health_score', help: 'Lifeguard local health score (0 is healthy).', registers: [registry], collect() { this.set(node.healthScore()); } });
  new Gauge({ name: 'swimd_broadcast_queue_depth', help: 'Updates waiting to be gossiped.', registers: [registry], collect() { this.set(node.broadcastQueueDepth()); } });
  new Gauge({ name: 'swimd_members', help: 'Known members by state.', labelNames: ['state'], registers: [registry], collect() {
    const counts: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const m of node.members()) counts[m.state] = (counts[m.state] ?? 0) + 1;
    for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
  } });
  new Gauge({ name: 'swimd_members_damped', help: 'Live members that advertise that flap damping keeps them from being primary (they stay replicas).', registers: [registry], collect() { this.set(leadership.dampedCount()); } });
  counterFrom('swimd_flaps_total', 'Refutations of accusations of this member, counted by flap damping (each member counts its own).', () => leadership.flapsCounted());
  new Gauge({ name: 'swimd_view_version', help: 'Partition view version: a digest of the member view (not a fencing token).', registers: [registry], collect() { this.set(leadership.snapshot().viewVersion); } });
  new Gauge({ name: 'swimd_partitions_held', help: 'Partitions this member holds a quorum-granted epoch for (is primary of).', registers: [registry], collect() { this.set(leadership.owned(node.name).primary.length); } });
  new Gauge({ name: 'swimd_ownership_quorum', help: '1 while this member sees a quorum of eligible members alive (and no more than 2 × quorum − 1), else 0.', registers: [registry], collect() { this.set(leadership.snapshot().quorum === 'ok' ? 1 : 0); } });
  labelledCounterFrom(
    'swimd_ownership_total',
    'Ownership protocol counters: claims started, commits, grants given and refused, stale votes, deposed holds, failed rounds (and of those, asked again at once: retriedAtOnce), universe-exceeded checks, dropped messages by reason.',
    'counter',
    function* () {
      const st = leadership.ownershipStats();
      if (!st) return;
      for (const [k, v] of Object.entries(st)) if (typeof v === 'number') yield [k, v];
      for (const [reason, n] of Object.entries(st.dropped)) yield [`dropped_${reason}`, n];
    },
  );
  labelledCounterFrom(
    'swimd_heartbeats_total',
    'Heartbeats among eligible members (partitions.heartbeatInterval): sent, received, members found silent, silent members heard again, stalls of this member\'s own timers, heartbeats dropped as malformed or from another address than the member\'s.',
    'counter',
    function* () {
      const st = leadership.heartbeatStats();
      if (!st) return;
      yield* [['sent', st.sent], ['received', st.received], ['silences', st.silences], ['returns', st.returns], ['own_gaps', st.ownGaps], ['dropped_malformed', st.droppedMalformed], ['dropped_address', st.droppedAddress]] as [string, number][];
    },
  );
  new Gauge({ name: 'swimd_members_silent', help: 'Eligible members whose heartbeats stopped reaching this member: not primary here, not counted for quorum.', registers: [registry], collect() { this.set(leadership.heartbeatStats()?.silentNow ?? 0); } });
  labelledCounterFrom('swimd_transport_total', 'Transport counters.', 'counter', () => Object.entries(transportStats()));
  const failoverCompute = new Histogram({ name: 'swimd_failover_compute_seconds', help: 'Time from a member event to the new partition snapshot.', buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05], registers: [registry] });
  const partitionChanges = new Counter({ name: 'swimd_partition_changes_total', help: 'Partitions whose primary or replicas changed.', registers: [registry] });
  counterFrom('swimd_missed_probe_periods_total', 'Protocol periods that started a whole period or more late (an event-loop stall).', () => s.missedProbePeriods);
  const probeLateness = new Histogram({
    name: 'swimd_probe_period_lateness_seconds',
    help: 'How late each protocol period started after it was due; a busy event loop shows here first.',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  node.onProbePeriod((latenessMs) => probeLateness.observe(latenessMs / 1000));
  const claimRound = new Histogram({
    name: 'swimd_ownership_claim_seconds',
    help: 'From a claim for a partition to the quorum of grants that lets this member hold it (the round trip failover adds after detection).',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  return { registry, failoverCompute, partitionChanges, claimRound };
}
