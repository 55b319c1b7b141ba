import assert from "node:assert/strict";
import { closeSync, fstatSync, readSync, readdirSync, readlinkSync, writeSync } from "node:fs";
import { after, describe, test } from "node:test";
import { FakePoolClient, type FakePoolClientOptions } from "./fake-pool-client.ts";
import { isCloexec } from "./fd-channel/libc.ts";
import {
  CancelledError,
  DeadlineExceededError,
  ExhaustedError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  PoolError,
  UnavailableError,
  UnimplementedError,
} from "./pool-errors.ts";
import type { WatchStream } from "./pool.ts";
import type { PoolEvent } from "./resources.ts";

const KIB = 1024n;
const MIB = 1024n * KIB;
const UNIT = 2n * MIB;
const PAGE = 4096n;

/**
 * Every fd this test file opens is closed by the end: the fake's memfds included. Compared as
 * the fds open at the end that were not open at the start (a leak is a new fd); a count would
 * also see fds the runtime had open for a moment at the start (seen under c8: 27 !== 28).
 */
const fdsAtStart = new Set(readdirSync("/proc/self/fd"));
const fakes: FakePoolClient[] = [];
const callerFds: number[] = [];
after(() => {
  for (const fake of fakes) fake.close();
  for (const fd of callerFds) closeSync(fd);
  const leaked = readdirSync("/proc/self/fd").filter((fd) => !fdsAtStart.has(fd));
  assert.deepEqual(leaked.filter((fd) => isFileFd(fd)), [], "the tests left file descriptors open");
});

/** Whether fd `n` still names something (readdir's own fd for /proc/self/fd is gone by now). */
function isFileFd(n: string): boolean {
  try {
    readlinkSync(`/proc/self/fd/${n}`);
    return true;
  } catch {
    return false;
  }
}

function openFdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

function fake(options: FakePoolClientOptions = {}): FakePoolClient {
  const f = new FakePoolClient(options);
  fakes.push(f);
  return f;
}

/** The caller's fd, closed after the file's tests. */
function own(fd: number): number {
  callerFds.push(fd);
  return fd;
}

type ErrorClass = new (...args: never[]) => PoolError;

async function rejects(promise: Promise<unknown>, errorClass: ErrorClass, details: string | RegExp, operation?: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
    if (typeof details === "string") assert.equal(error.details, details);
    else assert.match(error.details, details);
    if (operation !== undefined) assert.equal(error.operation, operation);
    return true;
  });
}

async function memfdArena(f: FakePoolClient, units: number, name = "vm"): Promise<string> {
  const { arena, memfd } = await f.createMemfdArena({ sizeBytes: BigInt(units) * UNIT, name });
  own(memfd);
  return arena.arenaId;
}

/** Reads events until `count` have arrived (the stream must hold them already or soon). */
async function take(stream: WatchStream, count: number): Promise<PoolEvent[]> {
  const events: PoolEvent[] = [];
  while (events.length < count) {
    const next = await stream.next();
    if (next.done === true) break;
    events.push(next.value);
  }
  return events;
}

describe("FakePoolClient: capabilities and status", () => {
  test("a new fake has 128 free units, reserve none, and reports this process as its non-admin caller", async () => {
    const f = fake();
    const status = await f.getPoolStatus();
    assert.deepEqual([status.capacityUnitCount, status.freeUnitCount, status.leasedUnitCount, status.claimedUnitCount, status.reserveMode, status.servingState], [128, 128, 0, 0, "none", "serving"]);
    const caps = await f.getCapabilities();
    assert.equal(caps.caller.pid, process.pid);
    assert.equal(caps.caller.uid, process.getuid?.());
    assert.equal(caps.callerIsAdmin, false);
    assert.deepEqual([caps.unitBytes, caps.pageBytes], [UNIT, PAGE]);
    assert.deepEqual(caps.arenaKinds, ["guest_memfd", "memfd", "pair"]);
    assert.deepEqual(caps.conversionModes, ["notify"]);
    f.assertConservation();
  });

  test("options describe the host: no guest_memfd, in-place conversion, hugetlb reserve, capacity", async () => {
    const f = fake({ guestMemfd: false, inPlaceConversion: true, reserveMode: "hugetlb", capacityUnitCount: 8 });
    const caps = await f.getCapabilities();
    assert.deepEqual(caps.arenaKinds, ["memfd"]);
    assert.deepEqual(caps.conversionModes, ["in-place", "notify"]);
    assert.deepEqual(caps.memfdBackings, ["shmem", "hugetlb"]);
    const status = await f.getPoolStatus();
    assert.deepEqual([status.capacityUnitCount, status.reservePopulatedUnitCount, status.largestFreeRunUnitCount], [8, 8, 8]);
  });
});

describe("FakePoolClient: memfd arenas", () => {
  test("createMemfdArena hands the caller a real close-on-exec memfd of the arena's size, named after the arena", async () => {
    const f = fake();
    const { arena, memfd } = await f.createMemfdArena({ sizeBytes: 8n * UNIT, name: "vm-1" });
    own(memfd);
    assert.equal(fstatSync(memfd, { bigint: true }).size, 8n * UNIT);
    assert.ok(isCloexec(memfd));
    assert.match(readlinkSync(`/proc/self/fd/${memfd}`), new RegExp(`^/memfd:gmempool:${arena.arenaId}`));
    assert.match(arena.arenaId, /^arena-[0-9a-f]{12}$/);
    assert.deepEqual([arena.kind, arena.state, arena.name, arena.unitCount, arena.sizeBytes, arena.initialVisibility, arena.leaseCount], ["memfd", "active", "vm-1", 8, 8n * UNIT, "shared", 0]);
    assert.deepEqual(arena.files, [{ fdType: "memfd_shmem", serves: undefined, sizeBytes: 8n * UNIT, populatedUnitCount: 0, memfdName: `gmempool:${arena.arenaId}` }]);
    assert.deepEqual(arena.policy, { discardPolicy: "defer", discardPolicyOverridden: false, punchGranularityBytes: UNIT, punchGranularityOverridden: false });
    assert.deepEqual(await f.getArena(arena.arenaId), arena);
  });

  test("the memfd is usable memory: what is written at an offset reads back through a retry's copy", async () => {
    const f = fake();
    const first = await f.createMemfdArena({ sizeBytes: 4n * UNIT }, { requestId: "usable" });
    own(first.memfd);
    const text = Buffer.from("guest page");
    assert.equal(writeSync(first.memfd, text, 0, text.length, Number(3n * UNIT)), text.length);
    const again = await f.createMemfdArena({ sizeBytes: 4n * UNIT }, { requestId: "usable" });
    own(again.memfd);
    const back = Buffer.alloc(text.length);
    readSync(again.memfd, back, 0, back.length, Number(3n * UNIT));
    assert.equal(back.toString(), "guest page");
  });

  test("the fake keeps its own copy of the memfd while the arena lives, and closes it with the arena", async () => {
    const f = fake();
    const before = openFdCount();
    const { arena, memfd } = await f.createMemfdArena({ sizeBytes: UNIT });
    assert.equal(openFdCount(), before + 2);
    closeSync(memfd);
    f.assertConservation();
    await f.deleteArena(arena.arenaId);
    assert.equal(openFdCount(), before);
  });

  test("sizes must be positive multiples of 2 MiB and at most 2^32 units", async () => {
    const f = fake();
    await rejects(f.createMemfdArena({ sizeBytes: 0n }), InvalidArgumentError, "size_bytes 0 is not a positive multiple of 2 MiB", "CreateMemfdArena");
    await rejects(f.createMemfdArena({ sizeBytes: 3n * MIB }), InvalidArgumentError, "size_bytes 3145728 is not a positive multiple of 2 MiB");
    await rejects(f.createMemfdArena({ sizeBytes: (2n ** 32n + 1n) * UNIT }), InvalidArgumentError, `size_bytes ${(2n ** 32n + 1n) * UNIT} is more than 2^32 units`);
    await rejects(f.createMemfdArena({ sizeBytes: -UNIT }), InvalidArgumentError, 'size_bytes is not an unsigned integer: "-2097152"');
    assert.equal((await f.listArenas()).length, 0);
  });

  test("hugetlb backing needs reserve mode hugetlb", async () => {
    await rejects(fake().createMemfdArena({ sizeBytes: UNIT, backing: "hugetlb" }), FailedPreconditionError, "backing HUGETLB needs reserve mode hugetlb; this daemon's reserve mode is none");
    const { arena, memfd } = await fake({ reserveMode: "hugetlb" }).createMemfdArena({ sizeBytes: UNIT, backing: "hugetlb" });
    own(memfd);
    assert.equal(arena.files[0]!.fdType, "memfd_hugetlb");
  });

  test("names are at most 64 bytes of UTF-8", async () => {
    const f = fake();
    own((await f.createMemfdArena({ sizeBytes: UNIT, name: "é".repeat(32) })).memfd);
    await rejects(f.createMemfdArena({ sizeBytes: UNIT, name: "é".repeat(32) + "x" }), InvalidArgumentError, "name is 65 bytes, more than 64");
  });

  test("a process may hold arenasPerProcess arenas", async () => {
    const f = fake({ arenasPerProcess: 2 });
    await memfdArena(f, 1);
    await memfdArena(f, 1);
    await rejects(f.createMemfdArena({ sizeBytes: UNIT }), ExhaustedError, `process ${process.pid} has reached the limit of 2 arenas`);
    await memfdArena(f.as({ pid: 2 }), 1);
  });

  test("an arena must be whole blocks of the pool's punch granularity", async () => {
    const f = fake({ policy: { punchGranularityBytes: 4n * MIB } });
    await rejects(f.createMemfdArena({ sizeBytes: 3n * UNIT }), InvalidArgumentError, "size_bytes 6291456 is not a multiple of the punch granularity 4 MiB");
    await memfdArena(f, 4);
  });
});

