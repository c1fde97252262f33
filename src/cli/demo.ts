// `swimd demo`: real agent processes on loopback with generated configs, and a
// live view of members and partition ownership. Kill one from another terminal
// (the pids are shown) and watch its partitions fail over.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwimdClient } from '../client/client.js';
import { table } from './table.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, 'main.js');

export async function runDemo(count: number, basePort: number): Promise<void> {
  if (!Number.isInteger(count) || count < 1 || count > 32) throw new Error('--members must be 1..32');
  const dir = mkdtempSync(join(tmpdir(), 'swimd-demo-'));
  const ports = Array.from({ length: count }, (_, i) => basePort + i);
  const children: ChildProcess[] = [];
  const sockets: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `node-${String.fromCharCode(97 + (i % 26))}${i >= 26 ? i : ''}`;
    const socket = join(dir, `${name}.sock`);
    sockets.push(socket);
    const file = join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      [
        `node: { name: ${name}, bind: 127.0.0.1:${ports[i]}, meta: { zone: z${i % 3} } }`,
        `join: [${ports.map((p) => `127.0.0.1:${p}`).join(', ')}]`,
        'profile: local',
        `partitions: { count: 16, replicas: 2, strategy: rendezvous, quorum: ${Math.floor(count / 2) + 1} }`,
        `api: { socket: ${socket} }`,
        'log: { level: warn }',
      ].join('\n'),
    );
    children.push(spawn(process.execPath, [CLI, 'agent', '--config', file], { stdio: ['ignore', 'ignore', 'inherit'] }));
  }
  let stopping = false;
  const stopAll = (): void => {
    if (stopping) return;
    stopping = true;
    for (const c of children) c.kill('SIGTERM');
    setTimeout(() => {
      for (const c of children) c.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }, 2500).unref();
  };
  process.on('SIGINT', stopAll);
  process.on('SIGTERM', stopAll);
  const render = async (): Promise<void> => {
    const lines: string[] = [`swimd demo: ${count} agents on 127.0.0.1:${ports[0]}..${ports[ports.length - 1]} (configs in ${dir})`, ''];
    let shown = false;
    for (let i = 0; i < count && !shown; i++) {
      if (children[i]!.exitCode !== null || children[i]!.signalCode !== null) continue;
      try {
        const c = new SwimdClient(sockets[i]!);
        const [members, parts] = await Promise.all([c.members(), c.partitions()]);
        lines.push(`view of ${members.find((m) => m.port === ports[i])?.name ?? '?'}:`);
        const owned = (n: string): number => parts.partitions.filter((p) => p.primary === n).length;
        lines.push(table(['MEMBER', 'PID', 'STATE', 'INC', 'PRIMARY OF'], members.map((m) => [m.name, String(children[ports.indexOf(m.port)]?.pid ?? '-'), m.state, String(m.incarnation), String(owned(m.name))])));
        lines.push('', `partitions (view ${parts.viewVersion}, quorum ${parts.quorum}):`);
        lines.push(parts.partitions.map((p) => `${String(p.id).padStart(2)}:${(p.primary ?? '-').padEnd(8)}`).join(' '));
        shown = true;
      } catch {
        // that agent is not up (yet); try the next one
      }
    }
    if (!shown) lines.push('waiting for the agents to start…');
    lines.push('', 'kill -9 <pid> in another terminal to watch a failover; Ctrl-C stops every agent.');
    process.stdout.write('\x1b[2J\x1b[H' + lines.join('\n') + '\n');
  };
  while (!stopping) {
    await render();
    await new Promise((r) => setTimeout(r, 500));
  }
}
