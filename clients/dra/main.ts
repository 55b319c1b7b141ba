/**
 * `gmempool dra`: the DRA kubelet plugin (dra-plugin.ts) as a process. Every path has a flag;
 * the defaults are kubelet's (plugins_registry, plugins/<driver>) and CDI's (/var/run/cdi).
 * Stops on SIGTERM / SIGINT (its registration socket removed, so kubelet unregisters it);
 * reservations stay in the daemon for a restarted plugin.
 */
import { join } from "node:path";
import { Command } from "commander";
import { PoolClient } from "../node/src/pool-client.ts";
import { defaultRuntimeDir } from "../node/src/runtime-dir.ts";
import { DraPlugin } from "./dra-plugin.ts";
import { ResourceV1Api } from "@kubernetes/client-node";
import { kubeClaimReader, kubeConfig } from "./kube-claim-reader.ts";
import { SlicePublisher } from "./slice-publisher.ts";

export const DEFAULT_DRIVER = "gmempool.dra";

const program = new Command("gmempool dra")
  .description("DRA kubelet plugin: prepares ResourceClaims as gmempool reservations")
  .option("--driver-name <name>", "DRA driver name (a DNS subdomain)", DEFAULT_DRIVER)
  .option("--runtime-dir <dir>", "the daemon's runtime directory (api.sock, fd.sock)", defaultRuntimeDir())
  .option("--plugins-registry <dir>", "kubelet's plugin registration directory", "/var/lib/kubelet/plugins_registry")
  .option("--plugin-dir <dir>", "this plugin's directory (default /var/lib/kubelet/plugins/<driver>)")
  .option("--cdi-dir <dir>", "CDI spec directory", "/var/run/cdi")
  .option("--container-runtime-dir <dir>", "where a container sees the daemon's sockets", "/run/gmempool")
  .option("--kubeconfig <file>", "kubeconfig (default: in-cluster service account)")
  .option("--node-name <name>", "this node's name: publish its ResourceSlice (default $NODE_NAME; none: no publication)", process.env["NODE_NAME"]);

program.parse(process.argv.slice(process.argv[2] === "dra" ? 3 : 2), { from: "user" });
const o = program.opts<{ driverName: string; runtimeDir: string; pluginsRegistry: string; pluginDir?: string; cdiDir: string; containerRuntimeDir: string; kubeconfig?: string; nodeName?: string }>();
const pluginDir = o.pluginDir ?? join("/var/lib/kubelet/plugins", o.driverName);
const log = (message: string): void => void process.stderr.write(`gmempool dra: ${message}\n`);

const pool = await PoolClient.connect({ runtimeDir: o.runtimeDir });
const kc = kubeConfig(o.kubeconfig);
const plugin = new DraPlugin({
  driverName: o.driverName,
  registrationSocket: join(o.pluginsRegistry, `${o.driverName}-reg.sock`),
  pluginSocket: join(pluginDir, "dra.sock"),
  cdi: { cdiDir: o.cdiDir, kind: `${o.driverName}/memory`, apiSocket: join(o.runtimeDir, "api.sock"), fdSocket: join(o.runtimeDir, "fd.sock"), containerRuntimeDir: o.containerRuntimeDir },
  pool,
  claims: kubeClaimReader(kc),
  log,
});
await plugin.start();
const publisher = o.nodeName === undefined ? undefined : new SlicePublisher({ driver: o.driverName, nodeName: o.nodeName, pool, api: kc.makeApiClient(ResourceV1Api), log });
if (publisher === undefined) log("no --node-name / $NODE_NAME: the ResourceSlice is not published");
else await publisher.start();
log(`serving ${pluginDir}/dra.sock, registered as ${o.pluginsRegistry}/${o.driverName}-reg.sock`);
const stop = (): void => {
  publisher?.stop();
  void plugin.stop().finally(() => {
    pool.close();
    process.exit(0);
  });
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
