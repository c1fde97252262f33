// The four prom-client classes the daemon uses, loaded from their own files:
// prom-client's index also loads its default collectors, push gateway, cluster
// aggregator and OpenTelemetry (83 modules, about 1.2 MB and 30 ms of CPU per
// daemon start); these four load 8. Every daemon module takes them from here.
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

const load = createRequire(import.meta.url);
export const Registry: typeof Prom.Registry = load('prom-client/lib/registry');
export const Counter: typeof Prom.Counter = load('prom-client/lib/counter');
export const Gauge: typeof Prom.Gauge = load('prom-client/lib/gauge');
export const Histogram: typeof Prom.Histogram = load('prom-client/lib/histogram');
export type Registry = Prom.Registry;
export type Counter<T extends string> = Prom.Counter<T>;
export type Gauge<T extends string> = Prom.Gauge<T>;
export type Histogram<T extends string> = Prom.Histogram<T>;
