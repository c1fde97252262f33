// A hostile peer on loopback floods one daemon with random bytes and with valid
// pings and alives for a real member carrying random bit flips. The other
// daemons never declare a real member dead; afterwards every daemon's view of
// the real members has their true addresses, and no invented member holds a
// partition. The seed is printed; SWIMD_FLOOD_SEED replays it, SWIMD_FLOOD_S
// sets the flood's length (default 10 s).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { SwimdClient } from '../../src/client/client.js';
import type { WatchLine } from '../../src/api/views.js';
import { SeededRandom } from '../../src/core/prng.js';
import { encodeMessage } from '../../src/wire/codec.js';
import { MessageType } from '../../src/wire/messages.js';
import { PLAINTEXT, sealPacket } from '../../src/wire/packet.js';
import { killAll, waitFor } from '../../harness/procs.js';
import { localCluster } from '../support/local-cluster.js';

after(killAll);
const NAMES = ['fl-a', 'fl-b', 'fl-c'];
const cluster = await localCluster(NAMES, ['profile: lan', 'partitions: { count: 32, replicas: 2, quorum: 2 }', 'log: { level: error }']);
const PORTS = cluster.ports;
const { start } = cluster;
const FLOOD_S = Number(process.env.SWIMD_FLOOD_S ?? 10);
// One hostile peer by default; more source ports (SWIMD_FLOOD_SOURCES) let more of the flood past the per-source limit (limits.maxPacketsPerSource) to the identity checks.
const SOURCES = Number(process.env.SWIMD_FLOOD_SOURCES ?? 1);
const SEED = Number(process.env.SWIMD_FLOOD_SEED ?? Math.floor(Math.random() * 2 ** 31));
const client = (i: number): SwimdClient => cluster.client(i);


const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

function watchLines(i: number): { lines: WatchLine[]; stop: () => void } {
  const ac = new AbortController();
  const lines: WatchLine[] = [];
  void (async () => {
    try {
      for await (const l of client(i).watch(ac.signal)) lines.push(l);
    } catch {
      // closed
    }
  })();
  return { lines, stop: () => ac.abort() };
}

test(`a flood of random and mutated packets at one daemon poisons no view (seed ${SEED}, ${FLOOD_S} s)`, async () => {
  console.log(`# flood seed ${SEED} (replay: SWIMD_FLOOD_SEED=${SEED} node --test dist/test/e2e/flood.test.js)`);
  const procs = NAMES.map((_, i) => start(i));
  await waitFor(async () => {
    for (let i = 0; i < 3; i++) if ((await client(i).partitions()).partitions.some((p) => p.primary === null)) return false;
    return true;
  }, 30_000, 'three members, every partition owned', 200);
  const watchers = [watchLines(1), watchLines(2)];
  const rssBefore = rssMb(procs[0]!.pid!);
  const r = new SeededRandom(SEED);
  const bPort = PORTS[1]!;
  const valid = [
    encodeMessage({ type: MessageType.Ping, body: { seqNo: 1, node: 'fl-a', sourceAddr: Uint8Array.from([127, 0, 0, 1]), sourcePort: bPort, sourceNode: 'fl-b' } }),
    encodeMessage({ type: MessageType.Alive, body: { incarnation: 7, node: 'fl-b', addr: Uint8Array.from([127, 0, 0, 1]), port: bPort, meta: new Uint8Array(0), vsn: Uint8Array.from([1, 5, 2, 2, 5, 4]) } }),
  ];
  const sockets = await Promise.all(Array.from({ length: SOURCES }, async () => {
    const s = createSocket('udp4');
    await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
    return s;
  }));
  let sent = 0;
  const until = Date.now() + FLOOD_S * 1000;
  while (Date.now() < until) {
    const batch: Promise<void>[] = [];
    for (let k = 0; k < 200; k++) {
      let pkt: Uint8Array;
      if (r.next() < 1 / 3) {
        pkt = new Uint8Array(1 + r.int(300));
        r.fill(pkt);
      } else {
        const base = valid[r.int(2)]!;
        const body = base.slice();
        for (let f = 0; f < 3; f++) body[r.int(body.length)]! ^= 1 << r.int(8);
        pkt = sealPacket(body, { crc: false, compress: false, security: PLAINTEXT, random: r });
      }
      batch.push(new Promise((res) => sockets[k % SOURCES]!.send(pkt, PORTS[0]!, '127.0.0.1', () => res())));
      sent++;
    }
    await Promise.all(batch);
  }
  for (const s of sockets) s.close();
  const rssAfter = rssMb(procs[0]!.pid!);
  console.log(`# flood: ${sent} datagrams from ${SOURCES} source ports in ${FLOOD_S} s (${Math.round(sent / FLOOD_S)}/s); fl-a RSS ${rssBefore.toFixed(1)} MB before, ${rssAfter.toFixed(1)} MB after`);
  // The flooded daemon may still be draining its receive buffer: ask until it answers (bounded).
  const drops = await waitFor(() => client(0).metricSamples(), 20_000, 'fl-a answers its API after the flood', 250);
  const refused = [...drops].filter(([k]) => k.startsWith('swimd_drops_total')).map(([k, v]) => `${/reason="([^"]+)"/.exec(k)?.[1]}=${v}`);
  console.log(`# fl-a drops: ${refused.join(' ')}`);
  assert.ok(refused.some((r) => r.startsWith('identity-')), 'forged identities were refused and counted');
  assert.equal(procs[0]!.exitCode, null, 'the flooded daemon is still running');
  // Within 30 s every view of the real members is true again, and no invented member holds a role.
  let last = '';
  await waitFor(async () => {
    last = '';
    for (let i = 0; i < 3; i++) {
      const members = await client(i).members();
      for (let j = 0; j < 3; j++) {
        const m = members.find((x) => x.name === NAMES[j]);
        if (!m || m.state !== 'alive' || m.address !== '127.0.0.1' || m.port !== PORTS[j]) {
          last = `${NAMES[i]} sees ${NAMES[j]} as ${JSON.stringify(m)}`;
          return false;
        }
      }
      const parts = await client(i).partitions();
      const strangers = parts.partitions.flatMap((p) => [p.primary, ...p.replicas]).filter((n) => n !== null && !NAMES.includes(n));
      if (strangers.length > 0) {
        last = `${NAMES[i]} gives roles to ${[...new Set(strangers)].join(', ')}`;
        return false;
      }
      if (parts.partitions.some((p) => p.primary === null)) {
        const real = members.filter((m) => NAMES.includes(m.name)).map((m) => `${m.name}@${m.address}:${m.port}/${m.state}/${m.incarnation}/${m.contacted ? 'reached' : 'unreached'}/${JSON.stringify(m.meta)}`);
        last = `${NAMES[i]} has partitions without a primary (${parts.quorum}, ${parts.liveMembers} live; real members ${real.join(' ')}; ${members.length} known)`;
        return false;
      }
    }
    return true;
  }, 30_000, 'true views and no invented owner within 30 s of the flood', 250).catch((err: Error) => {
    throw new Error(`${err.message}: ${last}`);
  });
  for (const w of watchers) {
    const deaths = w.lines.filter((l) => l.type === 'member' && l.event === 'dead' && NAMES.includes(l.member.name));
    if (deaths.length > 0) console.log(`# deaths seen: ${deaths.map((l) => JSON.stringify(l)).join(' ')}`);
    assert.deepEqual(deaths.map((l) => (l.type === 'member' ? l.member.name : '')), [], 'the other daemons never declared a real member dead');
    w.stop();
  }
});
