/**
 * kubelet's plugin APIs, loaded from ./proto (see its README: Kubernetes' wire contract, kept
 * apart from gmempool's) with proto-loader: the registration service and the DRA node service in
 * its two versions (v1: kubelet 1.34+, DRA GA; v1beta1: older kubelets). Both versions have the
 * same messages, so one handler serves both.
 */
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const PROTO_ROOT = fileURLToPath(new URL("./proto/", import.meta.url));

export const REGISTRATION_SERVICE = "pluginregistration.Registration";
export const DRA_SERVICES = { v1: "k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin", v1beta1: "k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin" } as const;
/** What GetInfo lists in supported_versions: the services' names past their package's version. */
export const SUPPORTED_VERSIONS = ["v1.DRAPlugin", "v1beta1.DRAPlugin"];

/** The messages as proto-loader hands them over (keepCase: the proto's snake_case names). */
export interface KubeletClaim {
  readonly namespace: string;
  readonly uid: string;
  readonly name: string;
}
export interface PreparedDevice {
  readonly request_names: string[];
  readonly pool_name: string;
  readonly device_name: string;
  readonly cdi_device_ids: string[];
}
export interface PrepareResult {
  readonly devices: PreparedDevice[];
  readonly error: string;
}

const definition = protoLoader.loadSync(["pluginregistration/v1/api.proto", "dra/v1/api.proto", "dra/v1beta1/api.proto"], {
  includeDirs: [PROTO_ROOT],
  keepCase: true,
  defaults: true,
  arrays: true,
  objects: true,
});
const loaded = grpc.loadPackageDefinition(definition);

function lookup(name: string): grpc.ServiceClientConstructor {
  let node: unknown = loaded;
  for (const part of name.split(".")) node = (node as Record<string, unknown>)[part];
  if (typeof node !== "function") throw new Error(`kubelet-apis: ${name} is not a loaded service`);
  return node as grpc.ServiceClientConstructor;
}

export const registrationService = lookup(REGISTRATION_SERVICE);
export const draServices = { v1: lookup(DRA_SERVICES.v1), v1beta1: lookup(DRA_SERVICES.v1beta1) };
