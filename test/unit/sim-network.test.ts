// The simulator's streams see the same faults as its datagrams: loss (which
// the caller sees as a timeout), delay and partitions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Address } from '../../src/base/env.js';
import { SeededRandom } from '../../src/core/prng.js';
import { MemberScheduler } from '../../src/sim/member-scheduler.js';
import { SimNetwork } from '../../src/sim/network.js';
import { VirtualScheduler } from '../../src/sim/virtual-scheduler.js';

const A: Address = { host: '10.0.0.1', port: 7946 };
const B: Address = { host: '10.0.0.2', port: 7946 };
const TIMEOUT_MS = 1_000;

function twoHosts(seed: number) {
  const clock = new VirtualScheduler();
  const net = new SimNetwork(clock, new SeededRandom(seed));
  const a = net.attach(A, new MemberScheduler(clock));
  const b = net.attach(B, new MemberScheduler(clock));
  let served = 0;
  b.streams.onRequest((_from, req, reply) => {
    served++;
    reply(req);
  });
  /** Sends `n` requests from A to B; returns how each ended and when. */
  const exchange = (n: number) => {
    const results: { err: string | null; tookMs: number }[] = [];
    for (let i = 0; i < n; i++) {
      const startMs = clock.nowMs();
      a.streams.request(B, Uint8Array.from([i & 255]), true, TIMEOUT_MS, (err) => results.push({ err: err?.message ?? null, tookMs: clock.nowMs() - startMs }));
    }
    clock.advance(TIMEOUT_MS + 100);
    assert.equal(results.length, n, 'every request ends exactly once');
    return results;
  };
  return { clock, net, exchange, served: () => served };
}

test('streams: a lost request or reply ends in a timeout, at about the link loss rate per leg', () => {
  const h = twoHosts(7);
  h.net.setDefaultLink({ loss: 1 });
  const allLost = h.exchange(20);
  assert.ok(allLost.every((r) => r.err === 'stream timeout' && r.tookMs >= TIMEOUT_MS), 'total loss: every request times out');
  assert.equal(h.served(), 0, 'a lost request never reaches the other side');

  h.net.setDefaultLink({ loss: 0.2 });
  const n = 2_000;
  const results = h.exchange(n);
  const failed = results.filter((r) => r.err !== null);
  assert.ok(failed.every((r) => r.err === 'stream timeout'));
  // Either leg may be lost: 1 − 0.8² = 36 % fail.
  const share = failed.length / n;
  assert.ok(share > 0.3 && share < 0.42, `failed share ${share}`);
  assert.ok(h.net.stats.lost > 0, 'stream losses are counted with the datagram ones');
});

test('streams: a reply takes the link delay both ways, and a partition looks like a timeout', () => {
  const h = twoHosts(8);
  h.net.setDefaultLink({ delayMs: 50, jitterMs: 0 });
  const [ok] = h.exchange(1);
  assert.equal(ok!.err, null);
  assert.ok(ok!.tookMs >= 100, `round trip ${ok!.tookMs} ms over a 50 ms link`);

  h.net.block([B], [A]);
  const [oneWay] = h.exchange(1);
  assert.equal(oneWay!.err, 'stream timeout', 'the reply cannot come back');
});
