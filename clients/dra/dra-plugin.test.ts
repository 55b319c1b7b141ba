/**
 * The DRA kubelet plugin end to end (issue 11): the real daemon (SpawnedDaemon, reserve none),
 * the real plugin process (`gmempool dra`), a fake kubelet over the plugin's real unix sockets
 * and real protos, and a local HTTP server as the API server (no real cluster). Each claim
 * becomes a reservation in the daemon and a CDI spec; a VMM client creates its arena with the
 * token from the spec; kill -9 of the plugin loses nothing (its state is the daemon's journal
 * and the CDI files).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { closeFd } from "@gmempool/sys";
import { PoolClient } from "../node/src/pool-client.ts";
import { GMEMPOOL_BIN, SpawnedDaemon, testConfig } from "../node/src/testing/spawned-daemon.ts";
import { testTempDir } from "../node/src/testing/temp-dir.ts";
import { TOKEN_ENV, type CdiSpec } from "./cdi-spec.ts";
import { FakeApiServer } from "./testing/fake-api-server.ts";
import { FakeKubelet } from "./testing/fake-kubelet.ts";

const MiB = 1024n * 1024n;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * Resolves when the plugin logs that it serves (after both sockets listen: a socket file alone
 * may be a killed instance's).
 */
function serving(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes("gmempool dra: serving")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`the plugin exited (${code}) before serving: ${text}`)));
  });
}

