// Transport tests: a real grpc-js server on a temporary unix socket (and the fd channel), in
// front of the real PoolManager on the fake kernel. Every error kind is asserted by code AND
// message, and after each failure the pool is checked to be exactly as before (the pool status,
// every arena and lease, the fragmentation map, the fake kernel's populated ranges and fds,
// and the server's pending tokens).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { Metadata, credentials, makeGenericClientConstructor, status, type ServiceDefinition, type ServiceError } from "@grpc/grpc-js";
import { FD_MESSAGE_KIND, healthPackageDefinition, UNIT_BYTES } from "@gmempool/contract";
import { ManualClock } from "../kvm/manual-clock.ts";
import { FdChannelClient, TestClient } from "../main/testing/test-client.ts";
import { encodeFdMessage } from "./fd-channel/fd-message.ts";
import type { WatchResponse__Output } from "@gmempool/contract/generated/gmempool/v1/WatchResponse";
import { TransportHarness, type TransportPeer } from "./testing/transport-harness.ts";

const MiB2 = Number(UNIT_BYTES);
const units = (n: number): string => String(n * MiB2);

describe("transport: gRPC + fd channel in front of the PoolManager (fake kernel)", () => {
  let h: TransportHarness;
  let admin: TestClient;
  let a: TransportPeer;
  let b: TransportPeer;
  let arenaId: string;
  let leaseId: string;

  /**
   * Everything observable about the pool: as the admin sees it over gRPC (status, arenas,
   * leases), the daemon's full state with the kernel's populated ranges (FakeDaemon), and the
   * server's pending fd tokens with the fds they hold.
   */
  async function snapshot(): Promise<unknown> {
    const status = (await admin.call("GetPoolStatus", {})).status!;
    const arenas = (await admin.call("ListArenas", { allOwners: true })).arenas;
    const leases = (await admin.call("ListLeases", { allOwners: true })).leases;
    h.daemon.assertConservation();
    return { status, arenas, leases, daemon: h.daemon.observableState(), tokens: h.process.server.tokens.size, tokenFds: h.process.server.tokens.heldFds() };
  }

  /** Runs `failing` and asserts its code and message, and that nothing changed; returns the error. */
  async function failsWith(code: status, message: string | RegExp, failing: () => Promise<unknown>): Promise<ServiceError> {
    const before = await snapshot();
    let error: ServiceError | undefined;
    try {
      await failing();
    } catch (e) {
      error = e as ServiceError;
    }
    assert.ok(error !== undefined, "the call succeeded");
    assert.equal(status[error.code], status[code], `code of: ${error.details}`);
    if (typeof message === "string") assert.equal(error.details, message);
    else assert.match(error.details, message);
    assert.deepEqual(await snapshot(), before, "state changed");
    return error;
  }

  async function createMemfdArena(peer: TransportPeer, unitCount: number, name = "vm"): Promise<{ arenaId: string; fd: number }> {
    const token = await peer.fd.receiveFdToken();
    const [response, delivery] = await Promise.all([
      peer.client.call("CreateMemfdArena", { memfdFdToken: token, sizeBytes: units(unitCount), backing: "MEMFD_BACKING_SHMEM", name }),
      peer.fd.receive(),
    ]);
    assert.equal(delivery.kind, FD_MESSAGE_KIND.FD_DELIVERY);
    assert.deepEqual(Buffer.from(delivery.token), token);
    assert.equal(delivery.fds.length, 1);
    return { arenaId: response.arena!.arenaId, fd: delivery.fds[0]! };
  }

  before(async () => {
    h = await TransportHarness.start({ capacityUnits: 64 });
    admin = new TestClient({ apiSocket: h.paths.apiSocket });
    a = await h.peer({ uid: 1000 });
    b = await h.peer({ uid: 1001 });
    ({ arenaId } = await createMemfdArena(a, 16, "vm-a"));
    leaseId = (await a.client.call("Allocate", { arenaId, unitCount: 2, label: "boot" })).lease!.leaseId;
  });

  after(async () => {
    admin.close();
    await h.stop();
  });

  test("the caller is who SO_PEERCRED says, per connection; the transport's parameters are reported", async () => {
    const caps = await a.client.call("GetCapabilities", {});
    assert.deepEqual({ uid: caps.caller!.uid, gid: caps.caller!.gid, pid: caps.caller!.pid }, { ...a.vmm.kernel.credentials });
    assert.equal(caps.callerIsAdmin, false);
    assert.equal(caps.fdSocketPath, h.paths.fdSocket);
    assert.equal(caps.fdChannelVersion, 1);
    assert.deepEqual(caps.fdTokenTtl, { seconds: "10", nanos: 0 });
    assert.equal(caps.maxPendingFdTokens, 16);
    assert.equal(caps.maxRequestMessageBytes, 65536);
    assert.equal((await admin.call("GetCapabilities", {})).callerIsAdmin, true);
  });

  test("CreateMemfdArena delivers the memfd on the fd channel before OK; Allocate and Release round-trip", async () => {
    const created = await createMemfdArena(a, 4);
    assert.equal(a.vmm.kernel.identifyFd(created.fd as never).size, BigInt(4 * MiB2));
    const lease = (await a.client.call("Allocate", { arenaId: created.arenaId, unitCount: 4, offsetBytes: "0" })).lease!;
    assert.equal(lease.lengthBytes, units(4));
    assert.equal((await a.client.call("Release", { leaseId: lease.leaseId })).releasedUnitCount, 4);
    await a.client.call("DeleteArena", { arenaId: created.arenaId });
    a.vmm.kernel.close(created.fd as never);
    await snapshot();
  });

  test("RegisterGuestMemfdArena takes the guest_memfd sent with SEND_FD", async () => {
    const gmem = a.vmm.createGuestMemfd(2);
    const token = await a.fd.sendFdToken(gmem, "GUEST_MEMFD");
    const arena = (await a.client.call("RegisterGuestMemfdArena", { gmemFdToken: token, sizeBytes: units(2), initialVisibility: "PAGE_VISIBILITY_SHARED", name: "g" })).arena!;
    assert.equal(arena.kind, "ARENA_KIND_GUEST_MEMFD");
    await a.client.call("DeleteArena", { arenaId: arena.arenaId });
    a.vmm.kernel.close(gmem);
    await snapshot();
  });

  test("a retried request_id replays the first result with gmempool-replayed: true", async () => {
    const first = await a.client.call("Allocate", { requestId: "retry-1", arenaId, unitCount: 1 });
    const headers = new Promise<Metadata>((resolve) => {
      a.client.pool.Allocate({ requestId: "retry-1", arenaId, unitCount: 1 }, new Metadata(), { deadline: Date.now() + 5000 }, () => undefined).on("metadata", resolve);
    });
    assert.deepEqual((await headers).get("gmempool-replayed"), ["true"]);
    const again = await a.client.call("Allocate", { requestId: "retry-1", arenaId, unitCount: 1 });
    assert.equal(again.lease!.leaseId, first.lease!.leaseId);
    await a.client.call("Release", { leaseId: first.lease!.leaseId });
  });

  describe("every error kind: code and message, nothing changed", () => {
    test("bad alignment: INVALID_ARGUMENT naming the value", async () => {
      await failsWith(status.INVALID_ARGUMENT, "offset_bytes 4096 is not a multiple of 2 MiB", () => a.client.call("Allocate", { arenaId, unitCount: 1, offsetBytes: "4096" }));
      await failsWith(status.INVALID_ARGUMENT, "discard offset 100 and length 4096 must be multiples of 4096", () => a.client.call("Discard", { arenaId, offsetBytes: "100", lengthBytes: "4096" }));
    });

    test("overflow and ranges past the end: INVALID_ARGUMENT", async () => {
      await failsWith(status.INVALID_ARGUMENT, /18446744073707454464.*(overflow|end|past|beyond|larger)/i, () => a.client.call("Allocate", { arenaId, unitCount: 2, offsetBytes: String((1n << 64n) - UNIT_BYTES) }));
      await failsWith(status.INVALID_ARGUMENT, /18446744073709547520/, () => a.client.call("Discard", { arenaId, offsetBytes: String((1n << 64n) - 4096n), lengthBytes: "8192" }));
      await failsWith(status.INVALID_ARGUMENT, `unit_count 100 is larger than arena "${arenaId}" (16 units)`, () => a.client.call("Allocate", { arenaId, unitCount: 100 }));
      await failsWith(status.INVALID_ARGUMENT, "unit_count must be at least 1, got 0", () => a.client.call("Allocate", { arenaId, unitCount: 0 }));
    });

    test("unknown ids: NOT_FOUND", async () => {
      await failsWith(status.NOT_FOUND, 'arena "nope" does not exist', () => a.client.call("GetArena", { arenaId: "nope" }));
      await failsWith(status.NOT_FOUND, 'lease "nope" does not exist', () => a.client.call("Release", { leaseId: "nope" }));
    });

    test("another owner's ids: NOT_FOUND, exactly as an unknown id", async () => {
      await failsWith(status.NOT_FOUND, `arena "${arenaId}" does not exist`, () => b.client.call("GetArena", { arenaId }));
      await failsWith(status.NOT_FOUND, `lease "${leaseId}" does not exist`, () => b.client.call("Release", { leaseId }));
      await failsWith(status.NOT_FOUND, `arena "${arenaId}" does not exist`, () => b.client.call("Allocate", { arenaId, unitCount: 1 }));
    });

    test("admin-only: PERMISSION_DENIED", async () => {
      await failsWith(status.PERMISSION_DENIED, "all_owners needs the admin identity; uid 1001 gid 1000 is not", () => b.client.call("ListArenas", { allOwners: true }));
      await failsWith(status.PERMISSION_DENIED, "uid 1001 gid 1000 is not the configured admin identity", () => b.client.callAdmin("SetPolicy", { discardPolicy: "DISCARD_POLICY_ZERO" }));
    });

    test("not enough units: RESOURCE_EXHAUSTED", async () => {
      // An arena as large as the pool; the other tests' leases hold some of it, so one unit more than is free fits the arena.
      const big = await createMemfdArena(b, 64, "big");
      const free = (await admin.call("GetPoolStatus", {})).status!.freeUnitCount;
      assert.ok(free < 64, `${free} free`);
      await failsWith(status.RESOURCE_EXHAUSTED, new RegExp(`^requested ${free + 1} units, ${free} free in the pool of 64$`, "i"), () => b.client.call("Allocate", { arenaId: big.arenaId, unitCount: free + 1 }));
      await b.client.call("DeleteArena", { arenaId: big.arenaId });
      b.vmm.kernel.close(big.fd as never);
    });

    test("reused, foreign and wrong-direction tokens", async () => {
      const token = await a.fd.receiveFdToken();
      const created = await Promise.all([a.client.call("CreateMemfdArena", { memfdFdToken: token, sizeBytes: units(1), backing: "MEMFD_BACKING_SHMEM" }), a.fd.receive()]);
      const reused = /^memfd_fd_token [0-9a-f]{8}… is unknown, expired, already used or in use, or was issued to another process$/;
      await failsWith(status.NOT_FOUND, reused, () => a.client.call("CreateMemfdArena", { memfdFdToken: token, sizeBytes: units(1), backing: "MEMFD_BACKING_SHMEM" }));
      const foreign = await a.fd.receiveFdToken();
      await failsWith(status.NOT_FOUND, reused, () => b.client.call("CreateMemfdArena", { memfdFdToken: foreign, sizeBytes: units(1), backing: "MEMFD_BACKING_SHMEM" }));
      await failsWith(status.INVALID_ARGUMENT, /^gmem_fd_token is a RECEIVE_FD token; this field needs a SEND_FD token$/, () =>
        a.client.call("RegisterGuestMemfdArena", { gmemFdToken: foreign, sizeBytes: units(1), initialVisibility: "PAGE_VISIBILITY_SHARED" }),
      );
      await failsWith(status.INVALID_ARGUMENT, "memfd_fd_token is 3 bytes; a token is 16 bytes", () => a.client.call("CreateMemfdArena", { memfdFdToken: Buffer.from("abc"), sizeBytes: units(1), backing: "MEMFD_BACKING_SHMEM" }));
      assert.equal((await a.fd.cancel(foreign)).status, 0);
      await a.client.call("DeleteArena", { arenaId: created[0].arena!.arenaId });
      a.vmm.kernel.close(created[1].fds[0]!);
    });

    test("wrong fd type: refused on the channel, and a token of the wrong type refused by the call", async () => {
      const memfd = a.vmm.kernel.memfdCreate("not-gmem", "shmem");
      a.vmm.kernel.ftruncate(memfd, UNIT_BYTES);
      const before = await snapshot();
      const reply = await a.fd.sendFd(memfd, "GUEST_MEMFD");
      assert.equal(reply.status, status.INVALID_ARGUMENT);
      assert.equal(reply.detail, "the fd is a shmem memfd of 2097152 bytes, not the claimed guest_memfd");
      assert.deepEqual(await snapshot(), before);
      const token = await a.fd.sendFdToken(memfd, "MEMFD_SHMEM");
      await failsWith(status.INVALID_ARGUMENT, "gmem_fd_token names a memfd_shmem fd; this field needs a guest_memfd", () =>
        a.client.call("RegisterGuestMemfdArena", { gmemFdToken: token, sizeBytes: units(1), initialVisibility: "PAGE_VISIBILITY_SHARED" }),
      );
      assert.equal((await a.fd.cancel(token)).status, 0);
      a.vmm.kernel.close(memfd);
    });

    test("a guest_memfd that is already an arena: FAILED_PRECONDITION naming the file, not the arena (it may be another owner's, invariant 5); the token stays pending", async () => {
      const gmem = a.vmm.createGuestMemfd(2);
      const first = await a.fd.sendFdToken(gmem, "GUEST_MEMFD");
      const registered = (await a.client.call("RegisterGuestMemfdArena", { gmemFdToken: first, sizeBytes: units(2), initialVisibility: "PAGE_VISIBILITY_SHARED", name: "g" })).arena!;
      const { device, inode } = a.vmm.kernel.identifyFd(gmem);
      const again = await a.fd.sendFdToken(gmem, "GUEST_MEMFD");
      const refused = await failsWith(status.FAILED_PRECONDITION, `this guest_memfd (device ${device}, inode ${inode}) is already an arena (one file backs at most one arena)`, () =>
        a.client.call("RegisterGuestMemfdArena", { gmemFdToken: again, sizeBytes: units(2), initialVisibility: "PAGE_VISIBILITY_SHARED", name: "again" }),
      );
      assert.ok(!refused.details.includes(registered.arenaId), `the message names the arena "${registered.arenaId}": ${refused.details}`);
      assert.equal((await a.fd.cancel(again)).status, 0);
      await a.client.call("DeleteArena", { arenaId: registered.arenaId });
      a.vmm.kernel.close(gmem);
    });

    test("oversized messages: RESOURCE_EXHAUSTED from the size limit", async () => {
      await failsWith(status.RESOURCE_EXHAUSTED, /^Received message larger than max \(1000\d\d vs 65536\)$/, () => a.client.call("Allocate", { arenaId, unitCount: 1, label: "x".repeat(100_000) }));
    });

    test("unspecified and unknown enums: INVALID_ARGUMENT naming the field", async () => {
      const token = await a.fd.receiveFdToken();
      await failsWith(status.INVALID_ARGUMENT, /backing/, () => a.client.call("CreateMemfdArena", { memfdFdToken: token, sizeBytes: units(1), backing: "MEMFD_BACKING_UNSPECIFIED" }));
      await failsWith(status.INVALID_ARGUMENT, "backing 9 is not a MemfdBacking", () => a.client.call("CreateMemfdArena", { memfdFdToken: token, sizeBytes: units(1), backing: 9 as never }));
      await a.fd.cancel(token);
    });
  });

  describe("fd channel protocol", () => {
    test("request-level errors get a reply and keep the connection", async () => {
      await a.fd.sendRaw(encodeFdMessage({ kind: 42, sequence: 5n }));
      let reply = await a.fd.receive();
      assert.deepEqual([reply.kind, reply.status, reply.sequence, reply.detail], [0, status.INVALID_ARGUMENT, 5n, "kind 42 is not a request (SEND_FD 1, RECEIVE_FD 3, CANCEL 6)"]);
      await a.fd.sendRaw(encodeFdMessage({ kind: FD_MESSAGE_KIND.RECEIVE_FD, version: 2, sequence: 6n }));
      reply = await a.fd.receive();
      assert.deepEqual([reply.kind, reply.status, reply.version], [FD_MESSAGE_KIND.RECEIVE_FD_REPLY, status.UNIMPLEMENTED, 1]);
      await a.fd.sendRaw(encodeFdMessage({ kind: FD_MESSAGE_KIND.RECEIVE_FD, flags: 1, sequence: 7n }));
      reply = await a.fd.receive();
      assert.deepEqual([reply.status, reply.detail], [status.INVALID_ARGUMENT, "flags (0x1) and reserved (0x0) must be 0"]);
      const cancel = await a.fd.cancel(new Uint8Array(16));
      assert.deepEqual([cancel.kind, cancel.status], [FD_MESSAGE_KIND.CANCEL_REPLY, status.NOT_FOUND]);
      await a.fd.receiveFdToken().then((t) => a.fd.cancel(t)); // still usable
    });

    test("a connection holds at most max_pending_fd_tokens", async () => {
      const peer = await h.peer({ uid: 1002 });
      const tokens = [];
      for (let i = 0; i < 16; i++) tokens.push(await peer.fd.receiveFdToken());
      await peer.fd.sendRaw(encodeFdMessage({ kind: FD_MESSAGE_KIND.RECEIVE_FD, sequence: 99n }));
      const reply = await peer.fd.receive();
      assert.deepEqual([reply.status, reply.detail], [status.RESOURCE_EXHAUSTED, "this connection already holds 16 pending tokens, the limit is 16 (limits.fd_tokens_per_connection); use or cancel one first"]);
      peer.fd.close();
      await sleep(20);
      assert.equal(h.process.server.tokens.size, 0, "closing the connection revoked its tokens");
    });

    test("a framing error gets one reply with kind 0, then the connection is closed and its tokens revoked", async () => {
      const fd = await FdChannelClient.connect(a.vmm.kernel, h.paths.fdSocket);
      const memfd = a.vmm.kernel.memfdCreate("held", "shmem");
      await fd.sendFdToken(memfd, "MEMFD_SHMEM");
      assert.equal(h.process.server.tokens.size, 1);
      await fd.sendRaw(new Uint8Array(10));
      const reply = await fd.receive();
      assert.deepEqual([reply.kind, reply.status, reply.detail], [0, status.INVALID_ARGUMENT, "framing error: a request is 64 bytes, got a datagram of 10"]);
      assert.equal(await fd.connection.receive(), null);
      assert.equal(h.process.server.tokens.size, 0);
      a.vmm.kernel.close(memfd);
      fd.close();
    });

    test("unclaimed fds are closed when their token expires", async () => {
      const clock = new ManualClock();
      const short = await TransportHarness.start({ capacityUnits: 4, fdTokenTtlMs: 50, clock });
      try {
        const p = await short.peer();
        const memfd = p.vmm.kernel.memfdCreate("expiring", "shmem");
        const openBefore = short.daemon.kernel.openFds().length;
        const token = await p.fd.sendFdToken(memfd, "MEMFD_SHMEM");
        assert.equal(short.daemon.kernel.openFds().length, openBefore + 1);
        clock.advance(49);
        assert.equal(short.daemon.kernel.openFds().length, openBefore + 1, "the token is still pending just before its TTL");
        clock.advance(1);
        assert.equal(short.daemon.kernel.openFds().length, openBefore, "the daemon closed the received fd");
        const failure = await p.client.failure("ReattachArena", { arenaId: "x", memfdFdToken: token });
        assert.equal(failure.code, status.NOT_FOUND);
        p.vmm.kernel.close(memfd);
      } finally {
        await short.stop();
      }
    });
  });

  test("Watch: a pool_status snapshot first, then events in order; cancelling ends the daemon's stream", async () => {
    const call = a.client.pool.Watch({ arenaId }, new Metadata(), {});
    const events: WatchResponse__Output[] = [];
    call.on("data", (e: WatchResponse__Output) => events.push(e));
    call.on("error", () => undefined);
    while (events.length < 1) await once(call, "data");
    const lease = (await a.client.call("Allocate", { arenaId, unitCount: 1 })).lease!;
    await a.client.call("Release", { leaseId: lease.leaseId });
    while (events.length < 3) await once(call, "data");
    assert.deepEqual(events.slice(0, 3).map((e) => e.event), ["poolStatus", "leaseAllocated", "leaseReleased"]);
    assert.ok(BigInt(events[1]!.sequence) < BigInt(events[2]!.sequence));
    assert.equal(h.process.server.watches.size, 1);
    call.cancel();
    await sleep(50);
    assert.equal(h.process.server.watches.size, 0);
  });

  test("Watch with an unspecified kind is INVALID_ARGUMENT", async () => {
    const call = a.client.pool.Watch({ kinds: ["POOL_EVENT_KIND_UNSPECIFIED"] }, new Metadata(), {});
    const [error] = (await once(call, "error")) as [ServiceError];
    assert.deepEqual([error.code, error.details], [status.INVALID_ARGUMENT, "kinds[0] is POOL_EVENT_KIND_UNSPECIFIED; name the kinds to watch, or none for all"]);
  });

  test("grpc.health.v1 reports SERVING", async () => {
    const Health = makeGenericClientConstructor(healthPackageDefinition()["grpc.health.v1.Health"] as ServiceDefinition, "Health");
    const client = new Health(`unix://${h.paths.apiSocket}`, credentials.createInsecure()) as unknown as { check(r: object, cb: (e: Error | null, r: { status: string }) => void): void; close(): void };
    const reply = await new Promise<{ status: string }>((resolve, reject) => client.check({ service: "gmempool.v1.Pool" }, (e, r) => (e === null ? resolve(r) : reject(e))));
    assert.equal(reply.status, "SERVING");
    client.close();
  });

  test("SIGTERM path: Watch streams end UNAVAILABLE, sockets are removed, fds closed", async () => {
    const local = await TransportHarness.start({ capacityUnits: 8 });
    const p = await local.peer();
    const call = p.client.pool.Watch({}, new Metadata(), {});
    const states: string[] = [];
    call.on("data", (m: WatchResponse__Output) => {
      if (m.poolStatus) states.push(m.poolStatus.servingState);
    });
    await once(call, "data");
    const ended = once(call, "error") as Promise<[ServiceError]>;
    await local.stop();
    const [error] = await ended;
    // The daemon's own ending, not a dropped connection (also UNAVAILABLE, "Connection dropped"):
    // the "draining" status and the trailers must reach the client before the socket closes.
    assert.equal(error.code, status.UNAVAILABLE);
    assert.match(error.details, /draining/);
    assert.equal(states.at(-1), "SERVING_STATE_DRAINING");
    assert.deepEqual(local.daemon.kernel.openFds(), []);
  });
});
