/**
 * API connections per uid (issue 12 item 2: one uid's 1,500 idle connections were all
 * accepted): past the limit a connection's calls answer RESOURCE_EXHAUSTED naming the uid and
 * the limit, and the connection is closed shortly after, so a tenant cannot hold the daemon's
 * fds; the admin always gets in.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isGmempoolError } from "../../pool/errors.ts";
import { ConnectionCallers } from "./connection-callers.ts";
import { FakeSocket, testCaller } from "../testing/tagged-connection.ts";


test("past limits.connections_per_uid a connection answers exhausted and is closed soon; other uids and the admin are served", async () => {
  const callers = new ConnectionCallers({ maxConnections: 8, maxConnectionsPerUid: 2, refusedLingerMs: 20 });
  const sockets = Array.from({ length: 7 }, () => new FakeSocket());
  const tags = [testCaller(1001), testCaller(1001), testCaller(1001), testCaller(1002)].map((c, i) => callers.register(sockets[i]!, c));
  assert.equal(callers.callerOf({ getPeer: () => tags[0]! }).uid, 1001);
  assert.throws(() => callers.callerOf({ getPeer: () => tags[2]! }), (e: unknown) => isGmempoolError(e, "exhausted") && /uid 1001 has 2 API connections open \(limits.connections_per_uid = 2\)/.test(e.message));
  assert.equal(callers.callerOf({ getPeer: () => tags[3]! }).uid, 1002);
  // 3 counted of 8, the last 4 kept for the admin: one more uid fits, then no other.
  const fourth = callers.register(sockets[4]!, testCaller(1003));
  assert.equal(callers.callerOf({ getPeer: () => fourth }).uid, 1003);
  const fifth = callers.register(sockets[6]!, testCaller(1004));
  assert.throws(() => callers.callerOf({ getPeer: () => fifth }), /4 API connections of callers other than the admin are open \(limits.connections = 8, the last 4 kept for the admin\)/);
  const admin = callers.register(sockets[5]!, testCaller(0, true));
  assert.equal(callers.callerOf({ getPeer: () => admin }).isAdmin, true);
  await new Promise((resolve) => setTimeout(resolve, 40));
  assert.equal(sockets[2]!.destroyed, true, "the refused connection is closed");
  assert.equal(sockets[0]!.destroyed, false);
  // Closing one of uid 1001's frees its place.
  sockets[0]!.destroy();
  const again = callers.register(new FakeSocket(), testCaller(1001));
  assert.equal(callers.callerOf({ getPeer: () => again }).uid, 1001);
});

test("through the server: a uid's third process gets RESOURCE_EXHAUSTED on api.sock and its fd channel closed; another uid is served", async () => {
  const { TransportHarness } = await import("../testing/transport-harness.ts");
  const { status } = await import("@grpc/grpc-js");
  const h = await TransportHarness.start({ connectionLimits: { maxConnections: 1024, maxConnectionsPerUid: 2 } });
  try {
    const first = await h.peer({ uid: 1001 });
    const second = await h.peer({ uid: 1001 });
    const third = await h.peer({ uid: 1001 });
    const other = await h.peer({ uid: 1002 });
    // (A test client connects at its first call.)
    assert.equal((await first.client.call("GetPoolStatus", {})).status?.servingState, "SERVING_STATE_SERVING");
    await second.client.call("GetPoolStatus", {});
    const refused = await third.client.failure("GetPoolStatus", {});
    assert.equal(refused.code, status.RESOURCE_EXHAUSTED);
    assert.match(refused.details, /uid 1001 has 2 API connections open \(limits.connections_per_uid = 2\)/);
    await assert.rejects(third.fd.receiveFdToken());
    assert.equal((await other.client.call("GetPoolStatus", {})).status?.servingState, "SERVING_STATE_SERVING");
    assert.ok((await other.fd.receiveFdToken()).length > 0);
  } finally {
    await h.stop();
  }
});