describe("FakePoolClient: guest_memfd arenas", () => {
  test("a stand-in guest_memfd registers as an arena; the fake keeps no dup of it", async () => {
    const f = fake();
    const gmem = own(FakePoolClient.createStandInGuestMemfd(4n * UNIT));
    const before = openFdCount();
    const arena = await f.registerGuestMemfdArena(gmem, { sizeBytes: 4n * UNIT, initialVisibility: "private", name: "cvm" });
    assert.equal(openFdCount(), before);
    assert.deepEqual([arena.kind, arena.initialVisibility, arena.files.map((x) => [x.fdType, x.memfdName])], ["guest_memfd", "private", [["guest_memfd", ""]]]);
    const lease = await f.allocate(arena.arenaId, { unitCount: 2 });
    assert.deepEqual([lease.privateBytes, lease.sharedBytes], [2n * UNIT, 0n]);
  });

  test("the fd must be open, a guest_memfd, of the size named, and not already an arena", async () => {
    const f = fake();
    const gmem = own(FakePoolClient.createStandInGuestMemfd(4n * UNIT));
    await rejects(f.registerGuestMemfdArena(9999, { sizeBytes: 4n * UNIT, initialVisibility: "shared" }), InvalidArgumentError, "fd 9999 is not an open file descriptor (EBADF)", "fd channel SEND_FD");
    const { memfd } = await f.createMemfdArena({ sizeBytes: UNIT });
    own(memfd);
    await rejects(f.registerGuestMemfdArena(memfd, { sizeBytes: UNIT, initialVisibility: "shared" }), InvalidArgumentError, `the fd is a shmem memfd of ${UNIT} bytes, not the claimed guest_memfd`, "fd channel SEND_FD");
    await rejects(f.registerGuestMemfdArena(gmem, { sizeBytes: 2n * UNIT, initialVisibility: "shared" }), InvalidArgumentError, `size_bytes ${2n * UNIT} differs from the fd's size ${4n * UNIT}`);
    await f.registerGuestMemfdArena(gmem, { sizeBytes: 4n * UNIT, initialVisibility: "shared" });
    const { ino } = fstatSync(gmem, { bigint: true });
    await rejects(f.registerGuestMemfdArena(gmem, { sizeBytes: 4n * UNIT, initialVisibility: "shared" }), FailedPreconditionError, new RegExp(`inode ${ino}\\) is already an arena \\(one file backs at most one arena\\)$`));
  });

  test("without guest_memfd on the host a stand-in is just a memfd", async () => {
    const gmem = own(FakePoolClient.createStandInGuestMemfd(UNIT));
    await rejects(fake({ guestMemfd: false }).registerGuestMemfdArena(gmem, { sizeBytes: UNIT, initialVisibility: "shared" }), InvalidArgumentError, `the fd is a shmem memfd of ${UNIT} bytes, not the claimed guest_memfd`);
  });

  test("a pair: the guest_memfd serves private pages, a memfd the fake creates serves shared ones", async () => {
    const f = fake();
    const gmem = own(FakePoolClient.createStandInGuestMemfd(4n * UNIT));
    const { arena, memfd } = await f.createArenaPair(gmem, { sizeBytes: 4n * UNIT, initialVisibility: "private" });
    own(memfd);
    assert.equal(arena.kind, "pair");
    assert.deepEqual(arena.files.map((x) => [x.fdType, x.serves]), [["guest_memfd", "private"], ["memfd_shmem", "shared"]]);
    await f.allocate(arena.arenaId, { unitCount: 2 });
    assert.deepEqual((await f.getArena(arena.arenaId)).files.map((x) => x.populatedUnitCount), [2, 0]);
    await rejects(f.createArenaPair(gmem, { sizeBytes: 4n * UNIT, initialVisibility: "weird" as "shared" }), InvalidArgumentError, "initial_visibility is unspecified");
  });
});

