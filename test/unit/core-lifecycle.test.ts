// Timers, live timing updates and the piggyback budget, in virtual time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lanConfig } from '../../src/config/presets.js';
import type { SwimConfig } from '../../src/base/swim-config.js';
import type { Address } from '../../src/base/env.js';
import { SeededRandom } from '../../src/core/prng.js';
import { SwimNode } from '../../src/core/swim-node.js';
import { retransmitLimit } from '../../src/core/timing.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { VirtualScheduler } from '../../src/sim/virtual-scheduler.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { MessageType } from '../../src/wire/messages.js';
import { PLAINTEXT, openPacket, sealPacket } from '../../src/wire/packet.js';

const pushPullCount = (c: SimCluster): number => c.members.reduce((sum, m) => sum + m.node.stats.pushPulls, 0);

function settledCluster(config: SwimConfig, size: number, seed: number): SimCluster {
  const c = new SimCluster({ seed, size, config });
  c.startAll();
  c.joinAll();
  c.runUntil(() => c.converged(), 30_000, 100, 'convergence');
  return c;
}

test('a node with push/pull disabled (interval 0) shuts down cleanly, and every timer stops', () => {
  const c = settledCluster({ ...lanConfig(), pushPullIntervalMs: 0 }, 3, 21);
  const node = c.member('m1').node;
  const probesBefore = node.stats.probePeriods;
  assert.doesNotThrow(() => node.shutdown());
  c.run(10_000);
  assert.equal(node.stats.probePeriods, probesBefore, 'no protocol period runs after shutdown');
});

test('a live timing update that turns push/pull on starts it, and one that turns it off stops it', () => {
  const c = settledCluster({ ...lanConfig(), pushPullIntervalMs: 0 }, 3, 22);
  const atStart = pushPullCount(c);
  c.run(60_000);
  assert.equal(pushPullCount(c), atStart, 'disabled: no periodic push/pull (only the joins exchanged state)');

  for (const m of c.members) m.node.updateTiming({ pushPullIntervalMs: 5_000 });
  c.run(30_000);
  const afterOn = pushPullCount(c);
  // Three members each exchanging every 5 s (either role counts) for 30 s: well over a dozen.
  assert.ok(afterOn - atStart >= 12, `push/pull ran ${afterOn - atStart} times in 30 s at a 5 s interval`);

  for (const m of c.members) m.node.updateTiming({ pushPullIntervalMs: 0 });
  c.run(1_000); // an exchange already in flight may still finish
  const afterOff = pushPullCount(c);
  c.run(60_000);
  assert.equal(pushPullCount(c) - afterOff, 0, 'turned off again: no more periodic push/pull');
});

test('a live timing update of the push/pull interval re-arms its timer at the new interval', () => {
  const c = settledCluster({ ...lanConfig(), pushPullIntervalMs: 600_000 }, 3, 23);
  c.run(60_000); // past the start-up ramp
  const before = pushPullCount(c);
  for (const m of c.members) m.node.updateTiming({ pushPullIntervalMs: 2_000 });
  c.run(20_000);
  assert.ok(pushPullCount(c) - before >= 12, `the new 2 s interval applies at once (${pushPullCount(c) - before} exchanges in 20 s)`);
});

