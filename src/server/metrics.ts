/**
 * Prometheus metrics (DESIGN.md §8): pool units by state, split units, deferred bytes,
 * per-arena usage (read from the daemon at scrape time), RPC latency histograms by method and
 * status code (observed by the handlers), kernel call latencies (the daemon's observer hook),
 * and the transport's own connection and token counts. Served by metrics-endpoint.ts: on
 * metrics.sock, and on a TCP address only where the operator configures one (metrics.address).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { DEFAULT_CONFIG } from "../daemon/config.ts";
import type { DaemonObservability } from "../daemon/pool-service.ts";
import { LoopBusyMonitor } from "./loop-busy-monitor.ts";

/** RPC latency buckets, seconds: 50 µs .. 30 s (a 1-unit Allocate is ~0.3 ms, 1 GiB ~0.3 s). */
const RPC_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Loop busy buckets, seconds: 1 ms .. 10 s around the 10 ms a request may hold the loop (issue 12). */
const LOOP_BUSY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 10];
/** Kernel call buckets, seconds: 10 µs .. 10 s (2 MiB fallocate ~0.2 ms; 1 GiB guest_memfd ~0.2 s). */
const KERNEL_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 10];

export interface TransportGauges {
  apiConnections(): number;
  fdConnections(): number;
  pendingFdTokens(): number;
  watchStreams(): number;
}

/**
 * `histogram.observe(labels, v)` through a cache of the labelled children: prom-client hashes
 * the label object on every observe otherwise (~6-8 µs a call in the daemon's CPU profile of
 * bench allocate-breakdown, twice per 1-unit Allocate). The label sets are few (methods x codes,
 * kernel calls x results).
 */
