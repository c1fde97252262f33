// Application sessions: what binds a member's partitions to the application
// beside it. A session is one held request, `POST /v1/session?ttl=1s`, whose
// body the application keeps writing to (any bytes, e.g. a newline every ttl/3)
// while the response streams NDJSON. The session ends the moment the
// connection closes (the application exited or was killed: the kernel closes
// its socket), when the body ends (it closed the session), or when no byte
// arrived for a whole ttl (it hangs). One connection detects both a crash, at
// once, and a hang, within the ttl, with no polling on either side.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const SESSION_TTL_MIN_MS = 100;
export const SESSION_TTL_MAX_MS = 60_000;

export type SessionEnd = 'closed' | 'expired' | 'disconnected' | 'shutdown';

interface Session {
  id: string;
  res: ServerResponse;
  timer: NodeJS.Timeout;
  openedAt: number;
}

export class SessionHub {
  private readonly sessions = new Map<string, Session>();

  constructor(
    /** Bound on sessions open at once (limits.maxSessions). */
    readonly maxSessions: number,
    /** Called with the number of live sessions whenever it changes. */
    private readonly onChange: (live: number, why: SessionEnd | 'opened', id: string) => void,
  ) {}

  count(): number {
    return this.sessions.size;
  }

  list(): { id: string; ageMs: number }[] {
    const now = Date.now();
    return [...this.sessions.values()].map((s) => ({ id: s.id, ageMs: now - s.openedAt }));
  }

  /** Takes over a request; returns false (and writes nothing) when the hub is full. */
  open(req: IncomingMessage, res: ServerResponse, ttlMs: number): boolean {
    if (this.sessions.size >= this.maxSessions) return false;
    const id = randomBytes(8).toString('hex');
    let done = false;
    const end = (why: SessionEnd): void => {
      if (done) return;
      done = true;
      clearTimeout(s.timer);
      this.sessions.delete(id);
      if (!res.destroyed && !res.writableEnded) {
        res.end(`${JSON.stringify({ type: 'ended', id, reason: why })}\n`);
      }
      // Whatever the application still sends is of no use now.
      req.destroy();
      this.onChange(this.sessions.size, why, id);
    };
    const s: Session = { id, res, timer: setTimeout(() => end('expired'), ttlMs), openedAt: Date.now() };
    this.sessions.set(id, s);
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
    res.write(`${JSON.stringify({ type: 'session', id, ttlMs })}\n`);
    req.on('data', () => {
      if (done) return;
      s.timer.refresh();
    });
    req.on('end', () => end('closed'));
    req.on('close', () => end('disconnected'));
    res.on('close', () => end('disconnected'));
    req.on('error', () => end('disconnected'));
    this.onChange(this.sessions.size, 'opened', id);
    return true;
  }

  closeAll(): void {
    for (const s of [...this.sessions.values()]) {
      s.res.end(`${JSON.stringify({ type: 'ended', id: s.id, reason: 'shutdown' })}\n`);
      s.res.destroy();
    }
  }
}