describe("FakePoolClient: allocate and release", () => {
  test("a lease goes to the lowest free run that fits; units move from free to leased", async () => {
    const f = fake();
    const arenaId = await memfdArena(f, 16);
    const a = await f.allocate(arenaId, { unitCount: 4, label: "boot" });
    const b = await f.allocate(arenaId, { unitCount: 2, offsetBytes: 8n * UNIT });
    const c = await f.allocate(arenaId, { unitCount: 4 });
    const d = await f.allocate(arenaId, { unitCount: 2 });
    assert.deepEqual([a, b, c, d].map((l) => l.offsetBytes / UNIT), [0n, 8n, 4n, 10n]);
    assert.deepEqual([a.label, a.unitCount, a.lengthBytes, a.sharedBytes, a.privateBytes, a.discardedBytes], ["boot", 4, 4n * UNIT, 4n * UNIT, 0n, 0n]);
    const status = await f.getPoolStatus();
    assert.deepEqual([status.freeUnitCount, status.leasedUnitCount, status.leaseCount], [128 - 12, 12, 4]);
    assert.deepEqual((await f.getArena(arenaId)).files[0]!.populatedUnitCount, 12);
    f.assertConservation();
  });

  test("placement errors name the values", async () => {
    const f = fake();
    const arenaId = await memfdArena(f, 16);
    const a = await f.allocate(arenaId, { unitCount: 4 });
    await rejects(f.allocate(arenaId, { unitCount: 1, offsetBytes: 3n * MIB }), InvalidArgumentError, "offset_bytes 3145728 is not a multiple of 2 MiB", "Allocate");
    await rejects(f.allocate(arenaId, { unitCount: 2, offsetBytes: 2n * UNIT }), FailedPreconditionError, `placement [2, 4) units overlaps lease "${a.leaseId}" in arena "${arenaId}"`);
    await rejects(f.allocate(arenaId, { unitCount: 2, offsetBytes: 15n * UNIT }), InvalidArgumentError, `placement [${15n * UNIT}, ${17n * UNIT}) passes the end of arena "${arenaId}" (${16n * UNIT} bytes)`);
    await rejects(f.allocate(arenaId, { unitCount: 0 }), InvalidArgumentError, "unit_count must be at least 1, got 0");
    await rejects(f.allocate(arenaId, { unitCount: 1.5 }), InvalidArgumentError, "unit_count must be at least 1, got 1.5");
    await rejects(f.allocate(arenaId, { unitCount: 17 }), InvalidArgumentError, `unit_count 17 is larger than arena "${arenaId}" (16 units)`);
    await rejects(f.allocate(arenaId, { unitCount: 13 }), ExhaustedError, `arena "${arenaId}" has no free run of 13 units (largest is 12 of 12 free)`);
    await rejects(f.allocate(arenaId, { unitCount: 1, label: "x".repeat(65) }), InvalidArgumentError, "label is 65 bytes, more than 64");
    assert.equal((await f.getPoolStatus()).leasedUnitCount, 4);
  });

  test("the pool runs out before the arena does: Requested N units, M free", async () => {
    const f = fake({ capacityUnitCount: 8 });
    const arenaId = await memfdArena(f, 16);
    await f.allocate(arenaId, { unitCount: 6 });
    await rejects(f.allocate(arenaId, { unitCount: 3 }), ExhaustedError, "requested 3 units, 2 free in the pool of 8");
    await f.allocate(arenaId, { unitCount: 2 });
    assert.equal((await f.getPoolStatus()).freeUnitCount, 0);
  });

  test("with a 4 MiB granularity leases are whole 4 MiB blocks at 4 MiB boundaries", async () => {
    const f = fake({ policy: { punchGranularityBytes: 4n * MIB } });
    const arenaId = await memfdArena(f, 8);
    await rejects(f.allocate(arenaId, { unitCount: 3 }), InvalidArgumentError, `unit_count 3 is not a multiple of arena "${arenaId}"'s punch granularity 4 MiB (2 units)`);
    await rejects(f.allocate(arenaId, { unitCount: 2, offsetBytes: UNIT }), InvalidArgumentError, `placement offset 1 units is not aligned to the punch granularity of arena "${arenaId}" (2 units)`);
    await f.allocate(arenaId, { unitCount: 2, offsetBytes: 2n * UNIT });
    assert.equal((await f.allocate(arenaId, { unitCount: 2 })).offsetBytes, 0n);
  });

  test("unknown and empty ids; another owner's arena is not-found with the unknown id's message", async () => {
    const f = fake();
    const arenaId = await memfdArena(f, 4);
    await rejects(f.allocate("", { unitCount: 1 }), InvalidArgumentError, "arena_id is empty");
    await rejects(f.allocate("arena-ffffffffffff", { unitCount: 1 }), NotFoundError, 'arena "arena-ffffffffffff" does not exist');
    const other = f.as({ pid: 4242 });
    await rejects(other.allocate(arenaId, { unitCount: 1 }), NotFoundError, `arena "${arenaId}" does not exist`);
    await rejects(other.getArena(arenaId), NotFoundError, `arena "${arenaId}" does not exist`);
    await rejects(f.getArena(""), InvalidArgumentError, "arena_id is empty");
    assert.deepEqual(await other.listArenas(), []);
  });

  test("release returns the lease's units; a second release is not-found, never a no-op", async () => {
    const f = fake();
    const arenaId = await memfdArena(f, 8);
    const lease = await f.allocate(arenaId, { unitCount: 3 });
    assert.deepEqual(await f.release(lease.leaseId), { releasedUnitCount: 3 });
    assert.equal((await f.getPoolStatus()).freeUnitCount, 128);
    await rejects(f.release(lease.leaseId), NotFoundError, `lease "${lease.leaseId}" does not exist`, "Release");
    await rejects(f.release(""), InvalidArgumentError, "lease_id is empty");
    await rejects(f.getLease(lease.leaseId), NotFoundError, `lease "${lease.leaseId}" does not exist`);
    const again = await f.allocate(arenaId, { unitCount: 1 });
    await rejects(f.as({ pid: 7 }).release(again.leaseId), NotFoundError, `lease "${again.leaseId}" does not exist`);
    f.assertConservation();
  });

  test("listLeases is sorted by arena then offset; getLease of another arena filter", async () => {
    const f = fake();
    const arenaId = await memfdArena(f, 8);
    const second = await memfdArena(f, 8);
    const high = await f.allocate(arenaId, { unitCount: 1, offsetBytes: 6n * UNIT });
    const low = await f.allocate(arenaId, { unitCount: 1 });
    const other = await f.allocate(second, { unitCount: 1 });
    assert.deepEqual((await f.listLeases()).map((l) => l.leaseId), [low.leaseId, high.leaseId, other.leaseId]);
    assert.deepEqual((await f.listLeases({ arenaId: second })).map((l) => l.leaseId), [other.leaseId]);
    await rejects(f.as({ pid: 9 }).listLeases({ arenaId }), NotFoundError, `arena "${arenaId}" does not exist`);
  });
});

