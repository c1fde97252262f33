// How a daemon turns a member event into what it publishes: the member line,
// placement and ownership, then one partitions line carrying only the
// partitions that changed. The daemon and the failover bench wire the same code.
import type { Logger } from 'pino';
import type { MemberEvent } from '../core/member-types.js';
import type { Leadership } from '../partition/leadership.js';
import { memberView, PartitionsLineWriter } from '../api/views.js';
import { CompactPartitionsLineWriter } from '../api/compact.js';
import type { WatchHub } from '../api/watch.js';
import type { DaemonMetrics } from './metrics.js';

export interface EventSource {
  on(listener: (ev: MemberEvent) => void): () => void;
}

/**
 * `later` runs what only reports a change (log lines, watch lines, metrics) after the protocol
 * work of the turn, in order (AfterTurn.later in the daemon); by default it runs at once.
 */
export function wireEventPipeline(
  node: EventSource,
  leadership: Leadership,
  watch: WatchHub,
  log: Logger,
  metrics: Pick<DaemonMetrics, 'partitionChanges' | 'failoverCompute'>,
  later: (fn: () => void) => void = (fn) => fn(),
): () => void {
  const lines = new PartitionsLineWriter();
  const compactLines = new CompactPartitionsLineWriter();
  const offLeadership = leadership.on((_snap, diff) => {
    // The diff reads its own immutable table, so it may be written out after the turn.
    later(() => {
      if (diff.count > 0) {
        metrics.partitionChanges.inc(diff.count);
        log.info({ changed: diff.count, quorum: diff.quorum }, 'partitions changed');
      }
      if (watch.hasWatchers()) watch.publishPartitions(() => lines.write(diff), () => compactLines.write(diff));
    });
  });
  const offNode = node.on((ev) => {
    // The member line is queued before leadership runs, so it is published before the partitions line it causes.
    later(() => {
      log.info({ event: ev.kind, member: ev.member.name, incarnation: ev.member.incarnation }, `member ${ev.kind}`);
      watch.publish({ type: 'member', event: ev.kind, member: memberView(ev.member) });
    });
    const t0 = performance.now();
    leadership.applyEvent(ev);
    const computeMs = performance.now() - t0;
    later(() => metrics.failoverCompute.observe(computeMs / 1000));
  });
  return () => {
    offLeadership();
    offNode();
  };
}