describe("gmempool dra: a fake kubelet drives the real plugin", () => {
  let daemon: SpawnedDaemon;
  let api: FakeApiServer;
  let pool: PoolClient;
  let dir: string;
  let plugin: ChildProcess | undefined;
  let kubelet: FakeKubelet | undefined;
  const paths = () => ({ registry: join(dir, "plugins_registry"), pluginDir: join(dir, "plugins/gmempool.dra"), cdi: join(dir, "cdi") });
  const regSocket = () => join(paths().registry, "gmempool.dra-reg.sock");
  const draSocket = () => join(paths().pluginDir, "dra.sock");

  async function startPlugin(): Promise<void> {
    const p = paths();
    const kubeconfig = await api.writeKubeconfig(dir);
    const child = spawn(process.execPath, [GMEMPOOL_BIN, "dra", "--runtime-dir", daemon.dir, "--plugins-registry", p.registry, "--plugin-dir", p.pluginDir, "--cdi-dir", p.cdi, "--kubeconfig", kubeconfig], { stdio: ["ignore", "ignore", "pipe"] });
    plugin = child;
    await serving(child);
    kubelet = new FakeKubelet(regSocket(), draSocket());
  }

  async function killPlugin(signal: NodeJS.Signals): Promise<void> {
    kubelet?.close();
    const child = plugin;
    if (child === undefined || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill(signal);
    });
  }

  async function status() {
    const s = await pool.getPoolStatus();
    return { free: s.freeUnitCount, reserved: s.reservedUnitCount, leased: s.leasedUnitCount };
  }

  before(async () => {
    dir = await testTempDir("dra-");
    daemon = await SpawnedDaemon.start({ config: testConfig({ capacity: "64MiB" }) });
    pool = await PoolClient.connect({ runtimeDir: daemon.dir, deadlineMs: 10_000 });
    api = new FakeApiServer();
    await api.start();
    await startPlugin();
  });
  after(async () => {
    await killPlugin("SIGTERM");
    pool.close();
    await api.stop();
    await daemon.stop();
    daemon.removeDir();
  });

  test("registration: GetInfo names the driver, its socket and the DRA versions; NotifyRegistrationStatus is taken", async () => {
    const info = await kubelet!.getInfo();
    assert.deepEqual(info, { type: "DRAPlugin", name: "gmempool.dra", endpoint: draSocket(), supported_versions: ["v1.DRAPlugin", "v1beta1.DRAPlugin"] });
    assert.deepEqual(await kubelet!.notifyRegistrationStatus(true), {});
  });

  test("prepare reserves the claim (2 MiB-rounded) and writes its CDI spec; a repeat answers the same; unprepare frees it", async () => {
    api.putClaim("vms", "vm-a", "uid-a", "5Mi");
    const claim = { namespace: "vms", name: "vm-a", uid: "uid-a" };
    const first = await kubelet!.prepare([claim]);
    assert.deepEqual(first["uid-a"], { devices: [{ request_names: ["mem"], pool_name: "node-a", device_name: "memory", cdi_device_ids: ["gmempool.dra/memory=uid-a"] }], error: "" });
    assert.deepEqual(await status(), { free: 29, reserved: 3, leased: 0 });
    const specPath = join(paths().cdi, "gmempool.dra_memory-uid-a.json");
    const spec = JSON.parse(await readFile(specPath, "utf8")) as CdiSpec;
    assert.equal(spec.kind, "gmempool.dra/memory");
    const device = spec.devices[0]!;
    assert.equal(device.name, "uid-a");
    assert.deepEqual(device.containerEdits.mounts.map((m) => m.hostPath), [join(daemon.dir, "api.sock"), join(daemon.dir, "fd.sock")]);
    assert.equal(((await stat(specPath)).mode & 0o777).toString(8), "600");
    const tokenOf = (s: CdiSpec) => s.devices[0]!.containerEdits.env.find((e) => e.startsWith(`${TOKEN_ENV}=`));
    const token = tokenOf(spec);
    assert.match(token ?? "", /^GMEMPOOL_RESERVATION_TOKEN=[0-9a-f]{32}$/);
    assert.deepEqual(await kubelet!.prepare([claim]), first);
    assert.equal(tokenOf(JSON.parse(await readFile(specPath, "utf8")) as CdiSpec), token);
    assert.deepEqual(await status(), { free: 29, reserved: 3, leased: 0 });
    assert.deepEqual(await kubelet!.unprepare([claim]), { "uid-a": { error: "" } });
    assert.deepEqual(await kubelet!.unprepare([claim]), { "uid-a": { error: "" } });
    assert.equal(await exists(specPath), false);
    assert.deepEqual(await status(), { free: 32, reserved: 0, leased: 0 });
  });

  test("concurrent claims each get their own reservation; one bigger than the free pool fails precisely and reserves nothing", async () => {
    const claims = ["c1", "c2", "c3"].map((n) => ({ namespace: "vms", name: n, uid: `uid-${n}` }));
    for (const c of claims) api.putClaim(c.namespace, c.name, c.uid, "16Mi");
    api.putClaim("vms", "huge", "uid-huge", "1Gi");
    const answers = await Promise.all([kubelet!.prepare(claims.slice(0, 2)), kubelet!.prepare([claims[2]!]), kubelet!.prepare([{ namespace: "vms", name: "huge", uid: "uid-huge" }])]);
    const all = Object.assign({}, ...answers) as Record<string, { error: string }>;
    for (const c of claims) assert.equal(all[c.uid]?.error, "");
    assert.match(all["uid-huge"]?.error ?? "", /prepare claim vms\/huge \(uid-huge\): .*claim "uid-huge": requested 512 units, 8 free in the pool of 32/);
    assert.deepEqual(await status(), { free: 8, reserved: 24, leased: 0 });
    assert.deepEqual((await pool.listReservations()).map((r) => r.claimUid), ["uid-c1", "uid-c2", "uid-c3"]);
    await kubelet!.unprepare(claims);
    assert.deepEqual(await status(), { free: 32, reserved: 0, leased: 0 });
  });

  test("a claim that is not ours or not allocated answers an error naming it", async () => {
    api.putClaim("vms", "gpu", "uid-gpu", "1Mi", "gpu.example.com");
    const answer = await kubelet!.prepare([{ namespace: "vms", name: "gpu", uid: "uid-gpu" }, { namespace: "vms", name: "missing", uid: "uid-missing" }]);
    assert.match(answer["uid-gpu"]?.error ?? "", /has no device of driver gmempool\.dra/);
    assert.match(answer["uid-missing"]?.error ?? "", /prepare claim vms\/missing/);
    assert.equal((await status()).reserved, 0);
  });

  test("end to end: prepare, a VMM makes its arena with the token (units leased, not reserved), kill -9 of the plugin, restart, unprepare, all free", async () => {
    api.putClaim("vms", "vm-e", "uid-e", "8Mi");
    const claim = { namespace: "vms", name: "vm-e", uid: "uid-e" };
    assert.equal((await kubelet!.prepare([claim]))["uid-e"]?.error, "");
    const spec = JSON.parse(await readFile(join(paths().cdi, "gmempool.dra_memory-uid-e.json"), "utf8")) as CdiSpec;
    const token = spec.devices[0]!.containerEdits.env.find((e) => e.startsWith(`${TOKEN_ENV}=`))!.slice(TOKEN_ENV.length + 1);
    const vmm = await PoolClient.connect({ runtimeDir: daemon.dir, deadlineMs: 10_000 });
    const { arena, memfd } = await vmm.createMemfdArena({ sizeBytes: 8n * MiB, reservationToken: token });
    try {
      await vmm.allocate(arena.arenaId, { unitCount: 4 });
      assert.deepEqual(await status(), { free: 28, reserved: 0, leased: 4 });
      await killPlugin("SIGKILL");
      await startPlugin();
      assert.deepEqual(await kubelet!.unprepare([claim]), { "uid-e": { error: "" } });
      // The live arena stays its owner's; the claim's remainder (none here) went back.
      assert.deepEqual(await status(), { free: 28, reserved: 0, leased: 4 });
      await vmm.deleteArena(arena.arenaId, { releaseLeases: true });
    } finally {
      closeFd(memfd);
      vmm.close();
    }
    assert.deepEqual(await status(), { free: 32, reserved: 0, leased: 0 });
    assert.equal(await exists(join(paths().cdi, "gmempool.dra_memory-uid-e.json")), false);
  });
});