describe("FakePoolClient: discard and populate", () => {
  test("range checks: 4 KiB alignment, length, the arena's end, leased by the caller", async () => {
    const f = fake();
    const arenaId = await memfdArena(f, 8);
    await f.allocate(arenaId, { unitCount: 2 });
    await rejects(f.discard(arenaId, { offsetBytes: 100n, lengthBytes: PAGE }), InvalidArgumentError, "discard offset 100 and length 4096 must be multiples of 4096", "Discard");
    await rejects(f.discard(arenaId, { offsetBytes: 0n, lengthBytes: 0n }), InvalidArgumentError, "discard length is 0");
    await rejects(f.populate(arenaId, { offsetBytes: 7n * UNIT, lengthBytes: 2n * UNIT }), InvalidArgumentError, `populate range [${7n * UNIT}, ${9n * UNIT}) passes the end of arena "${arenaId}" (${8n * UNIT} bytes)`);
    await rejects(f.discard(arenaId, { offsetBytes: UNIT, lengthBytes: 2n * UNIT }), FailedPreconditionError, `discard range [0x400000, 0x600000) of arena "${arenaId}" is not leased by the caller`);
  });

  test("a whole unit is punched and goes back to the reserve; populate brings it back", async () => {
    const f = fake();
    const arenaId = await memfdArena(f, 8);
    const lease = await f.allocate(arenaId, { unitCount: 4 });
    assert.deepEqual(await f.discard(arenaId, { offsetBytes: UNIT, lengthBytes: UNIT }), { punchedBytes: UNIT, releasedUnitCount: 1, zeroedBytes: 0n, deferredBytes: 0n, appliedPolicy: undefined });
    const after = await f.getLease(lease.leaseId);
    assert.deepEqual([after.discardedBytes, after.discardedUnitCount, after.sharedBytes], [UNIT, 1, 3n * UNIT]);
    assert.deepEqual([(await f.getPoolStatus()).freeUnitCount, (await f.getArena(arenaId)).discardedUnitCount], [125, 1]);
    assert.deepEqual((await f.getFragmentationMap({ arenaId })).arenas[0]!.runs.map((r) => [r.firstUnit, r.unitCount, r.state]), [[0, 1, "leased"], [1, 1, "discarded"], [2, 2, "leased"], [4, 4, "free"]]);
    assert.deepEqual(await f.populate(arenaId, { offsetBytes: 0n, lengthBytes: 4n * UNIT }), { populatedUnitCount: 1, restoredBytes: UNIT });
    assert.equal((await f.getPoolStatus()).freeUnitCount, 124);
    f.assertConservation();
  });

  test("defer: a sub-unit discard is deferred (the unit splits, the map says deferred); the last page of the unit punches it", async () => {
    const f = fake();
    const arenaId = await memfdArena(f, 4);
    const lease = await f.allocate(arenaId, { unitCount: 2 });
    assert.deepEqual(await f.discard(arenaId, { offsetBytes: 0n, lengthBytes: PAGE }), { punchedBytes: 0n, releasedUnitCount: 0, zeroedBytes: 0n, deferredBytes: PAGE, appliedPolicy: "defer" });
    let status = await f.getPoolStatus();
    assert.deepEqual([status.deferredBytes, status.splitUnitCount, status.freeUnitCount], [PAGE, 1, 126]);
    assert.equal((await f.getFragmentationMap()).arenas[0]!.runs[0]!.state, "deferred");
    assert.deepEqual(await f.discard(arenaId, { offsetBytes: PAGE, lengthBytes: UNIT - PAGE }), { punchedBytes: UNIT, releasedUnitCount: 1, zeroedBytes: 0n, deferredBytes: 0n, appliedPolicy: "defer" });
    status = await f.getPoolStatus();
    assert.deepEqual([status.deferredBytes, status.splitUnitCount, status.freeUnitCount], [0n, 0, 127]);
    assert.deepEqual((await f.getLease(lease.leaseId)).discardedUnitCount, 1);
    // Discarding deferred pages again defers nothing new.
    await f.discard(arenaId, { offsetBytes: UNIT, lengthBytes: PAGE });
    assert.equal((await f.discard(arenaId, { offsetBytes: UNIT, lengthBytes: PAGE })).deferredBytes, 0n);
    assert.deepEqual(await f.populate(arenaId, { offsetBytes: UNIT, lengthBytes: 2n * PAGE }), { populatedUnitCount: 0, restoredBytes: PAGE });
    f.assertConservation();
  });

  test("a unit wholly discarded inside a larger punch block stays populated: deferred in the map", async () => {
    const f = fake({ policy: { punchGranularityBytes: 4n * MIB } });
    const arenaId = await memfdArena(f, 4);
    await f.allocate(arenaId, { unitCount: 2 });
    assert.deepEqual(await f.discard(arenaId, { offsetBytes: 0n, lengthBytes: UNIT }), { punchedBytes: 0n, releasedUnitCount: 0, zeroedBytes: 0n, deferredBytes: UNIT, appliedPolicy: "defer" });
    const runs = (await f.getFragmentationMap()).arenas[0]!.runs;
    assert.deepEqual(runs.map((r) => r.state), ["deferred", "leased", "free"]);
    const status = await f.getPoolStatus();
    assert.deepEqual([status.deferredBytes, status.splitUnitCount, status.freeUnitCount], [UNIT, 0, 126]);
    assert.deepEqual(await f.discard(arenaId, { offsetBytes: UNIT, lengthBytes: UNIT }), { punchedBytes: 4n * MIB, releasedUnitCount: 2, zeroedBytes: 0n, deferredBytes: 0n, appliedPolicy: "defer" });
    assert.equal((await f.getPoolStatus()).freeUnitCount, 128);
  });

  test("reject: a sub-unit discard fails naming the enclosing 2 MiB boundaries and changes nothing", async () => {
    const f = fake({ policy: { discardPolicy: "reject" } });
    const arenaId = await memfdArena(f, 4);
    await f.allocate(arenaId, { unitCount: 2 });
    const before = f.snapshot();
    await rejects(
      f.discard(arenaId, { offsetBytes: PAGE, lengthBytes: 2n * PAGE }),
      FailedPreconditionError,
      `discard [0x1000, 0x3000) of arena "${arenaId}" is inside [0x0, 0x200000), which it does not cover whole; policy reject: discard whole units (discard [4096, 12288) is not aligned to the 2 MiB punch granularity and policy is reject; no whole 2 MiB block lies inside it)`,
    );
    await rejects(
      f.discard(arenaId, { offsetBytes: UNIT - PAGE, lengthBytes: UNIT + PAGE }),
      FailedPreconditionError,
      /is inside \[0x0, 0x400000\).*the aligned part is \[2097152, 4194304\)\)$/,
    );
    assert.deepEqual(f.snapshot(), before);
    assert.equal((await f.discard(arenaId, { offsetBytes: UNIT, lengthBytes: UNIT })).releasedUnitCount, 1);
  });

  test("zero: shared sub-unit pages are zeroed in place and stay populated; private ones cannot be", async () => {
    const f = fake({ policy: { discardPolicy: "zero" } });
    const arenaId = await memfdArena(f, 4);
    await f.allocate(arenaId, { unitCount: 2 });
    assert.deepEqual(await f.discard(arenaId, { offsetBytes: 0n, lengthBytes: UNIT + 2n * PAGE }), { punchedBytes: UNIT, releasedUnitCount: 1, zeroedBytes: 2n * PAGE, deferredBytes: 0n, appliedPolicy: "zero" });
    assert.equal((await f.getPoolStatus()).deferredBytes, 0n);
    const gmem = own(FakePoolClient.createStandInGuestMemfd(2n * UNIT));
    const cvm = await f.registerGuestMemfdArena(gmem, { sizeBytes: 2n * UNIT, initialVisibility: "private" });
    await f.allocate(cvm.arenaId, { unitCount: 1 });
    await rejects(f.discard(cvm.arenaId, { offsetBytes: 2n * PAGE, lengthBytes: PAGE }), FailedPreconditionError, "discard policy zero cannot zero private page at offset 8192: the host cannot write private memory");
  });

  test("the deferred cap: past it, sub-unit discards follow the overflow policy; deferred-cap-reached is published once", async () => {
    const f = fake({ policy: { deferredCapBytes: 2n * PAGE } });
    const arenaId = await memfdArena(f, 4);
    await f.allocate(arenaId, { unitCount: 2 });
    await rejects(f.discard(arenaId, { offsetBytes: 0n, lengthBytes: 3n * PAGE }), FailedPreconditionError, /policy reject: discard whole units \(.*the deferred cap of 8 KiB is reached \(0 B deferred\); no whole 2 MiB block lies inside it\)$/);
    await f.discard(arenaId, { offsetBytes: 0n, lengthBytes: PAGE });
    await f.discard(arenaId, { offsetBytes: PAGE, lengthBytes: PAGE });
    await f.discard(arenaId, { offsetBytes: 0n, lengthBytes: PAGE });
    const capEvents = f.snapshot().events.flatMap((e) => (e.kind === "deferred-cap-reached" ? [[e.deferredBytes, e.deferredCapBytes, e.overflowPolicy]] : []));
    assert.deepEqual(capEvents, [[2n * PAGE, 2n * PAGE, "reject"]]);
    const admin = f.as({ admin: true });
    await admin.setPolicy({ deferredOverflowPolicy: "zero" });
    assert.deepEqual(await f.discard(arenaId, { offsetBytes: UNIT, lengthBytes: PAGE }), { punchedBytes: 0n, releasedUnitCount: 0, zeroedBytes: PAGE, deferredBytes: 0n, appliedPolicy: "zero" });
  });

  test("a discard may span adjacent leases; a page-granularity arena punches pages and keeps the unit", async () => {
    const f = fake();
    const arenaId = await memfdArena(f, 4);
    await f.allocate(arenaId, { unitCount: 1 });
    await f.allocate(arenaId, { unitCount: 1 });
    const result = await f.discard(arenaId, { offsetBytes: UNIT - PAGE, lengthBytes: 2n * PAGE });
    assert.deepEqual([result.deferredBytes, result.appliedPolicy], [2n * PAGE, "defer"]);
    const admin = f.as({ admin: true });
    await admin.setPolicy({ arenaId, punchGranularityBytes: PAGE });
    // At 4 KiB every page is a granule: the two pages are punched, and so is the page of this
    // unit that was deferred before; the unit stays leased, split.
    assert.deepEqual(await f.discard(arenaId, { offsetBytes: 4n * PAGE, lengthBytes: 2n * PAGE }), { punchedBytes: 3n * PAGE, releasedUnitCount: 0, zeroedBytes: 0n, deferredBytes: 0n, appliedPolicy: undefined });
    const status = await f.getPoolStatus();
    assert.deepEqual([status.splitUnitCount, status.deferredBytes, status.leasedUnitCount], [2, PAGE, 2]);
    f.assertConservation();
  });

  test("populate needs free units for punched ones: Exhausted names the lease and changes nothing", async () => {
    const f = fake({ capacityUnitCount: 4 });
    const arenaId = await memfdArena(f, 8);
    const lease = await f.allocate(arenaId, { unitCount: 4 });
    await f.discard(arenaId, { offsetBytes: 0n, lengthBytes: 2n * UNIT });
    await f.allocate(arenaId, { unitCount: 1 });
    const before = f.snapshot();
    await rejects(f.populate(arenaId, { offsetBytes: 0n, lengthBytes: 2n * UNIT }), ExhaustedError, `lease "${lease.leaseId}" needs 2 more units, 1 free in the pool of 4`);
    assert.deepEqual(f.snapshot(), before);
    assert.equal((await f.getLease(lease.leaseId)).discardedUnitCount, 2);
    f.assertConservation();
  });
});

