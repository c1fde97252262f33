// An application beside a swimd daemon: it holds a session (so the daemon,
// with partitions.requireSession, offers its partitions only while this
// process lives), follows which partitions its member is primary of through
// the watch stream, and writes to the fenced store with each partition's token.
// A write refused for a lower token means another member took the partition
// over: this writer stops writing there at once.
//
//   node dist/examples/fenced-writer/writer.js --socket ./swimd.sock --store ./store [--interval-ms 50] [--duration-ms 0]
//
// It prints one JSON line per event (ready, gained, lost, refused) and a summary on exit.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
// An application outside this repository imports the same from 'swimd/client'.
import { SwimdClient, type WatchLine } from '../../src/client/index.js';
import { FencedFileStore, LockTimeoutError } from './store.js';

function emit(event: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(event) + '\n');
}

export class FencedWriter {
  /** Partitions this member is primary of, with the token to write with. */
  readonly held = new Map<number, number>();
  wrote = 0;
  refused = 0;
  private seq = 0;

  constructor(
    readonly name: string,
    private readonly store: FencedFileStore,
  ) {}

  /** Follows one watch line: a partition is ours while we are its primary and the quorum holds. */
  follow(line: WatchLine): void {
    if (line.type === 'snapshot') {
      const next = new Map<number, number>();
      if (line.partitions.quorum === 'ok') for (const p of line.partitions.partitions) if (p.primary === this.name) next.set(p.id, p.token);
      for (const id of this.held.keys()) if (!next.has(id)) this.lose(id, 'snapshot');
      for (const [id, token] of next) this.gain(id, token);
    } else if (line.type === 'partitions') {
      if (line.quorum !== 'ok') for (const id of [...this.held.keys()]) this.lose(id, 'no-quorum');
      for (const c of line.changed) {
        if (line.quorum === 'ok' && c.newPrimary === this.name) this.gain(c.id, c.token);
        else if (this.held.has(c.id)) this.lose(c.id, c.newPrimary === null ? 'no primary' : `now ${c.newPrimary}`);
      }
    }
  }

  /** One write to every partition held. */
  writeAll(): void {
    for (const [partition, token] of [...this.held]) {
      let r;
      try {
        r = this.store.write({ partition, token, writer: this.name, seq: ++this.seq, atMs: Date.now() });
      } catch (err) {
        if (!(err instanceof LockTimeoutError)) throw err;
        emit({ type: 'busy', partition, message: err.message });
        continue;
      }
      if (r.accepted) this.wrote++;
      else {
        this.refused++;
        emit({ type: 'refused', partition, token, highestToken: r.highestToken });
        this.lose(partition, 'refused');
      }
    }
  }

  private gain(id: number, token: number): void {
    if (this.held.get(id) === token) return;
    this.held.set(id, token);
    emit({ type: 'gained', partition: id, token });
  }

  private lose(id: number, why: string): void {
    if (!this.held.delete(id)) return;
    emit({ type: 'lost', partition: id, why });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      socket: { type: 'string', default: './swimd.sock' },
      store: { type: 'string', default: './fenced-store' },
      'interval-ms': { type: 'string', default: '50' },
      'duration-ms': { type: 'string', default: '0' },
      'session-ttl-ms': { type: 'string', default: '1000' },
    },
  });
  const intervalMs = Number(values['interval-ms']);
  const durationMs = Number(values['duration-ms']);
  const client = new SwimdClient(values.socket!);
  const name = String((await client.self()).name);
  const session = await client.session(Number(values['session-ttl-ms']));
  const writer = new FencedWriter(name, new FencedFileStore(values.store!));
  emit({ type: 'ready', name, session: session.id });

  const stopWatching = new AbortController();
  let stopped = false;
  const stop = (why: string, code: number): void => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    stopWatching.abort();
    session.close();
    emit({ type: 'summary', name, why, wrote: writer.wrote, refused: writer.refused });
    process.exitCode = code;
  };
  const timer = setInterval(() => writer.writeAll(), intervalMs);
  // Without its session the member is no longer eligible: stop writing at once.
  void session.ended.then((why) => {
    if (!stopped) stop(`session ended: ${why}`, 1);
  });
  process.once('SIGTERM', () => stop('SIGTERM', 0));
  process.once('SIGINT', () => stop('SIGINT', 0));
  if (durationMs > 0) setTimeout(() => stop('duration', 0), durationMs).unref();
  try {
    for await (const line of client.watch(stopWatching.signal)) writer.follow(line);
  } catch (err) {
    if (!stopped) {
      emit({ type: 'error', message: (err as Error).message });
      stop('watch failed', 1);
    }
  }
  if (!stopped) stop('watch closed', 1);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
