/**
 * ResourceSlice publication (issue 11) against a local HTTP server standing in for the API
 * server (no real cluster): the real daemon, the publisher on the client library and
 * @kubernetes/client-node's ResourceV1Api. Every body sent is checked against the library's
 * own V1ResourceSlice model (testing/k8s-schema.ts), and the capacity against the daemon.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ResourceV1Api } from "@kubernetes/client-node";
import { PoolClient } from "../node/src/pool-client.ts";
import { SpawnedDaemon, testConfig } from "../node/src/testing/spawned-daemon.ts";
import { testTempDir } from "../node/src/testing/temp-dir.ts";
import { kubeConfig } from "./kube-claim-reader.ts";
import { resourceSliceFor, sliceName } from "./resource-slice.ts";
import { SlicePublisher } from "./slice-publisher.ts";
import { FakeApiServer } from "./testing/fake-api-server.ts";
import { schemaErrors } from "./testing/k8s-schema.ts";

const UNIT = 2n * 1024n * 1024n;
const SLICES = "/apis/resource.k8s.io/v1/resourceslices";

interface WireSlice {
  metadata: { name: string; resourceVersion?: string };
  spec: { pool: { generation: number }; devices: { capacity: { memory: { value: string; requestPolicy: Record<string, unknown> } }; allowMultipleAllocations: boolean }[] };
}

describe("ResourceSlice publication", () => {
  let daemon: SpawnedDaemon;
  let pool: PoolClient;
  let api: FakeApiServer;
  let version = 0;
  before(async () => {
    daemon = await SpawnedDaemon.start({ config: testConfig({ capacity: "64MiB" }) });
    pool = await PoolClient.connect({ runtimeDir: daemon.dir, deadlineMs: 10_000 });
    api = new FakeApiServer();
    const name = sliceName("gmempool.dra", "node-a");
    const stored = (body: unknown) => ({ ...(body as WireSlice), metadata: { ...(body as WireSlice).metadata, resourceVersion: String(++version) } });
    api.handlers.set(`POST ${SLICES}`, (body) => ({ status: 201, body: stored(body) }));
    api.handlers.set(`PUT ${SLICES}/${name}`, (body) => ({ status: 200, body: stored(body) }));
    await api.start();
  });
  after(async () => {
    pool.close();
    await api.stop();
    await daemon.stop();
    daemon.removeDir();
  });

  test("the slice body is a valid V1ResourceSlice of the library, with consumable memory capacity in 2 MiB steps", () => {
    const body = resourceSliceFor({ driver: "gmempool.dra", nodeName: "node-a", generation: 1, claimableUnits: 32 });
    assert.deepEqual(schemaErrors(JSON.parse(JSON.stringify(body).replace('"_default"', '"default"')), "V1ResourceSlice"), []);
    assert.deepEqual(schemaErrors({ spec: { devices: [{ capacity: { memory: { value: "1", step: "2Mi" } } }] } }, "V1ResourceSlice"), ['$.spec.devices[0].capacity.memory.step: V1DeviceCapacity has no field "step"']);
  });

  test("published at start and after changes, at most once per interval, each body valid and true to the daemon", async () => {
    const dir = await testTempDir("slices-");
    const kc = kubeConfig(await api.writeKubeconfig(dir));
    const publisher = new SlicePublisher({ driver: "gmempool.dra", nodeName: "node-a", pool, api: kc.makeApiClient(ResourceV1Api), minIntervalMs: 200 });
    await publisher.start();
    try {
      const writes = () => api.requests.filter((r) => r.path.startsWith(SLICES));
      assert.equal(writes().length, 1);
      assert.equal(writes()[0]?.method, "POST");
      // A burst of changes: one reservation, a memfd arena outside any claim, a lease in it.
      await pool.reserve("claim-1", 8n * UNIT);
      const { arena, memfd } = await pool.createMemfdArena({ sizeBytes: 4n * UNIT });
      await pool.allocate(arena.arenaId, { unitCount: 4 });
      for (let i = 0; i < 5; i++) publisher.changed();
      await publisher.flushed();
      const all = writes();
      assert.ok(all.length >= 2 && all.length <= 4, `${all.length} writes`);
      for (const w of all) assert.deepEqual(schemaErrors(w.body, "V1ResourceSlice"), [], JSON.stringify(w.body));
      const last = all[all.length - 1]!.body as WireSlice;
      assert.equal(all[all.length - 1]!.method, "PUT");
      assert.equal(last.metadata.resourceVersion, String(version - 1));
      // 32 units − 4 leased outside claims = 28 claimable (the claim's 8 included: the scheduler subtracts it).
      assert.equal(last.spec.devices[0]!.capacity.memory.value, String(28n * UNIT));
      assert.deepEqual(last.spec.devices[0]!.capacity.memory.requestPolicy, { default: "2Mi", validRange: { min: "2Mi", step: "2Mi" } });
      assert.equal(last.spec.devices[0]!.allowMultipleAllocations, true);
      assert.ok(last.spec.pool.generation > 1);
      await pool.deleteArena(arena.arenaId, { releaseLeases: true });
      (await import("@gmempool/sys")).closeFd(memfd);
      await pool.unreserve("claim-1");
    } finally {
      publisher.stop();
    }
  });
});