describe("FakePoolClient: convert", () => {
  test("a memfd arena has no private pages; range checks come first", async () => {
    const f = fake();
    const arenaId = await memfdArena(f, 4);
    await f.allocate(arenaId, { unitCount: 1 });
    await rejects(f.convert(arenaId, { offsetBytes: 1n, lengthBytes: PAGE, toVisibility: "private", mode: "notify" }), InvalidArgumentError, "convert offset 1 and length 4096 must be multiples of 4096");
    await rejects(f.convert(arenaId, { offsetBytes: 0n, lengthBytes: PAGE, toVisibility: "private", mode: "in-place" }), FailedPreconditionError, `arena "${arenaId}" is a memfd arena: it has no private pages`, "Convert");
    await rejects(f.convert(arenaId, { offsetBytes: 0n, lengthBytes: PAGE, toVisibility: "private", mode: "sideways" as "notify" }), InvalidArgumentError, "mode is unspecified");
  });

  test("in-place needs KVM_SET_MEMORY_ATTRIBUTES2 unless the fake is configured with it", async () => {
    for (const inPlaceConversion of [false, true]) {
      const f = fake({ inPlaceConversion });
      const gmem = own(FakePoolClient.createStandInGuestMemfd(4n * UNIT));
      const { arenaId } = await f.registerGuestMemfdArena(gmem, { sizeBytes: 4n * UNIT, initialVisibility: "shared" });
      await f.allocate(arenaId, { unitCount: 2 });
      const convert = f.convert(arenaId, { offsetBytes: 0n, lengthBytes: UNIT + PAGE, toVisibility: "private", mode: "in-place" });
      if (!inPlaceConversion) {
        await rejects(convert, UnimplementedError, "in-place conversion needs KVM_SET_MEMORY_ATTRIBUTES2, which this kernel lacks (ENOTTY, or gmem_in_place_conversion off); use mode notify");
        continue;
      }
      assert.deepEqual(await convert, { convertedBytes: UNIT + PAGE, populatedUnitCount: 0, stalePunchedBytes: 0n, staleReleasedUnitCount: 0, collapsibleUnits: [{ firstUnit: 0, unitCount: 1 }] });
      assert.equal((await f.convert(arenaId, { offsetBytes: 0n, lengthBytes: PAGE, toVisibility: "private", mode: "in-place" })).convertedBytes, 0n);
      const lease = (await f.listLeases())[0]!;
      assert.deepEqual([lease.privateBytes, lease.sharedBytes, lease.splitUnitCount], [UNIT + PAGE, UNIT - PAGE, 1]);
    }
  });

  test("notify on a pair populates the target side and punches the stale side a whole unit at a time", async () => {
    const f = fake();
    const gmem = own(FakePoolClient.createStandInGuestMemfd(4n * UNIT));
    const { arena, memfd } = await f.createArenaPair(gmem, { sizeBytes: 4n * UNIT, initialVisibility: "private" });
    own(memfd);
    const arenaId = arena.arenaId;
    await f.allocate(arenaId, { unitCount: 2 });
    assert.deepEqual(await f.convert(arenaId, { offsetBytes: 0n, lengthBytes: PAGE, toVisibility: "shared", mode: "notify" }), { convertedBytes: PAGE, populatedUnitCount: 1, stalePunchedBytes: 0n, staleReleasedUnitCount: 0, collapsibleUnits: [] });
    assert.deepEqual((await f.getArena(arenaId)).files.map((x) => x.populatedUnitCount), [2, 1]);
    assert.equal((await f.getPoolStatus()).leasedUnitCount, 3);
    assert.deepEqual(await f.convert(arenaId, { offsetBytes: UNIT, lengthBytes: UNIT, toVisibility: "shared", mode: "notify" }), { convertedBytes: UNIT, populatedUnitCount: 1, stalePunchedBytes: UNIT, staleReleasedUnitCount: 1, collapsibleUnits: [] });
    assert.deepEqual(await f.convert(arenaId, { offsetBytes: 0n, lengthBytes: PAGE, toVisibility: "private", mode: "notify" }), { convertedBytes: PAGE, populatedUnitCount: 0, stalePunchedBytes: UNIT, staleReleasedUnitCount: 1, collapsibleUnits: [{ firstUnit: 0, unitCount: 1 }] });
    await rejects(f.convert(arenaId, { offsetBytes: 0n, lengthBytes: PAGE, toVisibility: "shared", mode: "in-place" }), FailedPreconditionError, `arena "${arenaId}" is a guest_memfd + memfd pair: it converts out of place (mode notify), not in place`);
    await rejects(f.convert(arenaId, { offsetBytes: 0n, lengthBytes: PAGE, toVisibility: "shared", mode: "notify", contentIntent: "preserve" }), FailedPreconditionError, /content_intent PRESERVE cannot be honoured/);
    f.assertConservation();
  });

  test("notify on a pair fails whole when the reserve cannot back the target side", async () => {
    const f = fake({ capacityUnitCount: 2 });
    const gmem = own(FakePoolClient.createStandInGuestMemfd(4n * UNIT));
    const { arena, memfd } = await f.createArenaPair(gmem, { sizeBytes: 4n * UNIT, initialVisibility: "private" });
    own(memfd);
    const lease = await f.allocate(arena.arenaId, { unitCount: 2 });
    const before = f.snapshot();
    await rejects(f.convert(arena.arenaId, { offsetBytes: 0n, lengthBytes: 2n * PAGE, toVisibility: "shared", mode: "notify" }), ExhaustedError, `lease "${lease.leaseId}" needs 1 more units, 0 free in the pool of 2`);
    assert.deepEqual(f.snapshot().leases, before.leases);
  });
});

