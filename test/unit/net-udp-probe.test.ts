// UdpTransport.sendProbe over loopback: a datagram to a port nothing listens on
// comes back refused (ICMP port unreachable on a connected socket); one to a
// listening port is delivered and reports nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { UdpTransport } from '../../src/net/udp-transport.js';

const now = (): number => performance.now();

async function closedPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('sendProbe reports a refusal from a closed port and stays quiet for a listening one', async () => {
  const a = await UdpTransport.open({ bind: { host: '127.0.0.1', port: 0 }, maxPacketBytes: 1400, now });
  const b = await UdpTransport.open({ bind: { host: '127.0.0.1', port: 0 }, maxPacketBytes: 1400, now });
  try {
    const dead = await closedPort();
    const refused = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 2000);
      a.sendProbe({ host: '127.0.0.1', port: dead }, new Uint8Array([1, 2, 3]), 1000, () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    assert.equal(refused, true, 'a closed port is refused');
    assert.equal(a.counters.refused, 1);

    const got = new Promise<Uint8Array>((resolve) => b.onPacket((_from, data) => resolve(data)));
    let falseRefusal = false;
    a.sendProbe(b.address(), new Uint8Array([9, 8, 7]), 300, () => {
      falseRefusal = true;
    });
    assert.deepEqual([...(await got)], [9, 8, 7], 'the probe datagram is delivered');
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(falseRefusal, false, 'a listening port is not refused');
    assert.equal(a.counters.refused, 1);
    assert.equal(a.openProbeSockets(), 1, 'the refused socket was closed; the listening peer keeps its own');

    // Later probes of the same peer go out on the socket already connected to it.
    const opened = a.counters.probeSockets;
    const three: number[] = [];
    const allThree = new Promise<void>((resolve) => b.onPacket((_from, data) => {
      three.push(data[0]!);
      if (three.length === 3) resolve();
    }));
    for (const v of [4, 5, 6]) a.sendProbe(b.address(), new Uint8Array([v]), 300, () => assert.fail('not refused'));
    await allThree;
    assert.deepEqual(three.sort(), [4, 5, 6]);
    assert.equal(a.counters.probeSockets, opened, 'no new socket for a peer probed before');
    assert.equal(a.openProbeSockets(), 1);

    // The peer goes away: the socket kept for it reports the refusal of the next probe.
    const bPort = b.address().port;
    await b.close();
    const refusedLater = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 2000);
      a.sendProbe({ host: '127.0.0.1', port: bPort }, new Uint8Array([1]), 1000, () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    assert.equal(refusedLater, true, 'a peer that stopped listening is refused');
    assert.equal(a.counters.probeSockets, opened, 'on the socket kept for it');
    assert.equal(a.counters.refused, 2);
    assert.equal(a.openProbeSockets(), 0);
  } finally {
    await a.close();
    await b.close().catch(() => {});
  }
});
