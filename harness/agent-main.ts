// A minimal agent process: one member, flags only, state observable through a
// status file (JSON, rewritten every 250 ms) and one JSON line per member event
// on stdout. `swimd agent` (the full daemon) is the user-facing entry point;
// this one is for protocol and interop tests.
import { writeFileSync, renameSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { presetConfig, type ProfileName } from '../src/config/presets.js';
import { parseHostPort } from '../src/net/host-port.js';
import { encodeTags, decodeTags } from '../src/wire/serf-tags.js';
import { Agent } from '../src/agent/agent.js';

const argv = yargs(hideBin(process.argv))
  .option('name', { type: 'string', demandOption: true })
  .option('bind', { type: 'string', default: '127.0.0.1:7946' })
  .option('advertise', { type: 'string' })
  .option('join', { type: 'string', array: true, default: [] as string[] })
  .option('key', { type: 'string', array: true, default: [] as string[], describe: 'base64 AES key (16, 24 or 32 bytes); the first encrypts' })
  .option('label', { type: 'string', default: '' })
  .option('profile', { choices: ['lan', 'wan', 'local'] as const, default: 'lan' as const })
  .option('probe-interval', { type: 'number', describe: 'ms' })
  .option('tags', { type: 'string', array: true, default: [] as string[], describe: 'k=v, stored in Serf tag format' })
  .option('status-file', { type: 'string' })
  .strict()
  .parseSync();

const config = presetConfig(argv.profile as ProfileName);
if (argv['probe-interval']) config.probeIntervalMs = argv['probe-interval'];
config.keys = argv.key.map((k) => new Uint8Array(Buffer.from(k, 'base64')));
config.label = argv.label;
const tags = Object.fromEntries(argv.tags.map((t) => t.split('=', 2) as [string, string]));

const agent = await Agent.start({
  name: argv.name,
  bind: parseHostPort(argv.bind),
  advertise: argv.advertise ? parseHostPort(argv.advertise) : null,
  join: argv.join.map((j) => parseHostPort(j)),
  config,
  ...(Object.keys(tags).length > 0 ? { meta: encodeTags(tags) } : {}),
});

agent.node.on((ev) => {
  process.stdout.write(JSON.stringify({ event: ev.kind, member: ev.member.name, incarnation: ev.member.incarnation, state: ev.member.state }) + '\n');
});

function status(): object {
  return {
    name: argv.name,
    address: agent.address,
    members: agent.node.members().map((m) => ({ name: m.name, host: m.host, port: m.port, state: m.state, incarnation: m.incarnation, tags: decodeTags(m.meta) })),
    stats: agent.node.stats,
    transport: agent.transportStats(),
  };
}

let statusTimer: NodeJS.Timeout | undefined;
if (argv['status-file']) {
  const file = argv['status-file'];
  const write = (): void => {
    writeFileSync(`${file}.tmp`, JSON.stringify(status()));
    renameSync(`${file}.tmp`, file);
  };
  write();
  statusTimer = setInterval(write, 250);
}

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  if (statusTimer) clearInterval(statusTimer);
  await agent.leave(config.leavePropagateDelayMs + 500);
  await agent.shutdown();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
