// The application on one host: every --interval-ms it asks its own daemon (over
// the daemon's Unix socket) which partitions it is primary of, and writes each
// of them to the fenced storage with the partition's token, over the bridge
// network from inside the host's namespace. It acts as primary of p only while
// its daemon names it primary of p with quorum "ok" (the API contract).
//
//   ip netns exec H node app-writer.js --socket S --name h1 --storage 10.77.0.6:7070
//
// Without --socket the file does nothing, so loading it by accident is harmless.
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { StorageClient } from './storage-client.js';

interface PartitionEntry {
  id: number;
  primary: string | null;
  token: number;
  quorum?: string;
}
interface PartitionsBody {
  quorum?: string;
  partitions: PartitionEntry[];
}

/** Bounded: a daemon that is down or stopped costs one timeout, not a hang. */
function partitions(socketPath: string, timeoutMs: number): Promise<PartitionsBody | null> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/v1/partitions', method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? (JSON.parse(body) as PartitionsBody) : null);
        } catch {
          resolve(null);
        }
      });
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(null));
    req.end();
  });
}

/** The partitions this member may write now, with their tokens. */
export function writable(view: PartitionsBody, name: string): { id: number; token: number }[] {
  return view.partitions
    .filter((p) => p.primary === name && (p.quorum ?? view.quorum) === 'ok')
    .map((p) => ({ id: p.id, token: p.token }));
}

async function main(opts: { socket: string; name: string; storage: string; intervalMs: number; maxS: number }): Promise<void> {
  const at = opts.storage.lastIndexOf(':');
  const store = new StorageClient(opts.storage.slice(0, at), Number(opts.storage.slice(at + 1)));
  const deadline = Date.now() + opts.maxS * 1000;
  let stop = false;
  // The parent holds our stdin: when it goes away we stop (no orphan writers).
  process.stdin.on('end', () => (stop = true));
  process.stdin.on('error', () => (stop = true));
  process.stdin.resume();
  process.stdout.write('ready\n');
  while (!stop && Date.now() < deadline) {
    const started = Date.now();
    const view = await partitions(opts.socket, 500);
    if (view) await Promise.all(writable(view, opts.name).map((p) => store.write(p.id, opts.name, p.token)));
    const wait = opts.intervalMs - (Date.now() - started);
    await new Promise((r) => setTimeout(r, Math.max(1, wait)));
  }
  store.close();
  process.exit(0);
}

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && arg('--socket')) {
  void main({
    socket: arg('--socket')!,
    name: arg('--name')!,
    storage: arg('--storage')!,
    intervalMs: Number(arg('--interval-ms', '10')),
    maxS: Number(arg('--max-s', '1800')),
  });
}
