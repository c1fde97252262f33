// pino JSON logs; the core logs through the CoreLogger adapter so it never
// formats a message unless the level is enabled.
import { pino, type Logger } from 'pino';
import type { CoreLogger } from '../base/env.js';
import type { LogLevel } from '../config/daemon-config.js';

export function createLogger(level: LogLevel, name: string): Logger {
  return pino({ level, base: { node: name } });
}

export function coreLoggerOf(log: Logger): CoreLogger {
  return {
    isLevelEnabled: (level) => log.isLevelEnabled(level),
    log: (level, msg, fields) => log[level](fields ?? {}, msg),
  };
}