for (const path of ['piggyback on acks', 'gossip'] as const) {
  test(`with a large UDP buffer, every broadcast counted as transmitted is in a datagram that was sent (${path})`, () => {
    const scheduler = new VirtualScheduler();
    const random = new SeededRandom(31);
    const sent: Uint8Array[] = [];
    let deliver: ((from: Address, data: Uint8Array, at: number) => void) | null = null;
    const hour = 3_600_000;
    // No probes: the only traffic is the acks this test asks for, or gossip.
    const gossipIntervalMs = path === 'gossip' ? 200 : hour;
    const config: SwimConfig = { ...lanConfig(), udpBufferSize: 65_000, probeIntervalMs: hour, gossipIntervalMs, pushPullIntervalMs: 0, reconnectIntervalMs: 0 };
    const node = new SwimNode({
      name: 'big',
      advertise: { host: '10.0.0.1', port: 7946 },
      config,
      env: {
        scheduler,
        random: random.fork(),
        packets: { sendPacket: (_to, data) => sent.push(data.slice()), onPacket: (h) => { deliver = h; } },
        streams: { request: (_to, _req, _expect, _timeout, done) => done(new Error('no streams here'), null), onRequest: () => {} },
      },
    });
    node.start();
    // 600 members learnt at once: 600 alive broadcasts of about 50 bytes, far more than the 255 parts a compound holds.
    const count = 600;
    const names = Array.from({ length: count }, (_, i) => `member-${String(i).padStart(4, '0')}`);
    node.mergeEvidence(
      names.map((name, i) =>
        encodeMessage({ type: MessageType.Alive, body: { incarnation: 1, node: name, addr: Uint8Array.from([10, 1, (i >> 8) & 255, i & 255]), port: 7946, meta: new Uint8Array(0), vsn: Uint8Array.from([1, 5, 2, 2, 5, 4]) } }),
      ),
    );
    assert.ok(node.broadcastQueueDepth() >= count);
    const limit = retransmitLimit(config.retransmitMult, count + 1);
    const pinger: Address = { host: '10.9.9.9', port: 7946 };
    // Each ping is answered by an ack carrying as many broadcasts as fit; gossip sends on its own. Stop once the queue is empty.
    for (let seq = 1; seq <= 10_000 && node.broadcastQueueDepth() > 0; seq++) {
      if (path === 'gossip') {
        scheduler.advance(gossipIntervalMs);
        continue;
      }
      const ping = encodeMessage({ type: MessageType.Ping, body: { seqNo: seq, node: 'big', sourceAddr: Uint8Array.from([10, 9, 9, 9]), sourcePort: 7946, sourceNode: 'pinger' } });
      deliver!(pinger, sealPacket(ping, { crc: false, compress: false, security: PLAINTEXT, random }), scheduler.nowMs());
      scheduler.advance(1);
    }
    assert.equal(node.broadcastQueueDepth(), 0, 'every broadcast retired');
    const seen = new Map<string, number>();
    for (const data of sent) {
      const opened = openPacket(data, PLAINTEXT);
      assert.ok(opened.ok, 'every datagram sent is well formed');
      for (const msg of opened.value.messages) if (msg.type === MessageType.Alive) seen.set(msg.body.node, (seen.get(msg.body.node) ?? 0) + 1);
    }
    const short = names.filter((n) => seen.get(n) !== limit);
    assert.deepEqual(short.slice(0, 5), [], `${short.length} of ${count} broadcasts were retired without being sent ${limit} times`);
    for (const data of sent) assert.ok(data.length <= config.udpBufferSize, `a datagram of ${data.length} bytes`);
  });
}

test('gossip: an idle member keeps no gossip timer armed, and a broadcast queued later goes out on the same grid of ticks', () => {
  const scheduler = new VirtualScheduler();
  const hour = 3_600_000;
  const gossipIntervalMs = 200;
  const config: SwimConfig = { ...lanConfig(), probeIntervalMs: hour, gossipIntervalMs, pushPullIntervalMs: 0, reconnectIntervalMs: 0, crashWatchIntervalMs: 0 };
  // Datagrams that carry broadcasts only (no ping or ack of the address check), with the time they left.
  const gossipAt: { at: number; names: string[] }[] = [];
  const node = new SwimNode({
    name: 'a',
    advertise: { host: '10.0.0.1', port: 7946 },
    config,
    env: {
      scheduler,
      random: new SeededRandom(7),
      packets: {
        sendPacket: (_to, data) => {
          const opened = openPacket(data, PLAINTEXT);
          assert.ok(opened.ok);
          const msgs = opened.value.messages;
          if (msgs.length > 0 && msgs.every((m) => m.type === MessageType.Alive)) gossipAt.push({ at: scheduler.nowMs(), names: msgs.map((m) => (m.type === MessageType.Alive ? m.body.node : '')) });
        },
        onPacket: () => {},
      },
      streams: { request: (_to, _req, _expect, _timeout, done) => done(new Error('no streams here'), null), onRequest: () => {} },
    },
  });
  node.start();
  const learn = (name: string, last: number): void => node.mergeEvidence([encodeMessage({ type: MessageType.Alive, body: { incarnation: 1, node: name, addr: Uint8Array.from([10, 0, 0, last]), port: 7946, meta: new Uint8Array(0), vsn: Uint8Array.from([1, 5, 2, 2, 5, 4]) } })]);
  learn('b', 2);
  scheduler.advance(30_000);
  assert.equal(node.broadcastQueueDepth(), 0, 'the queue drained');
  assert.ok(gossipAt.length >= 2, `gossip sent (${gossipAt.length} datagrams)`);
  const phase = gossipAt[0]!.at % gossipIntervalMs;
  for (const g of gossipAt) assert.equal(g.at % gossipIntervalMs, phase, 'ticks on one grid');
  // Idle: ten seconds in which the always-armed timer would have run 50 times.
  assert.equal(scheduler.advance(10_000), 0, 'no timer runs while nothing is queued');
  // Off the grid: a new broadcast (a member heard of) waits for the next tick of the same grid.
  scheduler.advance(37);
  const queuedAt = scheduler.nowMs();
  const sentBefore = gossipAt.length;
  learn('c', 3);
  assert.equal(node.broadcastQueueDepth(), 1);
  scheduler.advance(gossipIntervalMs);
  const next = gossipAt.slice(sentBefore);
  assert.equal(next.length, 1, 'one gossip datagram within one interval');
  assert.deepEqual(next[0]!.names, ['c']);
  assert.equal(next[0]!.at % gossipIntervalMs, phase, 'on the grid of the earlier ticks');
  assert.ok(next[0]!.at > queuedAt && next[0]!.at - queuedAt < gossipIntervalMs, `sent ${next[0]!.at - queuedAt} ms after it was queued`);
});
