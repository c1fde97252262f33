// Small deterministic clusters (3 nodes) over an in-test lossless network shim in
// virtual time: join, probe/ack, crash → suspect → dead, leave → left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SwimNode } from '../../src/core/swim-node.js';
import { SeededRandom } from '../../src/core/prng.js';
import { VirtualScheduler } from '../../src/sim/virtual-scheduler.js';
import { lanConfig } from '../../src/config/presets.js';
import type { Address, CoreEnv } from '../../src/base/env.js';
import type { MemberEvent } from '../../src/core/member-types.js';
import { PLAINTEXT, openPacket, sealPacket } from '../../src/wire/packet.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { MessageType, type Message } from '../../src/wire/messages.js';

const LINK_DELAY_MS = 1;

interface Endpoint {
  packet?: (from: Address, data: Uint8Array, at: number) => void;
  stream?: (from: Address, req: Uint8Array, reply: (d: Uint8Array | null) => void) => void;
  down: boolean;
}

function makeCluster(count: number, seed: number) {
  const scheduler = new VirtualScheduler();
  const root = new SeededRandom(seed);
  const endpoints = new Map<string, Endpoint>();
  const key = (a: Address) => `${a.host}:${a.port}`;
  const nodes: SwimNode[] = [];
  const events = new Map<string, MemberEvent[]>();
  /** Every datagram sent, for tests that check what went where. */
  const sent: { from: Address; to: Address; data: Uint8Array }[] = [];
  for (let i = 0; i < count; i++) {
    const self: Address = { host: `127.0.0.${i + 1}`, port: 7946 };
    const ep: Endpoint = { down: false };
    endpoints.set(key(self), ep);
    const env: CoreEnv = {
      scheduler,
      random: root.fork(),
      packets: {
        sendPacket(to, data) {
          if (ep.down) return;
          const copy = data.slice();
          sent.push({ from: self, to, data: copy });
          scheduler.setTimer(LINK_DELAY_MS, () => {
            const dst = endpoints.get(key(to));
            if (dst && !dst.down && dst.packet) dst.packet(self, copy, scheduler.nowMs());
          });
        },
        onPacket(h) { ep.packet = h; },
      },
      streams: {
        request(to, req, expectReply, timeoutMs, done) {
          const copy = req.slice();
          let finished = false;
          const finish = (err: Error | null, reply: Uint8Array | null) => {
            if (finished) return;
            finished = true;
            done(err, reply);
          };
          const timer = scheduler.setTimer(timeoutMs, () => finish(new Error('timeout'), null));
          scheduler.setTimer(LINK_DELAY_MS, () => {
            const dst = endpoints.get(key(to));
            if (ep.down || !dst || dst.down || !dst.stream) return; // looks like a timeout
            dst.stream(self, copy, (reply) => {
              scheduler.setTimer(LINK_DELAY_MS, () => {
                timer.cancel();
                if (expectReply && reply === null) finish(new Error('closed'), null);
                else finish(null, reply ?? new Uint8Array(0));
              });
            });
          });
        },
        onRequest(h) { ep.stream = h; },
      },
    };
    const node = new SwimNode({ name: `n${i}`, advertise: self, config: lanConfig(), env });
    const log: MemberEvent[] = [];
    events.set(node.name, log);
    node.on((ev) => log.push(ev));
    nodes.push(node);
  }
  const crash = (i: number) => {
    endpoints.get(key({ host: `127.0.0.${i + 1}`, port: 7946 }))!.down = true;
    nodes[i]!.shutdown();
  };
  const addressOf = (i: number): Address => ({ host: `127.0.0.${i + 1}`, port: 7946 });
  /** Delivers one message to node `to` as if node `from` had sent it. */
  const inject = (to: number, from: number, msg: Message) => {
    const data = sealPacket(encodeMessage(msg), { crc: false, compress: false, security: PLAINTEXT, random: root.fork() });
    endpoints.get(key(addressOf(to)))!.packet!(addressOf(from), data, scheduler.nowMs());
  };
  /** Messages in the datagrams node `from` sent node `to` since `sinceIndex` in `sent`. */
  const messagesSent = (from: number, to: number, sinceIndex: number): Message[] =>
    sent.slice(sinceIndex).filter((p) => key(p.from) === key(addressOf(from)) && key(p.to) === key(addressOf(to))).flatMap((p) => {
      const opened = openPacket(p.data, PLAINTEXT);
      return opened.ok ? opened.value.messages : [];
    });
  return { scheduler, nodes, events, crash, sent, inject, messagesSent, seedAddress: { host: '127.0.0.1', port: 7946 } as Address };
}

function joinAll(c: ReturnType<typeof makeCluster>): void {
  for (const n of c.nodes) n.start();
  let answered = 0;
  for (const n of c.nodes.slice(1)) {
    n.join([c.seedAddress], (err, contacted) => {
      assert.equal(err, null);
      assert.equal(contacted, 1);
      answered++;
    });
  }
  c.scheduler.advance(5_000);
  assert.equal(answered, c.nodes.length - 1);
}

