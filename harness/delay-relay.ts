// A delaying relay in front of one test host's daemon. This kernel has no netem,
// so delay and jitter are added in user space: the daemon binds a private port
// and advertises the relay's, every datagram sent to the host waits
// delay + uniform[0, jitter) ms here before it is forwarded (jitter reorders, as
// netem does); TCP (push/pull, fallback pings) into the host is delayed the
// same way, in order.
// swimd answers at the source address carried inside pings, so replies come
// back through the peer's relay and are delayed there.
//
// Run inside the host's namespace:
//   node delay-relay.js <ip> <listenPort> <targetPort> <maxInFlight>
// Commands on stdin, one per line: `delay <ms> <jitterMs>`, `stats`.
// Prints `ready` once listening and `stats <forwarded> <dropped> <inFlight>`.
import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import { createInterface } from 'node:readline';

const [ip = '127.0.0.1', listenPortArg = '7946', targetPortArg = '7947', maxInFlightArg = '4096'] = process.argv.slice(2);
const listenPort = Number(listenPortArg);
const targetPort = Number(targetPortArg);
const maxInFlight = Number(maxInFlightArg);

let delayMs = 0;
let jitterMs = 0;
let forwarded = 0;
let dropped = 0;
let inFlight = 0;

const inbound = createSocket('udp4');
const outbound = createSocket('udp4');
inbound.on('message', (msg) => {
  if (inFlight >= maxInFlight) {
    dropped++;
    return;
  }
  const wait = delayMs + (jitterMs > 0 ? Math.random() * jitterMs : 0);
  const forward = (): void => {
    inFlight--;
    forwarded++;
    outbound.send(msg, targetPort, ip);
  };
  inFlight++;
  if (wait <= 0) forward();
  else setTimeout(forward, wait);
});

const tcp = createServer({ allowHalfOpen: true }, (client) => {
  const upstream = connect(targetPort, ip);
  // Bytes into the host wait like datagrams do, in order (a chunk never
  // overtakes the one before it); bytes out of the host pass at once.
  let releaseAtMs = 0;
  client.on('data', (chunk) => {
    const wait = delayMs + (jitterMs > 0 ? Math.random() * jitterMs : 0);
    releaseAtMs = Math.max(releaseAtMs, Date.now() + wait);
    const at = releaseAtMs - Date.now();
    if (at <= 0) upstream.write(chunk);
    else setTimeout(() => upstream.writable && upstream.write(chunk), at);
  });
  client.on('end', () => setTimeout(() => upstream.end(), Math.max(0, releaseAtMs - Date.now())));
  upstream.pipe(client);
  const close = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
  // Bounded: no relayed connection lives longer than a minute.
  client.setTimeout(60_000, close);
});

let listening = 0;
const ready = (): void => {
  if (++listening === 3) process.stdout.write('ready\n');
};
inbound.bind(listenPort, ip, ready);
outbound.bind(0, ip, ready);
tcp.listen(listenPort, ip, ready);

createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, a, b] = line.trim().split(/\s+/);
  if (cmd === 'delay') {
    delayMs = Math.max(0, Number(a) || 0);
    jitterMs = Math.max(0, Number(b) || 0);
    process.stdout.write(`delay ${delayMs} ${jitterMs}\n`);
  } else if (cmd === 'stats') {
    process.stdout.write(`stats ${forwarded} ${dropped} ${inFlight}\n`);
  }
});
process.stdin.on('end', () => process.exit(0));
