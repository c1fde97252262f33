// The swimd command line.
import { randomBytes } from 'node:crypto';
import type { Argv } from 'yargs';
import { SwimdClient, ClientError, type MonitorLevel } from '../client/client.js';
import { ConfigError } from '../config/errors.js';
import { filterMembers, parseTagFilters, pathsText, reachText, table, UsageError, watchSummary } from './table.js';
import { formatLogLine } from '../daemon/logger.js';
import type { PartitionsView } from '../api/views.js';

const MEMBER_STATES = ['alive', 'suspect', 'dead', 'left'];
const MONITOR_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

const DEFAULT_SOCKET = './swimd.sock';

function withClientOpts<T>(y: Argv<T>) {
  return y
    .option('socket', { type: 'string', describe: `API socket of the local daemon (default: api.socket of --config, else $SWIMD_SOCKET, else ${DEFAULT_SOCKET})` })
    .option('config', { type: 'string', describe: "the agent's YAML config file: its api.socket, resolved as the agent resolves it" })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON instead of a table' });
}

/** The agreement summary above the table, and a line per disagreeing or differently set-up member. */
function agreementLines(p: PartitionsView): string {
  const lines: string[] = [];
  const ag = p.agreement;
  if (ag) {
    lines.push(`agreement: ${ag.agreeing} agreeing, ${ag.disagreeing.length} disagreeing, ${ag.unknown} unknown`);
    for (const d of ag.disagreeing) lines.push(`  disagrees: ${d.name} has checksum ${d.checksum} (compared ${Math.round(d.ageMs / 1000)}s ago)`);
  }
  for (const m of p.configMismatches ?? []) {
    lines.push(`  settings differ: ${m.name} has count ${m.theirs.partitions}, replicas ${m.theirs.replicas}, ${m.theirs.strategy}; this member count ${m.ours.partitions}, replicas ${m.ours.replicas}, ${m.ours.strategy}`);
  }
  return lines.map((l) => l + '\n').join('');
}

/** The socket a client command talks to: --socket, else the config file's api.socket, else $SWIMD_SOCKET, else ./swimd.sock. */
async function clientSocket(a: { socket?: string | undefined; config?: string | undefined }, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (a.socket !== undefined) return a.socket;
  // Loaded only when asked for: most client commands never read a config file.
  if (a.config !== undefined) return (await import('../config/daemon-config.js')).loadDaemonConfigFile(a.config).api.socket;
  return env.SWIMD_SOCKET ?? DEFAULT_SOCKET;
}

function out(json: boolean, data: unknown, human: () => string): void {
  process.stdout.write(json ? JSON.stringify(data, null, 2) + '\n' : human() + '\n');
}