describe("FakePoolClient: identities, admin and policy", () => {
  test("admin-only requests are PermissionDenied for a VMM; the admin sees every owner's", async () => {
    const vmm = fake();
    const arenaId = await memfdArena(vmm, 4);
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    await rejects(vmm.listArenas({ allOwners: true }), PermissionDeniedError, `all_owners needs the admin identity; uid ${uid} gid ${gid} is not`, "ListArenas");
    await rejects(vmm.listLeases({ allOwners: true }), PermissionDeniedError, /all_owners/);
    await rejects(vmm.getFragmentationMap({ allOwners: true }), PermissionDeniedError, /all_owners/);
    await rejects(vmm.setPolicy({ discardPolicy: "zero" }), PermissionDeniedError, `uid ${uid} gid ${gid} is not the configured admin identity`, "Admin.SetPolicy");
    await rejects(vmm.forceRelease({ arenaId }), PermissionDeniedError, /is not the configured admin identity/);
    const admin = vmm.as({ pid: 1, admin: true });
    assert.deepEqual((await admin.listArenas()).length, 0);
    assert.deepEqual((await admin.listArenas({ allOwners: true })).map((a) => a.arenaId), [arenaId]);
    assert.equal((await admin.getArena(arenaId)).arenaId, arenaId);
    await rejects(admin.allocate(arenaId, { unitCount: 1 }), NotFoundError, `arena "${arenaId}" does not exist`);
  });

  test("setPolicy changes the pool policy and arena overrides; getPolicy shows the caller's overrides", async () => {
    const vmm = fake();
    const arenaId = await memfdArena(vmm, 4);
    const otherArena = await memfdArena(vmm.as({ pid: 77 }), 4);
    const admin = vmm.as({ pid: 1, admin: true });
    assert.deepEqual(await vmm.getPolicy(), { poolPolicy: { discardPolicy: "defer", punchGranularityBytes: UNIT, deferredCapBytes: 1024n * MIB, deferredOverflowPolicy: "reject" }, arenaOverrides: [] });
    const pool = await admin.setPolicy({ discardPolicy: "zero", deferredCapBytes: 64n * MIB });
    assert.deepEqual(pool, { poolPolicy: { discardPolicy: "zero", punchGranularityBytes: UNIT, deferredCapBytes: 64n * MIB, deferredOverflowPolicy: "reject" }, arenaOverride: undefined });
    assert.deepEqual(await admin.setPolicy({ arenaId, discardPolicy: "reject" }), { poolPolicy: pool.poolPolicy, arenaOverride: { arenaId, discardPolicy: "reject" } });
    await admin.setPolicy({ arenaId: otherArena, punchGranularityBytes: 4n * MIB });
    assert.deepEqual((await vmm.getPolicy()).arenaOverrides, [{ arenaId, discardPolicy: "reject" }]);
    assert.equal((await admin.getPolicy()).arenaOverrides.length, 2);
    assert.deepEqual((await vmm.getArena(arenaId)).policy, { discardPolicy: "reject", discardPolicyOverridden: true, punchGranularityBytes: UNIT, punchGranularityOverridden: false });
    assert.deepEqual((await admin.setPolicy({ arenaId, clearArenaOverride: true })).arenaOverride, { arenaId });
    assert.deepEqual((await vmm.getPolicy()).arenaOverrides, []);
  });

  test("setPolicy refuses what the daemon refuses", async () => {
    const vmm = fake();
    const arenaId = await memfdArena(vmm, 4);
    await vmm.allocate(arenaId, { unitCount: 1, offsetBytes: UNIT });
    const admin = vmm.as({ admin: true, pid: 1 });
    await rejects(admin.setPolicy({ punchGranularityBytes: 3n * MIB }), InvalidArgumentError, "punch granularity 3145728 must be 4 KiB or a power-of-two multiple of 2 MiB up to 1 GiB (e.g. 2097152, 1073741824)");
    await rejects(admin.setPolicy({ punchGranularityBytes: 2n * 1024n * MIB }), InvalidArgumentError, /must be 4 KiB or a power-of-two multiple/);
    await rejects(admin.setPolicy({ deferredCapBytes: 1000n }), InvalidArgumentError, "deferred cap 1000 is not a multiple of 4 KiB");
    await rejects(admin.setPolicy({ deferredOverflowPolicy: "defer" }), InvalidArgumentError, "deferred_overflow_policy DISCARD_POLICY_DEFER is not allowed: REJECT or ZERO");
    await rejects(admin.setPolicy({ arenaId, deferredCapBytes: 0n }), InvalidArgumentError, "deferred_cap_bytes and deferred_overflow_policy are pool-wide: leave arena_id empty");
    await rejects(admin.setPolicy({ clearArenaOverride: true }), InvalidArgumentError, "clear_arena_override needs an arena_id");
    await rejects(admin.setPolicy({ arenaId: "arena-000000000999", discardPolicy: "zero" }), NotFoundError, 'arena "arena-000000000999" does not exist');
    const lease = (await vmm.listLeases())[0]!;
    await rejects(admin.setPolicy({ punchGranularityBytes: 4n * MIB }), FailedPreconditionError, `lease "${lease.leaseId}" (units 1+1) of arena "${arenaId}" is not aligned to 4 MiB`);
    await rejects(admin.setPolicy({ arenaId, punchGranularityBytes: 16n * MIB }), FailedPreconditionError, `arena "${arenaId}" of 4 units is not a multiple of 16 MiB`);
    assert.deepEqual((await vmm.getPolicy()).poolPolicy.punchGranularityBytes, UNIT);
  });
});

describe("FakePoolClient: deleteArena and forceRelease", () => {
  test("deleteArena with leases needs releaseLeases, then reports what it released", async () => {
    const f = fake();
    const arenaId = await memfdArena(f, 8);
    await f.allocate(arenaId, { unitCount: 2 });
    await f.allocate(arenaId, { unitCount: 3 });
    await rejects(f.deleteArena(arenaId), FailedPreconditionError, `arena "${arenaId}" still has 2 lease(s); set release_leases to release them`, "DeleteArena");
    assert.deepEqual(await f.deleteArena(arenaId, { releaseLeases: true }), { releasedLeaseCount: 2, releasedUnitCount: 5 });
    await rejects(f.deleteArena(arenaId), NotFoundError, `arena "${arenaId}" does not exist`);
    const status = await f.getPoolStatus();
    assert.deepEqual([status.freeUnitCount, status.arenaCount, status.leaseCount], [128, 0, 0]);
  });

  test("forceRelease takes back a lease, an arena, or a process's arenas; the owner then gets not-found", async () => {
    const vmm = fake();
    const admin = vmm.as({ pid: 1, admin: true });
    const arenaId = await memfdArena(vmm, 8);
    const lease = await vmm.allocate(arenaId, { unitCount: 2 });
    assert.deepEqual(await admin.forceRelease({ leaseId: lease.leaseId }), { releasedLeaseCount: 1, deletedArenaCount: 0, releasedUnitCount: 2 });
    await rejects(vmm.release(lease.leaseId), NotFoundError, `lease "${lease.leaseId}" does not exist`);
    await vmm.allocate(arenaId, { unitCount: 1 });
    assert.deepEqual(await admin.forceRelease({ arenaId }), { releasedLeaseCount: 1, deletedArenaCount: 1, releasedUnitCount: 1 });
    const other = vmm.as({ pid: 31337 });
    await memfdArena(other, 2);
    await memfdArena(other, 2);
    assert.deepEqual(await admin.forceRelease({ ownerPid: 31337 }), { releasedLeaseCount: 0, deletedArenaCount: 2, releasedUnitCount: 0 });
    await rejects(admin.forceRelease({ ownerPid: 31337 }), NotFoundError, "no arena is owned by process 31337", "Admin.ForceRelease");
    await rejects(admin.forceRelease({ leaseId: "lease-000000000999" }), NotFoundError, 'lease "lease-000000000999" does not exist');
    await rejects(admin.forceRelease({} as { leaseId: string }), InvalidArgumentError, "no target set (lease_id, arena_id or owner_pid)");
    const reasons = admin.snapshot().events.flatMap((e) => (e.kind === "lease-released" || e.kind === "arena-deleted" ? [e.reason] : []));
    assert.deepEqual(reasons, ["force-release", "force-release", "force-release", "force-release", "force-release"]);
  });
});

describe("FakePoolClient: watch", () => {
  test("a stream starts with a pool-status snapshot, then the caller's events in commit order", async () => {
    const f = fake();
    const stream = f.watch();
    const arenaId = await memfdArena(f, 4);
    const lease = await f.allocate(arenaId, { unitCount: 1 });
    await f.discard(arenaId, { offsetBytes: 0n, lengthBytes: PAGE });
    await f.release(lease.leaseId);
    await f.deleteArena(arenaId);
    const events = await take(stream, 7);
    stream.cancel();
    assert.deepEqual(events.map((e) => e.kind), ["pool-status", "arena-created", "lease-allocated", "range-discarded", "lease-released", "arena-state-changed", "arena-deleted"]);
    assert.deepEqual(events.map((e) => e.sequence), [1n, 2n, 3n, 4n, 5n, 6n, 7n]);
    const deleted = events[6]!;
    assert.ok(deleted.kind === "arena-deleted");
    assert.deepEqual([deleted.arenaId, deleted.reason, deleted.releasedLeaseCount], [arenaId, "client", 0]);
    assert.deepEqual(await stream.next(), { done: true, value: undefined });
  });

  test("a VMM sees its own events and pool-wide ones; the admin with allOwners sees all", async () => {
    const vmm = fake();
    const other = vmm.as({ pid: 5 });
    const admin = vmm.as({ pid: 1, admin: true });
    const mine = vmm.watch();
    const all = admin.watch({ allOwners: true });
    await memfdArena(other, 2);
    await admin.setPolicy({ discardPolicy: "zero" });
    await memfdArena(vmm, 2);
    assert.deepEqual((await take(mine, 3)).map((e) => e.kind), ["pool-status", "policy-changed", "arena-created"]);
    assert.deepEqual((await take(all, 4)).map((e) => e.kind), ["pool-status", "arena-created", "policy-changed", "arena-created"]);
    mine.cancel();
    all.cancel();
  });

  test("filters: kinds (pool-status still first), one arena (the stream ends after its deletion)", async () => {
    const f = fake();
    const arenaId = await memfdArena(f, 4);
    const other = await memfdArena(f, 4);
    const onlyLeases = f.watch({ kinds: ["lease-allocated"] });
    const oneArena = f.watch({ arenaId });
    await f.allocate(other, { unitCount: 1 });
    await f.allocate(arenaId, { unitCount: 1 });
    await f.deleteArena(arenaId, { releaseLeases: true });
    assert.deepEqual((await take(onlyLeases, 3)).map((e) => e.kind), ["pool-status", "lease-allocated", "lease-allocated"]);
    const events: string[] = [];
    for await (const event of oneArena) events.push(event.kind);
    assert.deepEqual(events, ["pool-status", "lease-allocated", "arena-state-changed", "lease-released", "arena-deleted"]);
    onlyLeases.cancel();
  });

  test("a refused watch fails on its first read; cancel and abort end a stream", async () => {
    const f = fake();
    await assert.rejects(f.watch({ arenaId: "arena-000000000777" }).next(), (e: unknown) => e instanceof NotFoundError && e.operation === "Watch");
    await assert.rejects(f.watch({ allOwners: true }).next(), PermissionDeniedError);
    await assert.rejects(f.watch({ kinds: ["nonsense" as "pool-status"] }).next(), InvalidArgumentError);
    const controller = new AbortController();
    const stream = f.watch({}, { signal: controller.signal });
    assert.deepEqual((await take(stream, 1)).map((e) => e.kind), ["pool-status"]);
    const pending = stream.next();
    controller.abort();
    assert.deepEqual(await pending, { done: true, value: undefined });
  });
});

