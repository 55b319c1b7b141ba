/**
 * gmempool's DRA kubelet plugin (issue 11): kubelet's registration service and DRA node service
 * on their unix sockets, each claim prepared as a reservation in the daemon's pool.
 *
 * Why a process of its own (`gmempool dra`) and not a mode of `serve`: it is a client of the
 * daemon like any VMM (the client library, as the admin identity), so a bug or a hang in
 * Kubernetes-facing code cannot take the memory daemon down, and the daemon keeps no
 * Kubernetes code. It keeps no state in memory either: a claim's reservation is in the daemon's
 * journal (Reserve is idempotent per claim UID and returns the same token) and its CDI spec is a
 * file, so a plugin restarted (even after kill -9) answers a repeated prepare or the unprepare
 * exactly as the first one would have.
 *
 * Prepare: read the claim (claim-capacity.ts), Reserve its bytes, write its CDI spec, answer its
 * CDI device id. Unprepare: Unreserve (an unknown claim is fine: kubelet retries), remove the
 * spec. Claims of one call run concurrently; each answers its own error.
 */
import { mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { ResourceV1ResourceClaim } from "@kubernetes/client-node";
import type { PoolClient } from "../node/src/pool-client.ts";
import { cdiDeviceId, removeCdiSpec, writeCdiSpec, type CdiOptions } from "./cdi-spec.ts";
import { claimDemand } from "./claim-capacity.ts";
import { draServices, registrationService, SUPPORTED_VERSIONS, type KubeletClaim, type PrepareResult } from "./kubelet-apis.ts";

export interface ClaimReader {
  read(namespace: string, name: string): Promise<ResourceV1ResourceClaim>;
}

export interface DraPluginOptions {
  readonly driverName: string;
  /** kubelet's plugins_registry socket for this driver (`<dir>/<driver>-reg.sock`). */
  readonly registrationSocket: string;
  /** The DRA service's socket (`/var/lib/kubelet/plugins/<driver>/dra.sock`). */
  readonly pluginSocket: string;
  readonly cdi: CdiOptions;
  readonly pool: PoolClient;
  readonly claims: ClaimReader;
  readonly log?: (message: string) => void;
}

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void;

function unary<Req, Res>(run: (request: Req) => Promise<Res> | Res): Unary<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => run(call.request))
      .then((response) => callback(null, response), (error: unknown) => callback({ code: grpc.status.INTERNAL, details: error instanceof Error ? error.message : String(error) }));
  };
}

export class DraPlugin {
  readonly #options: DraPluginOptions;
  readonly #servers: grpc.Server[] = [];
  /** The last registration status kubelet sent (diagnostics). */
  registered: { readonly ok: boolean; readonly error: string } | undefined;

  constructor(options: DraPluginOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    const o = this.#options;
    const dra = new grpc.Server();
    const handlers = {
      NodePrepareResources: unary((r: { claims: KubeletClaim[] }) => this.prepare(r.claims)),
      NodeUnprepareResources: unary((r: { claims: KubeletClaim[] }) => this.unprepare(r.claims)),
    };
    dra.addService(draServices.v1.service, handlers);
    dra.addService(draServices.v1beta1.service, handlers);
    await this.#listen(dra, o.pluginSocket);
    // Registration last: kubelet calls the DRA socket as soon as it sees this one.
    const registration = new grpc.Server();
    registration.addService(registrationService.service, {
      GetInfo: unary(() => ({ type: "DRAPlugin", name: o.driverName, endpoint: o.pluginSocket, supported_versions: SUPPORTED_VERSIONS })),
      NotifyRegistrationStatus: unary((r: { plugin_registered: boolean; error: string }) => {
        this.registered = { ok: r.plugin_registered, error: r.error };
        o.log?.(r.plugin_registered ? "registered with kubelet" : `kubelet refused the registration: ${r.error}`);
        return {};
      }),
    });
    await this.#listen(registration, o.registrationSocket);
  }

  async #listen(server: grpc.Server, socket: string): Promise<void> {
    await mkdir(dirname(socket), { recursive: true });
    // A socket left by a previous instance (kill -9) is ours to replace (pluginwatcher README).
    await rm(socket, { force: true });
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (error) => (error === null ? resolve() : reject(error))));
    this.#servers.push(server);
  }

  async prepare(claims: readonly KubeletClaim[]): Promise<{ claims: Record<string, PrepareResult> }> {
    const entries = await Promise.all(claims.map(async (c) => [c.uid, await this.#prepareOne(c)] as const));
    return { claims: Object.fromEntries(entries) };
  }

  async #prepareOne(claim: KubeletClaim): Promise<PrepareResult> {
    const o = this.#options;
    try {
      const demand = claimDemand(await o.claims.read(claim.namespace, claim.name), o.driverName, claim.uid);
      const { token } = await o.pool.reserve(claim.uid, demand.sizeBytes);
      await writeCdiSpec(o.cdi, claim.uid, token);
      const id = cdiDeviceId(o.cdi.kind, claim.uid);
      return { devices: demand.results.map((r) => ({ request_names: [r.request], pool_name: r.pool, device_name: r.device, cdi_device_ids: [id] })), error: "" };
    } catch (error) {
      const message = `prepare claim ${claim.namespace}/${claim.name} (${claim.uid}): ${error instanceof Error ? error.message : String(error)}`;
      o.log?.(message);
      return { devices: [], error: message };
    }
  }

  async unprepare(claims: readonly KubeletClaim[]): Promise<{ claims: Record<string, { error: string }> }> {
    const o = this.#options;
    const entries = await Promise.all(claims.map(async (c): Promise<readonly [string, { error: string }]> => {
      try {
        await o.pool.unreserve(c.uid);
        await removeCdiSpec(o.cdi, c.uid);
        return [c.uid, { error: "" }] as const;
      } catch (error) {
        return [c.uid, { error: `unprepare claim ${c.namespace}/${c.name} (${c.uid}): ${error instanceof Error ? error.message : String(error)}` }] as const;
      }
    }));
    return { claims: Object.fromEntries(entries) };
  }

  async stop(): Promise<void> {
    await Promise.all(this.#servers.map((s) => new Promise<void>((resolve) => s.tryShutdown(() => resolve()))));
    await rm(this.#options.registrationSocket, { force: true });
  }
}
