/**
 * Reservations over the real transport (issue 11): the real daemon process (SpawnedDaemon,
 * reserve none, this uid the admin), the client library over its unix sockets. A reservation's
 * token makes a memfd arena draw on the claim; status shows the units reserved, then leased;
 * a wrong token is PERMISSION_DENIED; kill -9 of the daemon keeps the reservation and its token.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { closeFd } from "@gmempool/sys";
import { PoolClient } from "./pool-client.ts";
import { PermissionDeniedError, ExhaustedError } from "./pool-errors.ts";
import { SpawnedDaemon, testConfig } from "./testing/spawned-daemon.ts";

const UNIT = 2n * 1024n * 1024n;

describe("reservations through the client library", () => {
  let daemon: SpawnedDaemon;
  let client: PoolClient;
  before(async () => {
    daemon = await SpawnedDaemon.start({ config: testConfig({ capacity: "32MiB" }) });
    client = await PoolClient.connect({ runtimeDir: daemon.dir, deadlineMs: 10_000 });
  });
  after(async () => {
    client.close();
    await daemon.stop();
    daemon.removeDir();
  });

  test("reserve, an arena with the token, allocate: reserved then leased; unreserve; all free", async () => {
    const reserved = await client.reserve("claim-a", 8n * UNIT);
    assert.equal(reserved.created, true);
    assert.deepEqual(await client.reserve("claim-a", 8n * UNIT), { ...reserved, created: false });
    let status = await client.getPoolStatus();
    assert.deepEqual([status.freeUnitCount, status.reservedUnitCount, status.leasedUnitCount], [8, 8, 0]);
    await assert.rejects(client.reserve("claim-b", 10n * UNIT), (e) => e instanceof ExhaustedError && /requested 10 units, 8 free/.test(e.message));
    await assert.rejects(client.createMemfdArena({ sizeBytes: 8n * UNIT, reservationToken: "f".repeat(32) }), PermissionDeniedError);
    const { arena, memfd } = await client.createMemfdArena({ sizeBytes: 8n * UNIT, reservationToken: reserved.token });
    try {
      await client.allocate(arena.arenaId, { unitCount: 8 });
      status = await client.getPoolStatus();
      assert.deepEqual([status.freeUnitCount, status.reservedUnitCount, status.leasedUnitCount], [8, 0, 8]);
      assert.deepEqual(await client.listReservations(), [{ claimUid: "claim-a", sizeUnitCount: 8, reservedUnitCount: 0, arenaId: arena.arenaId }]);
      assert.deepEqual(await client.unreserve("claim-a"), { existed: true, releasedUnitCount: 0 });
      await client.deleteArena(arena.arenaId, { releaseLeases: true });
    } finally {
      closeFd(memfd);
    }
    status = await client.getPoolStatus();
    assert.deepEqual([status.freeUnitCount, status.reservedUnitCount, status.leasedUnitCount], [16, 0, 0]);
    assert.deepEqual(await client.unreserve("claim-a"), { existed: false, releasedUnitCount: 0 });
  });

  test("kill -9 of the daemon keeps a reservation and its token", async () => {
    const first = await client.reserve("claim-k", 4n * UNIT);
    client.close();
    await daemon.kill();
    daemon = await SpawnedDaemon.start({ config: testConfig({ capacity: "32MiB" }), dir: daemon.dir });
    client = await PoolClient.connect({ runtimeDir: daemon.dir, deadlineMs: 10_000 });
    const again = await client.reserve("claim-k", 4n * UNIT);
    assert.equal(again.token, first.token);
    assert.equal(again.created, false);
    assert.equal((await client.getPoolStatus()).reservedUnitCount, 4);
    await client.unreserve("claim-k");
  });
});