test('three nodes join through one seed and all see each other alive', () => {
  const c = makeCluster(3, 11);
  joinAll(c);
  for (const n of c.nodes) {
    assert.equal(n.aliveCount(), 3, `${n.name} sees ${n.aliveCount()} alive`);
    const names = c.events.get(n.name)!.filter((e) => e.kind === 'join').map((e) => e.member.name).sort();
    assert.ok(names.length >= 2, `${n.name} emitted join events for its peers`);
    for (const m of n.members()) assert.equal(m.contacted, true, `${n.name} has reached ${m.name} itself (push/pull, verification ping or probe)`);
  }
});

test('probes are acknowledged in a healthy cluster and nobody is suspected', () => {
  const c = makeCluster(3, 12);
  joinAll(c);
  c.scheduler.advance(20_000);
  for (const n of c.nodes) {
    assert.ok(n.stats.probes >= 15, `${n.name} probed ${n.stats.probes} times in ~25 s`);
    assert.ok(n.stats.acks >= n.stats.probes - 1, `${n.name}: ${n.stats.acks} acks for ${n.stats.probes} probes`);
    assert.equal(n.stats.suspicions, 0);
    assert.equal(n.healthScore(), 0);
    assert.equal(c.events.get(n.name)!.filter((e) => e.kind === 'suspect').length, 0);
  }
});

test('a crashed node is suspected, then declared dead by the survivors', () => {
  const c = makeCluster(3, 13);
  joinAll(c);
  c.crash(2);
  // n=3 with LAN: k = suspicionMult − 2 = 2 but n − 2 = 1 < k, so k = 0 and the
  // timeout is the minimum: 4 × max(1, log10(3)) × 1 s = 4 s; plus probe round time.
  c.scheduler.advance(30_000);
  for (const n of c.nodes.slice(0, 2)) {
    assert.equal(n.member('n2')?.state, 'dead', `${n.name} sees n2 as ${n.member('n2')?.state}`);
    const kinds = c.events.get(n.name)!.filter((e) => e.member.name === 'n2').map((e) => e.kind);
    assert.ok(kinds.includes('dead'), `${n.name} events about n2: ${kinds.join(',')}`);
    // Either this node suspected n2 itself first, or it learnt the death from the other survivor.
    const suspectAt = kinds.indexOf('suspect');
    assert.ok(suspectAt === -1 || suspectAt < kinds.indexOf('dead'), kinds.join(','));
    assert.equal(n.aliveCount(), 2);
  }
  assert.ok(c.nodes[0]!.stats.suspicions + c.nodes[1]!.stats.suspicions >= 1, 'someone suspected n2 first');
});

test('a graceful leave is seen as left, not dead, and done runs after the propagate delay', () => {
  const c = makeCluster(3, 14);
  joinAll(c);
  const startMs = c.scheduler.nowMs();
  let doneAtMs = -1;
  c.nodes[1]!.leave(() => { doneAtMs = c.scheduler.nowMs(); });
  c.scheduler.advance(3_000);
  assert.ok(doneAtMs - startMs >= lanConfig().leavePropagateDelayMs, `leave done after ${doneAtMs - startMs} ms`);
  for (const i of [0, 2]) {
    const n = c.nodes[i]!;
    assert.equal(n.member('n1')?.state, 'left', `${n.name} sees n1 as ${n.member('n1')?.state}`);
    const kinds = c.events.get(n.name)!.filter((e) => e.member.name === 'n1').map((e) => e.kind);
    assert.ok(kinds.includes('left') && !kinds.includes('dead'), kinds.join(','));
  }
});

test('a stale accusation is answered: the accuser is sent the alive the receiver holds, and the accused re-announces itself', () => {
  const c = makeCluster(3, 15);
  joinAll(c);
  c.nodes[2]!.setMeta(new Uint8Array([1]));
  c.scheduler.advance(5_000);
  for (const n of c.nodes) assert.equal(n.member('n2')?.incarnation, 2, `${n.name} holds n2's new incarnation`);
  const aliveAboutN2 = (msgs: Message[]) => msgs.filter((m) => m.type === MessageType.Alive && m.body.node === 'n2' && m.body.incarnation === 2);

  // n1 missed the update and still suspects n2 at incarnation 1; a bystander corrects it.
  let mark = c.sent.length;
  c.inject(0, 1, { type: MessageType.Suspect, body: { incarnation: 1, node: 'n2', from: 'n1' } });
  c.scheduler.advance(5);
  assert.equal(c.nodes[0]!.member('n2')?.state, 'alive', 'the stale suspicion changes nothing');
  assert.equal(c.nodes[0]!.stats.suspicions, 0);
  assert.equal(aliveAboutN2(c.messagesSent(0, 1, mark)).length, 1, 'n0 sends n1 the alive it holds about n2');

  // The accused itself: no new incarnation, a direct answer and one re-announcement.
  mark = c.sent.length;
  const answersBefore = c.nodes[2]!.stats.staleAnswers;
  c.inject(2, 1, { type: MessageType.Dead, body: { incarnation: 1, node: 'n2', from: 'n1' } });
  c.inject(2, 1, { type: MessageType.Dead, body: { incarnation: 1, node: 'n2', from: 'n1' } });
  c.scheduler.advance(5);
  assert.equal(c.nodes[2]!.member('n2')?.incarnation, 2, 'no refutation is needed');
  assert.equal(c.nodes[2]!.stats.refutes, 0);
  assert.equal(c.nodes[2]!.stats.staleAccusations, 2);
  // Gossip may carry the re-announcement to n1 in the same window too; the direct answers are counted apart.
  assert.equal(c.nodes[2]!.stats.staleAnswers - answersBefore, 1, 'one direct answer per accuser and probe interval');
  assert.ok(aliveAboutN2(c.messagesSent(2, 1, mark)).length >= 1, 'and it reached n1');
  c.scheduler.advance(1_000);
  const gossiped = [0, 1].flatMap((to) => aliveAboutN2(c.messagesSent(2, to, mark)));
  assert.ok(gossiped.length >= 2, `the re-announcement is gossiped too (${gossiped.length} copies)`);
});

