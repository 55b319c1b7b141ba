/**
 * The kubelet's side of the plugin APIs, for tests: gRPC clients of the plugin's registration
 * socket and its DRA socket (v1), over the real unix sockets, with the real protos.
 */
import * as grpc from "@grpc/grpc-js";
import { draServices, registrationService, type KubeletClaim, type PrepareResult } from "../kubelet-apis.ts";

type Callback<T> = (error: grpc.ServiceError | null, value?: T) => void;
type Method<Req, Res> = (request: Req, callback: Callback<Res>) => void;

function call<Res>(client: grpc.Client, name: string, request: object): Promise<Res> {
  const method = (client as unknown as Record<string, Method<object, Res>>)[name]!;
  return new Promise((resolve, reject) => method.call(client, request, (error, value) => (error === null ? resolve(value as Res) : reject(error))));
}

export class FakeKubelet {
  readonly #registration: grpc.Client;
  readonly #dra: grpc.Client;

  constructor(registrationSocket: string, pluginSocket: string) {
    this.#registration = new registrationService(`unix:${registrationSocket}`, grpc.credentials.createInsecure());
    this.#dra = new draServices.v1(`unix:${pluginSocket}`, grpc.credentials.createInsecure());
  }

  getInfo(): Promise<{ type: string; name: string; endpoint: string; supported_versions: string[] }> {
    return call(this.#registration, "GetInfo", {});
  }

  notifyRegistrationStatus(registered: boolean, error = ""): Promise<object> {
    return call(this.#registration, "NotifyRegistrationStatus", { plugin_registered: registered, error });
  }

  async prepare(claims: readonly KubeletClaim[]): Promise<Record<string, PrepareResult>> {
    return (await call<{ claims: Record<string, PrepareResult> }>(this.#dra, "NodePrepareResources", { claims })).claims;
  }

  async unprepare(claims: readonly KubeletClaim[]): Promise<Record<string, { error: string }>> {
    return (await call<{ claims: Record<string, { error: string }> }>(this.#dra, "NodeUnprepareResources", { claims })).claims;
  }

  close(): void {
    this.#registration.close();
    this.#dra.close();
  }
}
