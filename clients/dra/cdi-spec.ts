/**
 * The CDI spec a prepared claim gets (Container Device Interface, cncf-tags/
 * container-device-interface SPEC.md): one JSON file per claim in the CDI directory
 * (`/var/run/cdi` by default), one device named after the claim UID, whose container edits give
 * the container the daemon's two sockets (bind mounts of api.sock and fd.sock) and the
 * reservation token (env GMEMPOOL_RESERVATION_TOKEN). kubelet hands the device id
 * `<kind>=<claim uid>` to the runtime, which applies the edits.
 *
 * The file holds a secret (the token): it is written 0600 (the runtime reads it as root), to a
 * temporary name and renamed, so a runtime never reads half a spec. The files are the plugin's
 * state across restarts, with the daemon's journal: the plugin keeps nothing in memory.
 */
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const CDI_VERSION = "0.6.0";
export const TOKEN_ENV = "GMEMPOOL_RESERVATION_TOKEN";

export interface CdiOptions {
  /** Directory the runtime reads specs from. */
  readonly cdiDir: string;
  /** CDI kind, "vendor/class": the driver name and "memory". */
  readonly kind: string;
  /** The daemon's sockets on the host, and where the container sees them. */
  readonly apiSocket: string;
  readonly fdSocket: string;
  readonly containerRuntimeDir: string;
}

export interface CdiSpec {
  readonly cdiVersion: string;
  readonly kind: string;
  readonly devices: readonly {
    readonly name: string;
    readonly containerEdits: {
      readonly env: readonly string[];
      readonly mounts: readonly { readonly hostPath: string; readonly containerPath: string; readonly options: readonly string[] }[];
    };
  }[];
}

export function cdiSpecFor(options: CdiOptions, claimUid: string, token: string): CdiSpec {
  const mount = (hostPath: string, name: string) => ({ hostPath, containerPath: `${options.containerRuntimeDir}/${name}`, options: ["bind", "rw"] });
  return {
    cdiVersion: CDI_VERSION,
    kind: options.kind,
    devices: [{ name: claimUid, containerEdits: { env: [`${TOKEN_ENV}=${token}`, `GMEMPOOL_RUNTIME_DIR=${options.containerRuntimeDir}`], mounts: [mount(options.apiSocket, "api.sock"), mount(options.fdSocket, "fd.sock")] } }],
  };
}

/** The fully qualified CDI device id of a claim's device. */
export function cdiDeviceId(kind: string, claimUid: string): string {
  return `${kind}=${claimUid}`;
}

function specPath(options: CdiOptions, claimUid: string): string {
  return join(options.cdiDir, `${options.kind.replace("/", "_")}-${claimUid}.json`);
}

export async function writeCdiSpec(options: CdiOptions, claimUid: string, token: string): Promise<string> {
  await mkdir(options.cdiDir, { recursive: true, mode: 0o755 });
  const path = specPath(options, claimUid);
  const tmp = `${path}.tmp`;
  await writeFile(tmp, `${JSON.stringify(cdiSpecFor(options, claimUid, token), null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
  return path;
}

/** Removes a claim's spec; one that is not there is fine (unprepare is retried). */
export async function removeCdiSpec(options: CdiOptions, claimUid: string): Promise<void> {
  await rm(specPath(options, claimUid), { force: true });
}

export function cdiSpecPath(options: CdiOptions, claimUid: string): string {
  return specPath(options, claimUid);
}
