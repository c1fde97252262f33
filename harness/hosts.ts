// Separate test hosts on one machine: each host is a network namespace with its
// own address on a Linux bridge, joined by a veth pair. Faults are nftables rules
// inside a host's namespace (tc netem is not available on every kernel, nftables
// is). Everything created here is removed by destroy(), which also runs on
// process exit, and stale leftovers of an earlier run are removed first.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RELAY_MAIN = join(dirname(fileURLToPath(import.meta.url)), 'delay-relay.js');

const PREFIX = 'swf';
const SUBNET = '10.77.0';
const TABLE = 'swimd_fault';

export interface TestHost {
  readonly index: number;
  readonly ns: string;
  readonly ip: string;
}

function run(args: string[], allowFail = false): string {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', timeout: 15_000 });
  if (!allowFail && (r.status !== 0 || r.error)) {
    throw new Error(`command failed (${r.status}): ${args.join(' ')}\n${r.stderr ?? ''}${r.error?.message ?? ''}`);
  }
  return r.stdout ?? '';
}

/** Throws a clear error when this machine cannot create namespaces (the suite must fail, not skip). */
export function assertNamespacesAvailable(): void {
  const missing = ['ip', 'nft'].filter((cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0);
  if (missing.length > 0) {
    throw new Error(`fault suite needs ${missing.join(' and ')} (apt-get install -y iproute2 nftables); .ci/run installs them`);
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('fault suite needs root to create network namespaces');
  }
  const probe = `${PREFIX}probe${process.pid % 10000}`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot create network namespaces here: ${r.stderr}`);
  spawnSync('ip', ['netns', 'del', probe]);
}

/** Removes namespaces, veths and the bridge left by an earlier run (of the same prefix) that did not clean up. */
export function removeStaleHosts(prefix = PREFIX): void {
  for (const line of run(['ip', 'netns', 'list'], true).split('\n')) {
    const ns = line.split(' ')[0];
    if (ns && ns.startsWith(prefix)) run(['ip', 'netns', 'del', ns], true);
  }
  run(['ip', 'link', 'del', `${prefix}br0`], true);
}

/** A delaying relay in front of one host's daemon (see delay-relay.ts). */
export class DelayRelay {
  private out = '';
  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => (this.out += c));
  }

  async ready(timeoutMs = 5000): Promise<void> {
    await this.until(/^ready$/m, timeoutMs, 'relay did not start');
  }

  /** Every datagram to the host now waits delayMs + uniform[0, jitterMs). */
  async setDelay(delayMs: number, jitterMs: number): Promise<void> {
    const mark = this.out.length;
    this.child.stdin!.write(`delay ${delayMs} ${jitterMs}\n`);
    await this.until(new RegExp(`^delay ${delayMs} ${jitterMs}$`, 'm'), 5000, 'relay did not take the delay', mark);
  }

  async stats(): Promise<{ forwarded: number; dropped: number }> {
    const mark = this.out.length;
    this.child.stdin!.write('stats\n');
    const m = await this.until(/^stats (\d+) (\d+) (\d+)$/m, 5000, 'relay did not report', mark);
    return { forwarded: Number(m[1]), dropped: Number(m[2]) };
  }

  private async until(re: RegExp, timeoutMs: number, what: string, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.out.slice(from));
      if (m) return m;
      if (Date.now() > deadline || this.child.exitCode !== null) throw new Error(`${what}: ${this.out.slice(-200)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export class TestHosts {
  readonly hosts: TestHost[] = [];
  private readonly relays: DelayRelay[] = [];
  private destroyed = false;
  private readonly onExit = (): void => this.destroy();

  private constructor(readonly prefix: string) {}

  /**
   * Creates `count` hosts 10.77.0.1 … 10.77.0.count on one bridge. Runs with
   * different prefixes (3 letters) get their own namespaces and bridge, so they
   * can run at the same time on one machine: the same addresses on two bridges
   * never meet.
   */
  static create(count: number, prefix = PREFIX): TestHosts {
    if (count < 1 || count > 200) throw new Error(`host count out of range: ${count}`);
    if (!/^[a-z]{3}$/.test(prefix)) throw new Error(`host prefix must be 3 lowercase letters: ${prefix}`);
    assertNamespacesAvailable();
    removeStaleHosts(prefix);
    const net = new TestHosts(prefix);
    process.once('exit', net.onExit);
    try {
      const bridge = `${prefix}br0`;
      run(['ip', 'link', 'add', bridge, 'type', 'bridge']);
      run(['ip', 'link', 'set', bridge, 'up']);
      for (let i = 1; i <= count; i++) {
        const ns = `${prefix}h${i}`;
        const veth = `${prefix}v${i}`;
        const ip = `${SUBNET}.${i}`;
        run(['ip', 'netns', 'add', ns]);
        run(['ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
        run(['ip', 'link', 'set', veth, 'master', bridge, 'up']);
        run(['ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
        run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
        run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
        run(['ip', 'netns', 'exec', ns, 'nft', 'add', 'table', 'inet', TABLE]);
        run(['ip', 'netns', 'exec', ns, 'nft', `add chain inet ${TABLE} input { type filter hook input priority 0 ; }`]);
        net.hosts.push({ index: i - 1, ns, ip });
      }
    } catch (err) {
      net.destroy();
      throw err;
    }
    return net;
  }

  /** Starts a process inside a host's namespace. */
  spawnIn(hostIndex: number, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    const host = this.host(hostIndex);
    return spawn('ip', ['netns', 'exec', host.ns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  }

  /**
   * Starts a delaying relay on `host:listenPort` forwarding to `host:targetPort`
   * (UDP delayed, TCP piped). A daemon behind it binds targetPort and
   * advertises listenPort.
   */
  async startRelay(hostIndex: number, listenPort: number, targetPort: number, maxInFlight = 4096): Promise<DelayRelay> {
    const host = this.host(hostIndex);
    const child = spawn('ip', ['netns', 'exec', host.ns, process.execPath, RELAY_MAIN, host.ip, String(listenPort), String(targetPort), String(maxInFlight)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const relay = new DelayRelay(child);
    this.relays.push(relay);
    await relay.ready();
    return relay;
  }

  /** Drops `percent` % of every inbound packet from the other hosts, at random. */
  setLoss(hostIndex: number, percent: number): void {
    if (!(percent >= 0 && percent <= 100)) throw new Error(`loss out of range: ${percent}`);
    this.addRule(hostIndex, `ip saddr ${SUBNET}.0/24 numgen random mod 100 < ${Math.round(percent)} drop comment "loss"`);
  }

  /** Drops everything host `hostIndex` receives from the hosts in `from`. */
  blockFrom(hostIndex: number, from: readonly number[]): void {
    if (from.length === 0) return;
    const addrs = from.map((i) => this.host(i).ip).join(', ');
    this.addRule(hostIndex, `ip saddr { ${addrs} } drop comment "partition"`);
  }

  /** Symmetric partition: no packet crosses between the two groups. */
  partition(groupA: readonly number[], groupB: readonly number[]): void {
    for (const a of groupA) this.blockFrom(a, groupB);
    for (const b of groupB) this.blockFrom(b, groupA);
  }

  /** Removes every fault rule on every host. */
  healAll(): void {
    for (const h of this.hosts) run(['ip', 'netns', 'exec', h.ns, 'nft', 'flush', 'chain', 'inet', TABLE, 'input']);
  }

  /** Counts the rules now installed on a host (to check that faults are really in place). */
  ruleCount(hostIndex: number): number {
    const out = run(['ip', 'netns', 'exec', this.host(hostIndex).ns, 'nft', 'list', 'chain', 'inet', TABLE, 'input']);
    return out.split('\n').filter((l) => /\bdrop\b/.test(l)).length;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.removeListener('exit', this.onExit);
    for (const r of this.relays) r.child.kill('SIGKILL');
    for (const h of this.hosts) run(['ip', 'netns', 'del', h.ns], true);
    removeStaleHosts(this.prefix);
  }

  private host(i: number): TestHost {
    const h = this.hosts[i];
    if (!h) throw new Error(`no host ${i}`);
    return h;
  }

  private addRule(hostIndex: number, rule: string): void {
    run(['ip', 'netns', 'exec', this.host(hostIndex).ns, 'nft', `add rule inet ${TABLE} input ${rule}`]);
  }
}
