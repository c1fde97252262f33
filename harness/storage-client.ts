// The application side of the fenced storage: one write per request over a
// kept-alive TCP connection, each bounded by a timeout so that an unreachable
// storage costs a writer a bounded wait, never a hang.
import { Agent, request } from 'node:http';

export type WriteResult = 'accepted' | 'rejected' | 'error';

export class StorageClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 16 });

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly timeoutMs = 1000,
  ) {}

  write(partition: number, writer: string, token: number): Promise<WriteResult> {
    return new Promise((resolve) => {
      const path = `/write?p=${partition}&w=${encodeURIComponent(writer)}&t=${token}`;
      const req = request({ host: this.host, port: this.port, path, method: 'POST', agent: this.agent, timeout: this.timeoutMs }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200 ? 'accepted' : res.statusCode === 409 ? 'rejected' : 'error'));
        res.on('error', () => resolve('error'));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve('error'));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