export async function main(argv: string[]): Promise<void> {
  // Loaded here, not at the top: a plain `swimd agent` never needs the parser.
  const { default: yargs } = await import('yargs');
  await yargs(argv)
    .scriptName('swimd')
    .command(
      'agent',
      'run the daemon',
      (y) =>
        y
          .option('config', { type: 'string', demandOption: true, describe: 'YAML config file' })
          .option('name', { type: 'string', describe: 'member name (overrides node.name)' })
          .option('bind', { type: 'string', describe: 'bind address host:port (overrides node.bind)' })
          .option('advertise', { type: 'string', describe: 'advertised address (overrides node.advertise)' })
          .option('join', { type: 'string', array: true, describe: 'address to join; repeatable (overrides join)' })
          .option('socket', { type: 'string', describe: 'API socket path (overrides api.socket)' })
          .option('data-dir', { type: 'string', describe: 'directory for durable grant state (overrides node.dataDir)' }),
      async (a) => (await import('./agent.js')).runAgent(a as import('./agent.js').AgentArgs),
    )
    .command(
      'members',
      'list members',
      (y) =>
        withClientOpts(y)
          .option('status', { type: 'string', array: true, choices: MEMBER_STATES, describe: 'only members in this state; repeatable' })
          .option('tag', { type: 'string', array: true, describe: 'only members with tag k=v; repeatable (all must match)' }),
      async (a) => {
        const tags = parseTagFilters(a.tag ?? []);
        const ms = filterMembers(await new SwimdClient(await clientSocket(a)).members(), a.status ?? [], tags);
        out(a.json, ms, () => table(['NAME', 'ADDRESS', 'STATE', 'INC', 'REACH', 'META'], ms.map((m) => [m.name, `${m.address}:${m.port}`, m.state, String(m.incarnation), reachText(m.reach), Object.entries(m.meta).map(([k, v]) => `${k}=${v}`).join(',')])));
      },
    )
    .command('partitions', 'show the partition table', withClientOpts, async (a) => {
      const p = await new SwimdClient(await clientSocket(a)).partitions();
      out(a.json, p, () => `view ${p.viewVersion}, quorum ${p.quorum}, ${p.liveMembers} live, checksum ${p.checksum}\n` + agreementLines(p) + table(['ID', 'PRIMARY', 'REPLICAS', 'TOKEN'], p.partitions.map((x) => [String(x.id), x.primary ?? '-', x.replicas.join(','), String(x.token)])));
    })
    .command(
      'owner <partition>',
      'show who owns one partition',
      (y) => withClientOpts(y).positional('partition', { type: 'string', demandOption: true }),
      async (a) => {
        const text = String(a.partition);
        if (!/^\d+$/.test(text)) throw new UsageError(`partition: expected a partition id (0, 1, ...), got "${text}"`);
        const p = await new SwimdClient(await clientSocket(a)).partition(Number(text));
        out(a.json, p, () => `partition ${p.id}: primary ${p.primary ?? '-'} (token ${p.token}), replicas ${p.replicas.join(', ') || '-'}, quorum ${p.quorum}`);
      },
    )
    .command(
      'owned',
      'partitions this member is primary or replica of, with their tokens',
      (y) => withClientOpts(y).option('role', { type: 'string', choices: ['primary', 'replica'] as const, describe: 'only this role' }),
      async (a) => {
        const c = new SwimdClient(await clientSocket(a));
        const [owned, all] = await Promise.all([c.owned(), c.partitions()]);
        const rows = [...owned.primary.map((id) => ({ id, role: 'primary' })), ...owned.replica.map((id) => ({ id, role: 'replica' }))]
          .filter((r) => a.role === undefined || r.role === a.role)
          .sort((x, y) => x.id - y.id)
          .map((r) => {
            const p = all.partitions[r.id];
            return { ...r, primary: p?.primary ?? null, token: r.role === 'primary' ? (owned.tokens[r.id] ?? p?.token ?? 0) : (p?.token ?? 0) };
          });
        out(a.json, { name: owned.name, quorum: owned.quorum, partitions: rows }, () =>
          `${owned.name}: primary of ${owned.primary.length}, replica of ${owned.replica.length}, quorum ${owned.quorum}\n` + table(['ID', 'ROLE', 'PRIMARY', 'TOKEN'], rows.map((r) => [String(r.id), r.role, r.primary ?? '-', String(r.token)])),
        );
      },
    )
    .command('watch', 'stream membership and partition changes, one line per change (--json: the raw NDJSON)', withClientOpts, async (a) => {
      for await (const line of new SwimdClient(await clientSocket(a)).watch({ format: 'compact' })) process.stdout.write((a.json ? JSON.stringify(line) : watchSummary(line)) + '\n');
    })
    .command(
      'monitor',
      "stream the daemon's log from now on (Ctrl-C stops)",
      (y) => withClientOpts(y).option('level', { type: 'string', choices: MONITOR_LEVELS, default: 'info', describe: 'lowest level shown (the daemon logs this level while the stream is open)' }),
      async (a) => {
        for await (const line of new SwimdClient(await clientSocket(a)).monitor(a.level as MonitorLevel)) process.stdout.write((a.json ? line : formatLogLine(line)) + '\n');
      },
    )
    .command('leave', 'make the local daemon leave the cluster and stop', withClientOpts, async (a) => {
      const r = await new SwimdClient(await clientSocket(a)).leave();
      out(a.json, r, () => 'leaving');
    })
    .command('status', 'show this member and its health', withClientOpts, async (a) => {
      const c = new SwimdClient(await clientSocket(a));
      const [self, health, owned] = await Promise.all([c.self(), c.health(), c.owned()]);
      out(a.json, { self, health, owned }, () =>
        [
          `name      ${self.name} (${self.address}:${self.port}) ${self.state} inc ${self.incarnation}`,
          `health    ${health.status}, score ${health.healthScore}, ${health.aliveMembers} alive, quorum ${health.quorum}`,
          `paths     ${pathsText(health)}`,
          `owned     primary of ${owned.primary.length} (${owned.primary.map((id) => `${id}@${owned.tokens[id]}`).join(' ') || 'none'}), replica of ${owned.replica.length}`,
        ].join('\n'),
      );
    })
    .command(
      'tags <action> [tags..]',
      'change this member\'s tags at run time: tags set k=v ..., tags unset k ...',
      (y) => withClientOpts(y).positional('action', { choices: ['set', 'unset'] as const, demandOption: true }).positional('tags', { type: 'string', array: true, default: [] }),
      async (a) => {
        const items = (a.tags ?? []) as string[];
        const set: Record<string, string> = {};
        const unset: string[] = [];
        for (const t of items) {
          if (a.action === 'unset') unset.push(t);
          else {
            const eq = t.indexOf('=');
            if (eq <= 0) throw new UsageError(`tags: expected k=v, got "${t}"`);
            set[t.slice(0, eq)] = t.slice(eq + 1);
          }
        }
        const tags = await new SwimdClient(await clientSocket(a)).setTags(set, unset);
        out(a.json, { tags }, () => Object.entries(tags).map(([k, v]) => `${k}=${v}`).join('\n'));
      },
    )
    .command('drain', 'stop being primary of anything (stays a member and a replica); partitions move at once', withClientOpts, async (a) => {
      const tags = await new SwimdClient(await clientSocket(a)).setTags({ drain: 'true' });
      out(a.json, { tags }, () => 'draining');
    })
    .command('undrain', 'become eligible for primary again', withClientOpts, async (a) => {
      const tags = await new SwimdClient(await clientSocket(a)).setTags({}, ['drain']);
      out(a.json, { tags }, () => 'eligible for primary');
    })
    .command(
      'keys <action> [key]',
      "this member's encryption keys: keys list, keys install KEY, keys use KEY (make it primary), keys remove KEY",
      (y) => withClientOpts(y).positional('action', { choices: ['list', 'install', 'use', 'remove'] as const, demandOption: true }).positional('key', { type: 'string' }),
      async (a) => {
        const c = new SwimdClient(await clientSocket(a));
        if (a.action !== 'list' && (a.key === undefined || a.key === '')) throw new UsageError(`keys ${a.action}: name a base64 key`);
        if (a.action === 'list' && a.key !== undefined) throw new UsageError('keys list takes no key');
        const keys = a.action === 'list' ? await c.keys() : await c.changeKey(a.action, a.key!);
        out(a.json, { keys }, () => table(['KEY', 'PRIMARY'], keys.map((k) => [k.key, k.primary ? 'primary' : ''])));
      },
    )
    .command('keygen', 'print a new base64 AES-256 key for security.keys', (y) => y, () => {
      process.stdout.write(randomBytes(32).toString('base64') + '\n');
    })
    .command(
      'demo',
      'run a local cluster of real agents and show it live (Ctrl-C stops it)',
      (y) => y.option('members', { type: 'number', default: 3 }).option('base-port', { type: 'number', default: 7946 }),
      async (a) => (await import('./demo.js')).runDemo(a.members, a['base-port']),
    )
    .demandCommand(1, 'name a command; see --help')
    .strict()
    .fail((msg, err) => {
      if (err instanceof UsageError) {
        process.stderr.write(`swimd: ${err.message} (see swimd --help)\n`);
        process.exit(2);
      }
      if (err instanceof ConfigError) {
        process.stderr.write(`swimd: ${err.message}\n`);
        process.exit(2);
      }
      if (err instanceof ClientError) {
        process.stderr.write(`swimd: ${err.message} (${err.code})\n`);
        process.exit(1);
      }
      if (err) throw err;
      process.stderr.write(`swimd: ${msg} (see swimd --help)\n`);
      process.exit(2);
    })
    .help()
    .parseAsync();
}

const args = process.argv.slice(2);
const plain = args[0] === 'agent' ? (await import('./agent.js')).plainAgentArgs(args.slice(1)) : null;
if (plain) await (await import('./agent.js')).runAgent(plain);
else await main(args);