describe("FakePoolClient: fragmentation map", () => {
  test("units are handed out from the top of the reserve and taken back at the bottom; a call doing both leaves a gap", async () => {
    const f = fake({ capacityUnitCount: 16 });
    const arenaId = await memfdArena(f, 8);
    const a = await f.allocate(arenaId, { unitCount: 4 });
    const reserveOf = async (): Promise<unknown[]> => {
      const r = (await f.getFragmentationMap()).reserve;
      return [r.freeUnitCount, r.largestFreeRunUnitCount, r.freeRunCountsByOrder];
    };
    assert.deepEqual(await reserveOf(), [12, 12, [0, 0, 0, 1]]);
    await f.allocate(arenaId, { unitCount: 2 });
    await f.release(a.leaseId);
    assert.deepEqual(await reserveOf(), [14, 14, [0, 0, 0, 1]]);
    const map = await f.getFragmentationMap({ arenaId });
    assert.deepEqual(map.arenas[0]!.runs.map((r) => [r.firstUnit, r.unitCount, r.state]), [[0, 4, "free"], [4, 2, "leased"], [6, 2, "free"]]);
    assert.deepEqual([map.arenas[0]!.largestFreeRunUnitCount, map.kernelBuddyZones], [4, []]);
    // A pair's conversion populates one side (slot 11, the top held one) and punches the
    // other (slot 12, the lowest vacant one) in one call: held is [0, 11) and [12, 13).
    const gmem = own(FakePoolClient.createStandInGuestMemfd(4n * UNIT));
    const pair = await f.createArenaPair(gmem, { sizeBytes: 4n * UNIT, initialVisibility: "private" });
    own(pair.memfd);
    await f.allocate(pair.arena.arenaId, { unitCount: 2 });
    await f.convert(pair.arena.arenaId, { offsetBytes: UNIT, lengthBytes: UNIT, toVisibility: "shared", mode: "notify" });
    assert.deepEqual(await reserveOf(), [12, 11, [1, 0, 0, 1]]);
    assert.equal((await f.getPoolStatus()).largestFreeRunUnitCount, 12, "reserve none reports all free units as one run");
  });
});

describe("FakePoolClient: idempotency", () => {
  test("a retried call with the same request id returns the first result and acts once", async () => {
    const f = fake();
    const arenaId = await memfdArena(f, 8);
    const first = await f.allocate(arenaId, { unitCount: 2 }, { requestId: "boot-1" });
    assert.deepEqual(await f.allocate(arenaId, { unitCount: 2 }, { requestId: "boot-1" }), first);
    assert.equal((await f.getPoolStatus()).leasedUnitCount, 2);
    await rejects(f.allocate(arenaId, { unitCount: 3 }, { requestId: "boot-1" }), InvalidArgumentError, 'request_id "boot-1" was already used for a different Allocate request');
    await rejects(f.allocate(arenaId, { unitCount: 3 }, { requestId: "bad id!" }), InvalidArgumentError, 'request_id "bad id!" must be 1 to 128 bytes of [A-Za-z0-9._:-]');
    // Another caller's id space is its own.
    const otherArena = await memfdArena(f.as({ pid: 3 }), 8);
    assert.equal((await f.as({ pid: 3 }).allocate(otherArena, { unitCount: 1 }, { requestId: "boot-1" })).unitCount, 1);
  });

  test("a retried CreateMemfdArena delivers the same memfd file again", async () => {
    const f = fake();
    const first = await f.createMemfdArena({ sizeBytes: UNIT }, { requestId: "create-1" });
    const again = await f.createMemfdArena({ sizeBytes: UNIT }, { requestId: "create-1" });
    own(first.memfd);
    own(again.memfd);
    assert.notEqual(again.memfd, first.memfd);
    assert.equal(fstatSync(again.memfd).ino, fstatSync(first.memfd).ino);
    assert.deepEqual(again.arena, first.arena);
    assert.equal((await f.listArenas()).length, 1);
  });
});