function labelledObserver<T extends string>(histogram: Histogram<T>): (key: string, labels: Partial<Record<T, string>>, value: number) => void {
  const children = new Map<string, { observe(value: number): void }>();
  return (key, labels, value) => {
    let child = children.get(key);
    if (child === undefined) children.set(key, (child = histogram.labels(labels)));
    child.observe(value);
  };
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly #observeRpc: ReturnType<typeof labelledObserver<"method" | "code">>;
  readonly #rpcErrors: Counter<"method">;
  readonly #unsubscribe: () => void;
  readonly #loopBusy: LoopBusyMonitor | undefined;

  constructor(service: DaemonObservability, transport: TransportGauges, options: { readonly processMetrics?: boolean; readonly perArena?: boolean; readonly eventLoopResolutionMs?: number } = {}) {
    const registry = this.registry;
    if (options.processMetrics !== false) {
      // The loop-delay histogram (perf_hooks.monitorEventLoopDelay) samples on a timer of this
      // period: it cannot read a delay below it (prom-client's default of 10 ms shows an idle
      // loop as 10 ms). metrics.event_loop_resolution; 1 ms to check "no call blocks the loop
      // > 10 ms" (issue 12, bench flood).
      const resolutionMs = options.eventLoopResolutionMs ?? DEFAULT_CONFIG.metrics.eventLoopResolutionMs;
      collectDefaultMetrics({ register: registry, prefix: "gmempool_", eventLoopMonitoringPrecision: resolutionMs });
      this.#loopBusy = this.#monitorLoopBusy(resolutionMs);
      // prom-client names three gauges like counters (gmempool_nodejs_active_{handles,requests,
      // resources}_total), which `promtool check metrics` lints: "non-counter metrics should not
      // have "_total" suffix". Each is the sum of its labelled sibling (…_active_handles{type}),
      // so `sum(gmempool_nodejs_active_handles)` says the same; they go.
      for (const metric of registry.getMetricsAsArray()) {
        if (metric.name.endsWith("_total") && !(metric instanceof Counter)) registry.removeSingleMetric(metric.name);
      }
    }

    this.#observeRpc = labelledObserver(new Histogram({ name: "gmempool_rpc_duration_seconds", help: "gRPC call latency in seconds by method and status code", labelNames: ["method", "code"], buckets: RPC_BUCKETS, registers: [registry] }));
    const observeKernel = labelledObserver(new Histogram({ name: "gmempool_kernel_call_duration_seconds", help: "Kernel call latency in seconds by call (kernel spelling) and result (ok or errno)", labelNames: ["call", "result"], buckets: KERNEL_BUCKETS, registers: [registry] }));
    this.#unsubscribe = service.observeKernelCalls((sample) => {
      const result = sample.errno ?? "ok";
      observeKernel(`${sample.call} ${result}`, { call: sample.call, result }, sample.seconds);
    });

    // Pool figures are read from the daemon at scrape time, once per scrape: prom-client
    // collects in registration order, so the first gauge below takes the snapshot the others read.
    let snapshot: ReturnType<DaemonObservability["metrics"]> | undefined;
    const read = (): ReturnType<DaemonObservability["metrics"]> => (snapshot ??= service.metrics());
    new Gauge({
      name: "gmempool_pool_units",
      help: "Pool units (2 MiB) by state: free + reserved + claimed + leased = capacity",
      labelNames: ["state"],
      registers: [registry],
      collect() {
        snapshot = service.metrics();
        this.set({ state: "free" }, snapshot.freeUnits);
        this.set({ state: "claimed" }, snapshot.claimedUnits);
        this.set({ state: "leased" }, snapshot.leasedUnits);
        this.set({ state: "reserved" }, snapshot.reservedUnits);
      },
    });
    new Gauge({ name: "gmempool_pool_capacity_units", help: "Pool capacity in 2 MiB units", registers: [registry], collect() { this.set(read().capacityUnits); } });
    new Gauge({ name: "gmempool_split_units", help: "Leased units (2 MiB) whose 512 pages (4 KiB) are not all in one state", registers: [registry], collect() { this.set(read().splitUnits); } });
    new Gauge({ name: "gmempool_deferred_bytes", help: "Bytes discarded under the defer policy and still populated", registers: [registry], collect() { this.set(Number(read().deferredBytes)); } });
    new Gauge({ name: "gmempool_arenas", help: "Arenas, all owners", registers: [registry], collect() { this.set(read().arenaCount); } });
    new Gauge({ name: "gmempool_leases", help: "Leases, all owners", registers: [registry], collect() { this.set(read().leaseCount); } });
    // Arena figures summed over every arena: whoever reaches metrics.sock learns no owner's
    // arena ids or identity (DESIGN.md invariant 5). Per-arena series only when the operator
    // says the reader is trusted (metrics.per_arena).
    new Gauge({
      name: "gmempool_arena_units",
      help: "Units (2 MiB) of all arenas together, by kind: size, leased, populated",
      labelNames: ["kind"],
      registers: [registry],
      collect() {
        let size = 0;
        let leased = 0;
        let populated = 0;
        for (const a of read().arenas) {
          size += a.unitCount;
          leased += a.leasedUnitCount;
          populated += a.populatedUnitCount;
        }
        this.set({ kind: "size" }, size);
        this.set({ kind: "leased" }, leased);
        this.set({ kind: "populated" }, populated);
      },
    });
    if (options.perArena === true) {
      new Gauge({
        name: "gmempool_arena_units_by_arena",
        help: "Units (2 MiB) per arena, by kind: size, leased, populated (metrics.per_arena: shows arena ids and owner identities)",
        labelNames: ["arena_id", "owner", "kind"],
        registers: [registry],
        collect() {
          this.reset();
          for (const a of read().arenas) {
            this.set({ arena_id: a.arenaId, owner: a.owner, kind: "size" }, a.unitCount);
            this.set({ arena_id: a.arenaId, owner: a.owner, kind: "leased" }, a.leasedUnitCount);
            this.set({ arena_id: a.arenaId, owner: a.owner, kind: "populated" }, a.populatedUnitCount);
          }
        },
      });
    }
    new Gauge({
      name: "gmempool_connections",
      help: "Open connections by socket",
      labelNames: ["socket"],
      registers: [registry],
      collect() {
        this.set({ socket: "api" }, transport.apiConnections());
        this.set({ socket: "fd" }, transport.fdConnections());
      },
    });
    new Gauge({ name: "gmempool_fd_tokens_pending", help: "fd channel tokens issued and not yet used, cancelled or expired", registers: [registry], collect() { this.set(transport.pendingFdTokens()); } });
    new Gauge({ name: "gmempool_watch_streams", help: "Open Watch streams", registers: [registry], collect() { this.set(transport.watchStreams()); } });
    this.#rpcErrors = new Counter({ name: "gmempool_rpc_internal_errors_total", help: "Calls answered INTERNAL (daemon bugs or unclassified kernel errors)", labelNames: ["method"], registers: [registry] });
  }

  /**
   * The loop's busy stretches (loop-busy-monitor.ts): a histogram, and the longest since the last
   * scrape (reset by the scrape, as prom-client's nodejs_eventloop_lag_max_seconds is).
   */
  #monitorLoopBusy(resolutionMs: number): LoopBusyMonitor {
    const histogram = new Histogram({
      name: "gmempool_event_loop_busy_seconds",
      help: "Stretches in which the event loop was late and the daemon's thread was running (its own work, not waiting for a CPU), seconds",
      buckets: LOOP_BUSY_BUCKETS,
      registers: [this.registry],
    });
    let maxMs = 0;
    new Gauge({
      name: "gmempool_event_loop_busy_max_seconds",
      help: "Longest stretch since the last scrape in which the event loop was late and the daemon's thread was running, seconds",
      registers: [this.registry],
      collect() {
        this.set(maxMs / 1000);
        maxMs = 0;
      },
    });
    return new LoopBusyMonitor(resolutionMs, (busyMs) => {
      if (busyMs <= 0) return;
      histogram.observe(busyMs / 1000);
      if (busyMs > maxMs) maxMs = busyMs;
    });
  }

  /** One finished RPC: its method name ("Allocate"), gRPC status name ("OK") and latency. */
  observeRpc(method: string, code: string, seconds: number): void {
    this.#observeRpc(`${method} ${code}`, { method, code }, seconds);
    if (code === "INTERNAL") this.#rpcErrors.inc({ method });
  }

  close(): void {
    this.#unsubscribe();
    this.#loopBusy?.close();
  }
}
