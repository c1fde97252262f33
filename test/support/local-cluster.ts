// A few daemons on loopback, each started through the CLI from a config file
// written here: every member on a port the OS picked, joining all the others.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwimdClient } from '../../src/client/client.js';
import { freePorts, tmp, track } from '../../harness/procs.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

export interface LocalCluster {
  readonly names: readonly string[];
  readonly ports: readonly number[];
  sock(i: number): string;
  client(i: number): SwimdClient;
  /** Writes member i's config (its node, join and api lines plus `lines`) and starts it. */
  start(i: number): ChildProcess;
}

export async function localCluster(names: string[], lines: string[]): Promise<LocalCluster> {
  const ports = await freePorts(names.length);
  const sock = (i: number): string => join(tmp, `${names[i]}.sock`);
  return {
    names,
    ports,
    sock,
    client: (i) => new SwimdClient(sock(i)),
    start: (i) => {
      const file = join(tmp, `${names[i]}.yaml`);
      writeFileSync(file, [`node: { name: ${names[i]}, bind: 127.0.0.1:${ports[i]} }`, `join: [${ports.map((p) => `127.0.0.1:${p}`).join(', ')}]`, `api: { socket: ${sock(i)} }`, ...lines].join('\n'));
      return track(spawn(process.execPath, [CLI, 'agent', '--config', file], { stdio: ['ignore', 'ignore', 'inherit'] }));
    },
  };
}
