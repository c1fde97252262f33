// The composition of a running member: real UDP and TCP on one port, the real
// clock and randomness, and the protocol core.
import type { SwimConfig } from '../base/swim-config.js';
import type { Address, CoreLogger, Random, Scheduler } from '../base/env.js';
import { SwimNode } from '../core/swim-node.js';
import { CryptoRandom, RealScheduler } from '../net/real-env.js';
import { TcpTransport } from '../net/tcp-transport.js';
import { UdpTransport } from '../net/udp-transport.js';
import { DEFAULT_WIRE_LIMITS } from '../wire/limits.js';

export interface AgentOptions {
  name: string;
  bind: Address;
  advertise?: Address | null;
  join?: Address[];
  config: SwimConfig;
  meta?: Uint8Array;
  logger?: CoreLogger;
  transport?: { udpRecvBufferBytes?: number; udpSendBufferBytes?: number; maxInboundStreams?: number };
}

export class Agent {
  private constructor(
    readonly node: SwimNode,
    readonly address: Address,
    private readonly udp: UdpTransport,
    private readonly tcp: TcpTransport,
    /** The clock and randomness the node runs on, for what runs beside it (partition ownership). */
    readonly env: { scheduler: Scheduler; random: Random },
  ) {}

  static async start(opts: AgentOptions): Promise<Agent> {
    const scheduler = new RealScheduler();
    const limits = { ...DEFAULT_WIRE_LIMITS, maxPushPullNodes: opts.config.maxPushPullNodes };
    const tcp = await TcpTransport.open({ bind: opts.bind, limits, maxInboundStreams: opts.transport?.maxInboundStreams ?? opts.config.maxConcurrentPushPulls, inboundTimeoutMs: opts.config.tcpTimeoutMs });
    // UDP takes the same port as TCP (memberlist binds both), also when port 0 picked one.
    const port = tcp.address().port;
    let udp: UdpTransport;
    try {
      udp = await UdpTransport.open({
        bind: { host: opts.bind.host, port },
        maxPacketBytes: limits.maxPacketBytes,
        now: () => scheduler.nowMs(),
        ...(opts.transport?.udpRecvBufferBytes ? { recvBufferBytes: opts.transport.udpRecvBufferBytes } : {}),
        ...(opts.transport?.udpSendBufferBytes ? { sendBufferBytes: opts.transport.udpSendBufferBytes } : {}),
      });
    } catch (err) {
      await tcp.close();
      throw err;
    }
    const bound = { host: opts.bind.host, port };
    const advertise = opts.advertise ?? (bound.host === '0.0.0.0' || bound.host === '::' ? { host: '127.0.0.1', port } : bound);
    const random = new CryptoRandom();
    const node = new SwimNode({
      name: opts.name,
      advertise,
      config: opts.config,
      env: { scheduler, random, packets: udp, streams: tcp, ...(opts.logger ? { logger: opts.logger } : {}) },
      ...(opts.meta ? { meta: opts.meta } : {}),
    });
    node.start();
    const agent = new Agent(node, advertise, udp, tcp, { scheduler, random });
    const seeds = opts.join ?? [];
    node.setSeeds(seeds);
    if (seeds.length > 0) {
      node.join(seeds, (err, contacted) => {
        // Not fatal: the reconnect loop keeps retrying the seeds.
        if (err) opts.logger?.log('warn', 'join failed; will keep retrying the seeds', { err: err.message });
        else opts.logger?.log('info', 'joined', { contacted });
      });
    }
    return agent;
  }

  leave(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.node.leave(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  async shutdown(): Promise<void> {
    this.node.shutdown();
    await Promise.all([this.udp.close(), this.tcp.close()]);
  }

  transportStats(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(this.udp.counters)) out[`udp_${k}`] = v;
    for (const [k, v] of Object.entries(this.tcp.counters)) out[`tcp_${k}`] = v;
    return out;
  }
}
