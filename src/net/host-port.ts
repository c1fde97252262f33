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
