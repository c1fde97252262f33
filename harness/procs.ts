// Child processes for multi-process tests: started with bounded waits, always
// killed at the end, and observable through status files or command output.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** The compiled minimal agent entry point, next to this compiled file. */
export const AGENT_MAIN = join(here, 'agent-main.js');

export const tmp = mkdtempSync(join(tmpdir(), 'swimd-test-'));
const children = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function killAll(): void {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
}
process.once('exit', killAll);

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` every `everyMs` until it returns a truthy value or `timeoutMs` passes (then throws). */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs: number, what: string, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(everyMs);
  }
}

export interface SwimProc {
  name: string;
  child: ChildProcess;
  statusFile: string;
  status(): { members: { name: string; state: string; incarnation: number; tags: Record<string, string> | null }[]; stats: { drops: Record<string, number> } };
  stateOf(member: string): string | undefined;
}

export function startSwim(name: string, args: string[]): SwimProc {
  const statusFile = join(tmp, `${name}-${Date.now()}.json`);
  const child = track(spawn(process.execPath, [AGENT_MAIN, '--name', name, '--status-file', statusFile, ...args], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  child.once('exit', (code, sig) => {
    if (code !== 0 && sig === null) console.log(`# ${name} exited ${code}: ${stderr}`);
  });
  const status = (): ReturnType<SwimProc['status']> => JSON.parse(readFileSync(statusFile, 'utf8'));
  return {
    name,
    child,
    statusFile,
    status,
    stateOf: (member) => (existsSync(statusFile) ? status().members.find((m) => m.name === member)?.state : undefined),
  };
}

export function requireSerf(): void {
  if (spawnSync('sh', ['-c', 'command -v serf']).status !== 0) {
    throw new Error('the interop suite needs Debian\'s serf agent: apt-get install -y serf (.ci/run installs it)');
  }
}

export interface SerfProc {
  name: string;
  child: ChildProcess;
  bind: string;
  rpc: string;
  members(): { name: string; status: string; tags: Record<string, string> }[];
}

export function startSerf(name: string, port: number, extra: string[] = []): SerfProc {
  const bind = `127.0.0.1:${port}`;
  const rpc = `127.0.0.1:${port + 1}`;
  const child = track(spawn('serf', ['agent', `-node=${name}`, `-bind=${bind}`, `-rpc-addr=${rpc}`, ...extra], { stdio: ['ignore', 'ignore', 'ignore'] }));
  return {
    name,
    child,
    bind,
    rpc,
    members: () => {
      const r = spawnSync('serf', ['members', `-rpc-addr=${rpc}`, '-format=json'], { encoding: 'utf8', timeout: 5000 });
      if (r.status !== 0) throw new Error(`serf members failed: ${r.stderr}`);
      return JSON.parse(r.stdout).members;
    },
  };
}

export function serfCommand(rpc: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync('serf', [args[0]!, `-rpc-addr=${rpc}`, ...args.slice(1)], { encoding: 'utf8', timeout: 15000 });
  return { status: r.status, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

/**
 * Ports the OS picks, free for both TCP and UDP on 127.0.0.1 when this returns
 * (members bind both on one port), so concurrent runs do not collide.
 */
export async function freePorts(count: number): Promise<number[]> {
  const { createServer } = await import('node:net');
  const { createSocket } = await import('node:dgram');
  const out: number[] = [];
  for (let attempt = 0; out.length < count && attempt < count * 20; attempt++) {
    const server = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
    const udp = createSocket('udp4');
    const udpFree = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (udpFree && !out.includes(port)) out.push(port);
  }
  if (out.length < count) throw new Error(`could not find ${count} free ports`);
  return out;
}

export interface SerfMember {
  name: string;
  status: string;
}

/** `serf members` of the agent at `rpc`, as serf reports them (bounded to 5 s). */
export function serfMembers(rpc: string): SerfMember[] {
  const r = spawnSync('serf', ['members', `-rpc-addr=${rpc}`, '-format=json'], { encoding: 'utf8', timeout: 5000 });
  if (r.status !== 0) throw new Error(`serf members failed: ${r.stderr}`);
  return JSON.parse(r.stdout).members;
}
