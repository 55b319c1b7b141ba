/**
 * grpc.health.v1.Health (grpc's health checking protocol, what kubelet's gRPC probes,
 * grpc_health_probe and load balancers ask): Check, Watch and List over a table of service
 * statuses that the server sets ("" is the whole server).
 *
 * Ours rather than grpc-health-check's HealthImplementation, with the same answers, because
 * that package parses its .proto with proto-loader as it is imported (~40 ms of the daemon's
 * start-up, issue 12 item 7): the definition comes from @gmempool/contract, built from the
 * generated JSON like the API's. And a Watch stream is written to when the status changes, as
 * the protocol says, not on every set.
 */
import * as grpc from "@grpc/grpc-js";
import { healthPackageDefinition } from "@gmempool/contract";

export type ServingStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

/** grpc-health-check's bound on List (the protocol leaves it to the server). */
const LIST_LIMIT = 100;
const HEALTH_SERVICE = "grpc.health.v1.Health";

type Watcher = (status: ServingStatus) => void;
/** grpc.health.v1.HealthCheckRequest as the contract's loader options decode it. */
interface HealthCheckRequest {
  readonly service: string;
}

export class HealthService {
  readonly #statuses = new Map<string, ServingStatus>();
  readonly #watchers = new Map<string, Set<Watcher>>();

  constructor(initial: Readonly<Record<string, ServingStatus>>) {
    for (const [service, status] of Object.entries(initial)) this.#statuses.set(service, status);
  }

  setStatus(service: string, status: ServingStatus): void {
    if (this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    for (const watcher of this.#watchers.get(service) ?? []) watcher(status);
  }

  /** Open Watch streams (all services). */
  get watchCount(): number {
    let n = 0;
    for (const set of this.#watchers.values()) n += set.size;
    return n;
  }

  addToServer(server: grpc.Server): void {
    const definition = healthPackageDefinition()[HEALTH_SERVICE] as grpc.ServiceDefinition;
    server.addService(definition, {
      check: (call: grpc.ServerUnaryCall<HealthCheckRequest, object>, callback: grpc.sendUnaryData<object>) => {
        const status = this.#statuses.get(call.request.service);
        if (status === undefined) callback({ code: grpc.status.NOT_FOUND, details: `Health status unknown for service ${call.request.service}` });
        else callback(null, { status });
      },
      watch: (call: grpc.ServerWritableStream<HealthCheckRequest, object>) => {
        const service = call.request.service;
        const watcher: Watcher = (status) => call.write({ status });
        let set = this.#watchers.get(service);
        if (set === undefined) this.#watchers.set(service, (set = new Set()));
        set.add(watcher);
        const stop = (): void => {
          set.delete(watcher);
          if (set.size === 0 && this.#watchers.get(service) === set) this.#watchers.delete(service);
        };
        call.on("cancelled", stop);
        call.on("close", stop);
        call.write({ status: this.#statuses.get(service) ?? "SERVICE_UNKNOWN" });
      },
      list: (_call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
        if (this.#statuses.size > LIST_LIMIT) {
          callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: "Too many services to list." });
          return;
        }
        callback(null, { statuses: Object.fromEntries([...this.#statuses].map(([service, status]) => [service, { status }])) });
      },
    });
  }
}
