// The etcd side of the ownership comparison: one application per host doing
// leader election on one key with a lease, and writing to the fenced storage
// while it leads, with the leader key's create revision as the fencing token.
//
// Client: etcd's v3 JSON gateway (POST /v3/lease/grant, /v3/lease/keepalive,
// /v3/kv/txn) spoken with node's http module. No new dependency, and the same
// transport cost as the swimd writer (one local HTTP request per step), so the
// comparison measures the two designs rather than two client libraries. The
// gateway serves the same RPCs as gRPC; only the framing differs.
//
// Election: a txn "if the key's create_revision is 0, put it with my lease, else
// read it". The winner's token is the revision of that put; any later winner's
// key is created later, so its token is strictly larger. A leader writes only
// while its lease is surely alive: until (send time of the last successful
// keepalive) + TTL, which is never later than the server's expiry.
//
//   ip netns exec H node etcd-elector.js --name h1 --endpoints http://10.77.0.1:2379,... --storage 10.77.0.6:7070
//
// stdout: "ready", then "lead <token>" / "lost" lines as leadership changes.
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { StorageClient } from '../harness/storage-client.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

class Gateway {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });
  private current = 0;
  constructor(
    private readonly endpoints: URL[],
    private readonly timeoutMs: number,
  ) {}

  /** One RPC on the current endpoint; on failure the next call tries the next endpoint. */
  call<T>(path: string, body: unknown): Promise<T | null> {
    const ep = this.endpoints[this.current]!;
    return new Promise((resolve) => {
      const text = JSON.stringify(body);
      const req = request(
        { host: ep.hostname, port: Number(ep.port), path, method: 'POST', agent: this.agent, timeout: this.timeoutMs, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } },
        (res) => {
          let out = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (out += c));
          res.on('end', () => {
            try {
              if (res.statusCode !== 200) throw new Error(String(res.statusCode));
              resolve(JSON.parse(out) as T);
            } catch {
              this.rotate();
              resolve(null);
            }
          });
          res.on('error', () => (this.rotate(), resolve(null)));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => (this.rotate(), resolve(null)));
      req.end(text);
    });
  }

  private rotate(): void {
    this.current = (this.current + 1) % this.endpoints.length;
  }
}

interface TxnReply {
  header: { revision: string };
  succeeded?: boolean;
  responses?: { response_range?: { kvs?: { value: string; lease?: string; create_revision: string }[] } }[];
}

async function main(o: { name: string; endpoints: URL[]; storage: string; ttl: number; intervalMs: number; key: string; maxS: number; partition: number }): Promise<void> {
  const gw = new Gateway(o.endpoints, 500);
  const at = o.storage.lastIndexOf(':');
  const store = new StorageClient(o.storage.slice(0, at), Number(o.storage.slice(at + 1)));
  const key = b64(o.key);
  const me = b64(o.name);
  let lease: string | null = null;
  let ttlMs = o.ttl * 1000;
  /** Local bound on the lease: send time of the last keepalive that succeeded + TTL. */
  let aliveUntil = 0;
  let token: number | null = null;
  let stop = false;
  process.stdin.on('end', () => (stop = true));
  process.stdin.on('error', () => (stop = true));
  process.stdin.resume();
  const deadline = Date.now() + o.maxS * 1000;
  const say = (s: string): void => void process.stdout.write(`${s}\n`);

  const lose = (): void => {
    if (token !== null) say('lost');
    token = null;
  };

  // Keepalive every TTL/3: as etcd's own clients do, so two may be lost before the lease is.
  void (async () => {
    while (!stop && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.max(50, Math.floor(ttlMs / 3))));
      const id: string | null = lease;
      if (id === null) continue;
      const sent = Date.now();
      const r = await gw.call<{ result?: { TTL?: string } }>('/v3/lease/keepalive', { ID: id });
      if (id !== lease) continue;
      const ttl = Number(r?.result?.TTL ?? 0);
      if (r && ttl > 0) aliveUntil = sent + ttl * 1000;
      else if (r) {
        // The server says the lease is gone: whatever we led is lost.
        lease = null;
        lose();
      }
    }
  })();

  say('ready');
  while (!stop && Date.now() < deadline) {
    const started = Date.now();
    if (lease !== null && Date.now() >= aliveUntil) {
      lease = null;
      lose();
    }
    if (lease === null) {
      const sent = Date.now();
      const g = await gw.call<{ ID?: string; TTL?: string }>('/v3/lease/grant', { TTL: o.ttl });
      if (g?.ID && Number(g.TTL) > 0) {
        lease = g.ID;
        ttlMs = Number(g.TTL) * 1000;
        aliveUntil = sent + ttlMs;
        say(`lease ${g.TTL}`);
      }
    } else if (token === null) {
      const r = await gw.call<TxnReply>('/v3/kv/txn', {
        compare: [{ key, target: 'CREATE', result: 'EQUAL', create_revision: '0' }],
        success: [{ request_put: { key, value: me, lease } }],
        failure: [{ request_range: { key } }],
      });
      if (r?.succeeded) token = Number(r.header.revision);
      else {
        // We may have won with a request whose answer was lost: the key is ours if it carries our lease.
        const kv = r?.responses?.[0]?.response_range?.kvs?.[0];
        if (kv && kv.value === me && kv.lease === lease) token = Number(kv.create_revision);
      }
      if (token !== null) say(`lead ${token}`);
    }
    if (token !== null && lease !== null && Date.now() < aliveUntil) await store.write(o.partition, o.name, token);
    await new Promise((r) => setTimeout(r, Math.max(1, o.intervalMs - (Date.now() - started))));
  }
  store.close();
  process.exit(0);
}

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && arg('--name')) {
  void main({
    name: arg('--name')!,
    endpoints: arg('--endpoints')!.split(',').map((u) => new URL(u)),
    storage: arg('--storage')!,
    ttl: Number(arg('--ttl', '1')),
    intervalMs: Number(arg('--interval-ms', '10')),
    key: arg('--key', '/ownership/leader')!,
    maxS: Number(arg('--max-s', '3600')),
    partition: Number(arg('--partition', '0')),
  });
}
