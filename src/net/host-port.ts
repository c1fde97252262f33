import { isIP } from 'node:net';
import type { Address } from '../base/env.js';
import { SwimdError } from '../base/errors.js';

export class AddressError extends SwimdError {
  constructor(message: string) {
    super('ADDRESS_INVALID', message);
  }
}

/** Parses "1.2.3.4:7946", "[::1]:7946", "::1" or "1.2.3.4" (then `defaultPort`). Hosts must be IP literals. */
export function parseHostPort(text: string, defaultPort = 7946): Address {
  const s = text.trim();
  let host: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2];
  } else if (isIP(s) === 6) {
    host = s;
  } else {
    const i = s.lastIndexOf(':');
    host = i >= 0 ? s.slice(0, i) : s;
    portText = i >= 0 ? s.slice(i + 1) : undefined;
  }
  if (isIP(host) === 0) throw new AddressError(`expected an IP address such as 127.0.0.1:7946 or [::1]:7946, got "${text}"`);
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new AddressError(`port out of range in "${text}"`);
  return { host, port };
}

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, 253 bytes at most. */
const HOST_NAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export function isHostName(host: string): boolean {
  return isIP(host) === 0 && HOST_NAME.test(host) && !/^[0-9.]+$/.test(host);
}

/**
 * Like parseHostPort, but the host may also be a DNS name ("db-0.svc:7946",
 * "localhost:7946"), kept unresolved: the daemon resolves it when it needs it.
 */
export function parseHostOrNamePort(text: string, defaultPort = 7946): Address {
  try {
    return parseHostPort(text, defaultPort);
  } catch (err) {
    const s = text.trim();
    const i = s.lastIndexOf(':');
    const host = i >= 0 ? s.slice(0, i) : s;
    if (!isHostName(host)) {
      if (err instanceof AddressError && /port out of range/.test(err.message)) throw err;
      throw new AddressError(`expected host:port with an IP address or a host name, such as 127.0.0.1:7946, [::1]:7946 or db-0.svc:7946, got "${text}"`);
    }
    const port = i >= 0 ? Number(s.slice(i + 1)) : defaultPort;
    if (i >= 0 && !/^\d+$/.test(s.slice(i + 1))) throw new AddressError(`port out of range in "${text}"`);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new AddressError(`port out of range in "${text}"`);
    return { host: host.replace(/\.$/, ''), port };
  }
}
