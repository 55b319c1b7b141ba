/**
 * Quotas over the wire: GetPoolStatus carries the quotas that bind the caller, and an Allocate
 * past one answers RESOURCE_EXHAUSTED with the quota named (issue 12, "a tenant may not take the
 * whole pool").
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { parseConfig } from "../daemon/config.ts";
import { TransportHarness, type TransportPeer } from "./testing/transport-harness.ts";
import { createArena } from "../main/testing/e2e-arena.ts";

describe("quotas over gRPC", () => {
  let h: TransportHarness;
  let tenant: TransportPeer;
  before(async () => {
    const { quotas } = parseConfig(`[[quotas]]\nuid = 1001\nmemory = "8MiB"\narenas = 1`);
    h = await TransportHarness.start({ capacityUnits: 64, reserveMode: "none", configure: (c) => ({ ...c, quotas }) });
    await h.daemon.manager.start();
    tenant = await h.peer({ uid: 1001 });
  });
  after(() => h.stop());

  test("GetPoolStatus reports the caller's quotas with their use; past the unit quota Allocate is RESOURCE_EXHAUSTED naming it", async () => {
    const { arenaId } = await createArena(tenant.vmm.kernel, tenant.client, tenant.fd, "memfd", 8, "q");
    await tenant.client.call("Allocate", { arenaId, unitCount: 3, label: "" });
    const { quotas } = await tenant.client.call("GetPoolStatus", {});
    assert.deepEqual(
      quotas.map((q) => [q.subject, q.id, q.unitLimit, q.leasedUnitCount, q.arenaLimit, q.arenaCount]),
      [["QUOTA_SUBJECT_UID", 1001, 4, 3, 1, 1]],
    );
    const failure = await tenant.client.failure("Allocate", { arenaId, unitCount: 2, label: "" });
    assert.equal(failure.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(failure.details, /uid 1001's quota of 4 units is reached: 3 leased, 2 requested/);
    // Another tenant sees no quota; it binds nobody else.
    const other = await h.peer({ uid: 1002 });
    assert.deepEqual((await other.client.call("GetPoolStatus", {})).quotas, []);
  });
});