describe("FakePoolClient: fault injection and lifecycle", () => {
  test("failNext: the next calls reject with the given error and change nothing", async () => {
    const f = fake();
    const arenaId = await memfdArena(f, 8);
    f.failNext("allocate", new ExhaustedError("Requested 9 units, 2 free"), { times: 2 });
    assert.deepEqual(f.pendingFaults(), { allocate: 2 });
    await rejects(f.allocate(arenaId, { unitCount: 1 }), ExhaustedError, "Requested 9 units, 2 free");
    await rejects(f.allocate(arenaId, { unitCount: 1 }), ExhaustedError, "Requested 9 units, 2 free");
    assert.equal((await f.getPoolStatus()).leasedUnitCount, 0);
    assert.equal((await f.allocate(arenaId, { unitCount: 1 })).unitCount, 1);
    f.failNext("watch", () => new UnavailableError("the daemon is draining; reconnect with backoff"));
    await assert.rejects(f.watch().next(), UnavailableError);
    assert.deepEqual(f.pendingFaults(), {});
  });

  test("stallNext: the call ends at its deadline, or when cancelled, or when the client closes", async () => {
    const f = fake();
    f.stallNext("getPoolStatus", { times: 3 });
    await rejects(f.getPoolStatus({ deadlineMs: 20 }), DeadlineExceededError, "the deadline of 20 ms passed", "GetPoolStatus");
    const controller = new AbortController();
    const cancelled = f.getPoolStatus({ signal: controller.signal });
    controller.abort();
    await assert.rejects(cancelled, CancelledError);
    const closed = f.getPoolStatus();
    f.close();
    await assert.rejects(closed, CancelledError);
    await rejects(f.getPoolStatus(), CancelledError, "the client is closed");
  });

  test("mutations answer Unavailable while the daemon starts or drains; reads still work", async () => {
    const f = fake();
    f.setServingState("starting");
    await rejects(f.createMemfdArena({ sizeBytes: UNIT }), UnavailableError, "the daemon is starting (reserve 0 of 128 units populated); retry with backoff");
    assert.equal((await f.getPoolStatus()).servingState, "starting");
    f.setServingState("draining");
    await rejects(f.createMemfdArena({ sizeBytes: UNIT }), UnavailableError, "the daemon is draining (shutting down); retry with backoff");
  });

  test("an owner's exit deletes its arenas and releases their leases (reason owner-exited)", async () => {
    const f = fake();
    const vmm = f.as({ pid: 600 });
    const arenaId = await memfdArena(vmm, 4);
    await vmm.allocate(arenaId, { unitCount: 3 });
    await memfdArena(vmm, 2);
    assert.deepEqual(f.simulateOwnerExit({ pid: 600 }), { deletedArenaCount: 2, releasedLeaseCount: 1, releasedUnitCount: 3 });
    const events = f.snapshot().events.slice(-6).map((e) => (e.kind === "lease-released" || e.kind === "arena-deleted" ? `${e.kind}:${e.reason}` : e.kind));
    assert.deepEqual(events, ["arena-state-changed", "arena-state-changed", "lease-released:owner-exited", "arena-deleted:owner-exited", "arena-deleted:owner-exited", "owner-exited"]);
    assert.equal((await f.getPoolStatus()).freeUnitCount, 128);
  });

  test("after a restart without the fd store arenas are DETACHED until their files are sent again", async () => {
    const f = fake();
    const { arena, memfd } = await f.createMemfdArena({ sizeBytes: 4n * UNIT });
    own(memfd);
    const arenaId = arena.arenaId;
    const lease = await f.allocate(arenaId, { unitCount: 2 });
    const stream = f.watch();
    await stream.next();
    f.simulateDaemonRestart();
    await assert.rejects(stream.next(), UnavailableError);
    assert.equal((await f.getArena(arenaId)).state, "detached");
    assert.equal((await f.getLease(lease.leaseId)).unitCount, 2);
    await rejects(f.allocate(arenaId, { unitCount: 1 }), FailedPreconditionError, `arena "${arenaId}" is DETACHED since the daemon restarted: send its file(s) again with ReattachArena`);
    await rejects(f.release(lease.leaseId), FailedPreconditionError, /is DETACHED/);
    await rejects(f.deleteArena(arenaId, { releaseLeases: true }), FailedPreconditionError, `arena "${arenaId}" is DETACHED: its leases cannot be punched without its file (ReattachArena first)`);
    const stranger = own(FakePoolClient.createStandInGuestMemfd(4n * UNIT));
    await rejects(f.reattachArena(arenaId, { gmemFd: stranger }), InvalidArgumentError, `arena "${arenaId}" (memfd) has no guest_memfd: gmem_fd_token must be empty`);
    await rejects(f.reattachArena(arenaId, {}), InvalidArgumentError, `arena "${arenaId}" (memfd) needs memfd_fd_token`);
    const impostor = (await f.createMemfdArena({ sizeBytes: 4n * UNIT })).memfd;
    own(impostor);
    await rejects(f.reattachArena(arenaId, { memfd: impostor }), FailedPreconditionError, /^the memfd is "\/memfd:gmempool:arena-[0-9a-f]+ \(deleted\)", not the arena's/);
    assert.equal((await f.reattachArena(arenaId, { memfd })).state, "active");
    await rejects(f.reattachArena(arenaId, { memfd }), FailedPreconditionError, `arena "${arenaId}" is ACTIVE, not DETACHED`);
    assert.equal((await f.release(lease.leaseId)).releasedUnitCount, 2);
    f.assertConservation();
  });

  test("reattach checks each file is the arena's: kind, size, and the same device and inode", async () => {
    const f = fake();
    const gmem = own(FakePoolClient.createStandInGuestMemfd(2n * UNIT));
    const single = await f.registerGuestMemfdArena(gmem, { sizeBytes: 2n * UNIT, initialVisibility: "private" });
    const pairGmem = own(FakePoolClient.createStandInGuestMemfd(2n * UNIT));
    const pair = await f.createArenaPair(pairGmem, { sizeBytes: 2n * UNIT, initialVisibility: "shared" });
    own(pair.memfd);
    f.simulateDaemonRestart();
    const twin = own(FakePoolClient.createStandInGuestMemfd(2n * UNIT));
    await rejects(f.reattachArena(single.arenaId, { gmemFd: twin }), FailedPreconditionError, new RegExp(`^the fd is not arena "${single.arenaId}"'s file \\(journaled device \\d+ inode \\d+, received device \\d+ inode \\d+\\)$`), "ReattachArena");
    await rejects(f.reattachArena(single.arenaId, { gmemFd: pair.memfd }), FailedPreconditionError, `the fd is a shmem memfd of ${2n * UNIT} bytes, not a guest_memfd`);
    await rejects(f.reattachArena(pair.arena.arenaId, { gmemFd: pairGmem }), InvalidArgumentError, `arena "${pair.arena.arenaId}" (pair) needs memfd_fd_token`);
    await rejects(f.reattachArena(pair.arena.arenaId, { gmemFd: pairGmem, memfd: 987654 }), InvalidArgumentError, "fd 987654 is not an open file descriptor (EBADF)", "fd channel SEND_FD");
    assert.equal((await f.reattachArena(single.arenaId, { gmemFd: gmem })).state, "active");
    assert.equal((await f.reattachArena(pair.arena.arenaId, { gmemFd: pairGmem, memfd: pair.memfd })).state, "active");
    f.assertConservation();
  });

  test("a restart with the fd store keeps arenas ACTIVE; ForceRelease refuses a lease whose arena is DETACHED", async () => {
    const f = fake();
    const admin = f.as({ pid: 1, admin: true });
    const arenaId = await memfdArena(f, 4);
    const lease = await f.allocate(arenaId, { unitCount: 1 });
    f.simulateDaemonRestart({ keepFiles: true });
    assert.equal((await f.getArena(arenaId)).state, "active");
    f.simulateDaemonRestart();
    await rejects(admin.forceRelease({ leaseId: lease.leaseId }), FailedPreconditionError, `arena "${arenaId}" of lease "${lease.leaseId}" is DETACHED: its file must be reattached before the lease can be punched`);
    await rejects(admin.forceRelease({ arenaId }), FailedPreconditionError, `arena "${arenaId}" is DETACHED: its file must be reattached before its leases can be punched`);
    assert.deepEqual(f.snapshot().events.map((e) => [e.kind, e.sequence]), [["pool-status", 1n]]);
  });

  test("owner-exited reaches the owner's watchers and the admin's, not other VMMs'", async () => {
    const f = fake();
    const dying = f.as({ pid: 600 });
    const bystander = f.as({ pid: 700 }).watch();
    const admin = f.as({ pid: 1, admin: true }).watch({ allOwners: true, kinds: ["owner-exited"] });
    await memfdArena(dying, 1);
    f.simulateOwnerExit({ pid: 600 });
    f.publishPoolStatus();
    assert.deepEqual((await take(admin, 3)).map((e) => e.kind), ["pool-status", "owner-exited", "pool-status"]);
    const seen = await take(bystander, 2);
    assert.deepEqual(seen.map((e) => e.kind), ["pool-status", "pool-status"]);
    const last = seen[1]!;
    assert.ok(last.kind === "pool-status");
    assert.equal(last.status.lastEventSequence, last.sequence);
    admin.cancel();
    bystander.cancel();
  });

  test("a stalled watch yields nothing until cancelled; a draining daemon refuses new watches", async () => {
    const f = fake();
    f.stallNext("watch");
    const stalled = f.watch();
    const pending = stalled.next();
    await memfdArena(f, 1);
    stalled.cancel();
    assert.deepEqual(await pending, { done: true, value: undefined });
    f.setServingState("draining");
    await rejects(f.watch().next(), UnavailableError, "the daemon is draining; reconnect with backoff", "Watch");
  });

  test("a VMM's SetPolicy is refused as not admin before its fields are looked at", async () => {
    const f = fake();
    await rejects(f.setPolicy({ deferredOverflowPolicy: "defer", punchGranularityBytes: 3n }), PermissionDeniedError, /is not the configured admin identity/);
    await rejects(f.as({ admin: true }).setPolicy({ deferredOverflowPolicy: "defer" }), InvalidArgumentError, /DISCARD_POLICY_DEFER is not allowed/);
  });

  test("closing the root client closes its views and the fake's kept memfds", async () => {
    const f = new FakePoolClient();
    const view = f.as({ pid: 12 });
    const before = openFdCount();
    const { memfd } = await view.createMemfdArena({ sizeBytes: UNIT });
    closeSync(memfd);
    assert.equal(openFdCount(), before + 1);
    f.close();
    assert.equal(openFdCount(), before);
    await rejects(view.getPoolStatus(), CancelledError, "the client is closed");
  });
});
