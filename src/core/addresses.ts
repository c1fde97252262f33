// IP addresses as strings (the transports' form) and as 4/16 raw bytes (the wire form).
import { isIPv4, isIPv6 } from 'node:net';

export function ipToBytes(host: string): Uint8Array {
  if (isIPv4(host)) return Uint8Array.from(host.split('.').map(Number));
  if (isIPv6(host)) {
    const [head, tail] = host.includes('::') ? host.split('::') : [host, undefined];
    const parse = (s: string | undefined): number[] => (s ? s.split(':').filter((x) => x !== '') : []).map((x) => parseInt(x, 16));
    const h = parse(head);
    const t = parse(tail);
    const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
    const out = new Uint8Array(16);
    groups.forEach((g, i) => {
      out[2 * i] = g >> 8;
      out[2 * i + 1] = g & 0xff;
    });
    return out;
  }
  throw new Error(`not an IP address: ${host}`);
}

export function bytesToIp(b: Uint8Array): string | null {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
    return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
  }
  return null;
}