test('user messages reach the delegate, other payloads are counted as ignored, and evidence merges a death at once', () => {
  const c = makeCluster(3, 15);
  joinAll(c);
  const got: string[] = [];
  c.nodes[1]!.onUserMessage((from, payload) => {
    if (payload[0] !== 0xf5) return false;
    got.push(`${from.host}:${Buffer.from(payload.subarray(1)).toString()}`);
    return true;
  });
  const ignoredBefore = c.nodes[1]!.stats.drops['user-message-ignored'] ?? 0;
  assert.equal(c.nodes[0]!.sendUserMessage({ host: '127.0.0.2', port: 7946 }, Uint8Array.from([0xf5, 0x68, 0x69])), true);
  assert.equal(c.nodes[0]!.sendUserMessage({ host: '127.0.0.2', port: 7946 }, Uint8Array.from([0x03, 0x00])), true);
  assert.equal(c.nodes[0]!.sendUserMessage({ host: '127.0.0.2', port: 7946 }, new Uint8Array(c.nodes[0]!.userMessageBudgetBytes() + 1)), false, 'an oversized payload is refused, not cut');
  c.scheduler.advance(10);
  assert.deepEqual(got, ['127.0.0.1:hi']);
  assert.equal((c.nodes[1]!.stats.drops['user-message-ignored'] ?? 0) - ignoredBefore, 1);
  // n0 learns n2 died; its evidence makes n1 see the death immediately, with no gossip round.
  c.crash(2);
  const inc = c.nodes[0]!.member('n2')!.incarnation;
  c.nodes[0]!.mergeEvidence(c.nodes[0]!.evidenceOf(['n2']).map(() => encodeMessage({ type: MessageType.Dead, body: { incarnation: inc, node: 'n2', from: 'n0' } })));
  assert.equal(c.nodes[0]!.member('n2')!.state, 'dead');
  const evidence = c.nodes[0]!.evidenceOf(['n2', 'no-such-member']);
  assert.equal(evidence.length, 1);
  assert.equal(c.nodes[1]!.member('n2')!.state, 'alive');
  c.nodes[1]!.mergeEvidence(evidence);
  assert.equal(c.nodes[1]!.member('n2')!.state, 'dead');
  // Stale evidence (an older incarnation) changes nothing.
  const n0alive = c.nodes[1]!.member('n0')!;
  c.nodes[1]!.mergeEvidence([encodeMessage({ type: MessageType.Dead, body: { incarnation: n0alive.incarnation - 1, node: 'n0', from: 'n2' } })]);
  assert.equal(c.nodes[1]!.member('n0')!.state, 'alive');
});

test('several user-message delegates: each payload goes to the first that claims it; one nobody claims is counted; an unsubscribed delegate is not asked', () => {
  const c = makeCluster(2, 16);
  joinAll(c);
  const first: number[] = [];
  const second: number[] = [];
  const offFirst = c.nodes[1]!.onUserMessage((_from, p) => (p[0] === 0xf5 ? (first.push(p[1]!), true) : false));
  c.nodes[1]!.onUserMessage((_from, p) => (p[0] === 0x00 ? (second.push(p[1]!), true) : false));
  const ignored = (): number => c.nodes[1]!.stats.drops['user-message-ignored'] ?? 0;
  const before = ignored();
  const send = (bytes: number[]): void => void c.nodes[0]!.sendUserMessage({ host: '127.0.0.2', port: 7946 }, Uint8Array.from(bytes));
  send([0xf5, 1]);
  send([0x00, 2]);
  send([0x07, 3]);
  c.scheduler.advance(10);
  assert.deepEqual([first, second, ignored() - before], [[1], [2], 1]);
  offFirst();
  send([0xf5, 4]);
  send([0x00, 5]);
  c.scheduler.advance(10);
  assert.deepEqual([first, second, ignored() - before], [[1], [2, 5], 2]);
});
