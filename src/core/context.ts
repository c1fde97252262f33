// What every part of one member shares: who it is, its live knobs, the outside
// world (CoreEnv), its counters and its lifecycle flags. Parts receive this and
// the few other parts they use, never the whole node.
import type { SwimConfig } from '../base/swim-config.js';
import type { WireLimits } from '../wire/limits.js';
import type { WireSecurity } from '../wire/packet.js';
import type { Address, CoreEnv, CoreLogger } from '../base/env.js';
import type { IdentityRules } from './identity.js';
import type { Invariants } from './invariants.js';
import type { CoreStats } from './stats.js';

export interface Lifecycle {
  /** Between start() and shutdown(). */
  running: boolean;
  /** After shutdown(): every callback still pending does nothing. */
  stopped: boolean;
  /** After leave(): this member no longer defends itself. */
  leaving: boolean;
}

export interface CoreContext {
  readonly name: string;
  /** The knobs in force; updateTiming changes this object in place. */
  readonly cfg: SwimConfig;
  readonly env: CoreEnv;
  readonly log: CoreLogger;
  readonly stats: CoreStats;
  readonly limits: WireLimits;
  readonly security: WireSecurity;
  readonly invariants: Invariants;
  /** What an alive message must satisfy before it touches the view. */
  readonly identity: IdentityRules;
  readonly advertise: Address;
  readonly advertiseAddr: Uint8Array;
  readonly life: Lifecycle;
}
