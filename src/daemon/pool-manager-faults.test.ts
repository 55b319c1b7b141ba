/**
 * Failure injection at every kernel step (DESIGN.md §5, issue 4 "a kernel failure mid-way
 * leaves exact state"). Each scenario runs once to count its kernel calls, then once per call
 * with the fake kernel's `failNext` armed right before that call. After every run: the error is
 * classified and names the unit range and errno, the pool's invariants hold, and the kernel's
 * populated bytes per file equal the pool's record (FakeDaemon.assertConservation).
 *
 * The matrix runs with FakeDaemon's inline reserve punches and with the production default
 * (DEFAULT_CONFIG: reserve punches in the background, and the gmem reserve, which `auto` picks
 * as root with /dev/kvm). In the background a failed reserve punch does not fail the call: it
 * is retried, and conservation is checked once the punches settled.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { inspect } from "node:util";
import { MAINLINE_PRIVATE_MEMORY } from "../kvm/fake/fake-capabilities.ts";
import type { FakeKernel, FakeOp } from "../kvm/fake/fake-kernel.ts";
import { FALLOCATE_PUNCH, type Fd, type KernelErrno, KVM_X86_SW_PROTECTED_VM } from "@gmempool/sys";
import type { KernelPort } from "../kvm/kernel-port.ts";
import { DEFAULT_CONFIG } from "./config.ts";
import { FakeDaemon, type FakeVmm } from "./testing/fake-daemon.ts";
import { type ArenaInfo, type ReserveMode } from "./pool-service.ts";
import { isGmempoolError } from "../pool/errors.ts";

const UNIT = 2n * 1024n * 1024n;

/** Counts calls of `ops` while armed, and arms the fake's failNext right before call `failAt`. */
interface Injector {
  armed: boolean;
  count: number;
  failAt: number;
  errno: KernelErrno;
  /** The arguments of the call failNext was armed for. */
  failed?: readonly unknown[];
}

function injecting(ops: readonly FakeOp[], injector: Injector): (kernel: FakeKernel) => KernelPort {
  return (kernel) =>
    new Proxy(kernel, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        const method = (value as (...args: unknown[]) => unknown).bind(target);
        if (!ops.includes(prop as FakeOp)) return method;
        return (...args: unknown[]) => {
          if (injector.armed && injector.count++ === injector.failAt) {
            target.failNext(prop as FakeOp, injector.errno);
            injector.failed = args;
          }
          return method(...args);
        };
      },
    });
}

interface Scenario {
  readonly name: string;
  readonly reserveMode?: ReserveMode;
  readonly capabilities?: typeof MAINLINE_PRIVATE_MEMORY;
  readonly ops: readonly FakeOp[];
  readonly errno: KernelErrno;
  /** Builds the state before the operation under test. */
  readonly setup: (d: FakeDaemon, vmm: FakeVmm) => Promise<Record<string, string>>;
  /** The operation under test. */
  readonly run: (d: FakeDaemon, vmm: FakeVmm, ids: Record<string, string>) => Promise<unknown>;
  /** Checks after a failed run (besides conservation). */
  readonly afterFailure?: (d: FakeDaemon, vmm: FakeVmm, ids: Record<string, string>, error: unknown) => void;
  readonly errorPattern: RegExp;
  readonly kinds: readonly string[];
}

async function gmemArena(d: FakeDaemon, vmm: FakeVmm, units: number): Promise<ArenaInfo> {
  const gmem = vmm.createGuestMemfd(units);
  const { arena } = await vmm.withSentFd(gmem, (fd) => d.manager.registerGuestMemfdArena(vmm.caller(), { requestId: "", gmemFd: fd, sizeBytes: BigInt(units) * UNIT, initialVisibility: "shared", name: "" }));
  return arena;
}

const scenarios: Scenario[] = [
  {
    name: "Allocate of 10 units (3 steps) in a guest_memfd arena, gmem reserve",
    ops: ["fallocate"],
    errno: "ENOMEM",
    setup: async (d, vmm) => ({ arena: (await gmemArena(d, vmm, 16)).arenaId }),
    run: (d, vmm, ids) => d.manager.allocate(vmm.caller(), { requestId: "", arenaId: ids["arena"]!, unitCount: 10, label: "" }),
    afterFailure: (d) => {
      assert.equal([...d.manager.pool.leases()].length, 0, "a failed Allocate leaves no lease");
      assert.equal(d.manager.pool.reserve.freeUnits, 16, "every unit is back in the reserve");
    },
    errorPattern: /units \[\d+, \d+\) failed: fallocate\S* ENOMEM/,
    kinds: ["exhausted", "internal"],
  },
  {
    name: "Allocate of 6 units in a hugetlb memfd arena, hugetlb reserve (reserve-first order)",
    reserveMode: "hugetlb",
    ops: ["fallocate"],
    errno: "ENOSPC",
    setup: async (d, vmm) => {
      const received: Fd[] = [];
      const { arena } = await d.manager.createMemfdArena(vmm.caller(), { requestId: "", sizeBytes: 8n * UNIT, backing: "hugetlb", name: "", deliver: (fd) => {
        received.push(vmm.kernel.adoptFile(d.kernel.fileForFd(fd, "sendmsg").get()));
        return Promise.resolve();
      } });
      return { arena: arena.arenaId };
    },
    run: (d, vmm, ids) => d.manager.allocate(vmm.caller(), { requestId: "", arenaId: ids["arena"]!, unitCount: 6, label: "" }),
    afterFailure: (d) => assert.equal([...d.manager.pool.leases()].length, 0),
    errorPattern: /units \[\d+, \d+\) failed: fallocate\S* ENOSPC/,
    kinds: ["exhausted", "internal"],
  },
  {
    name: "Release of a 10-unit lease",
    ops: ["fallocate"],
    errno: "EIO",
    setup: async (d, vmm) => {
      const arena = await gmemArena(d, vmm, 16);
      const { lease } = await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 10, label: "" });
      return { arena: arena.arenaId, lease: lease.leaseId };
    },
    run: (d, vmm, ids) => d.manager.release(vmm.caller(), { requestId: "", leaseId: ids["lease"]! }),
    errorPattern: /lease ".*": .*units \[\d+, \d+\) failed: fallocate\S* EIO.*retry Release/,
    kinds: ["internal"],
  },
  {
    name: "Discard across two leases (defer: whole units punched, edges deferred)",
    ops: ["fallocate"],
    errno: "EIO",
    setup: async (d, vmm) => {
      const arena = await gmemArena(d, vmm, 16);
      await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 5, label: "" });
      await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 5, label: "" });
      return { arena: arena.arenaId };
    },
    run: (d, vmm, ids) => d.manager.discard(vmm.caller(), { requestId: "", arenaId: ids["arena"]!, offsetBytes: UNIT + 4096n, lengthBytes: 8n * UNIT }),
    errorPattern: /failed: fallocate\S* EIO/,
    kinds: ["internal"],
  },
  {
    name: "Populate of discarded units",
    ops: ["fallocate"],
    errno: "ENOMEM",
    setup: async (d, vmm) => {
      const arena = await gmemArena(d, vmm, 16);
      await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 12, label: "" });
      await d.manager.discard(vmm.caller(), { requestId: "", arenaId: arena.arenaId, offsetBytes: 2n * UNIT, lengthBytes: 9n * UNIT });
      return { arena: arena.arenaId };
    },
    run: (d, vmm, ids) => d.manager.populate(vmm.caller(), { requestId: "", arenaId: ids["arena"]!, offsetBytes: 0n, lengthBytes: 12n * UNIT }),
    errorPattern: /units \[\d+, \d+\) failed: fallocate\S* ENOMEM/,
    kinds: ["exhausted", "internal"],
  },
  {
    name: "Discard under policy zero (writes through a mapping of the memfd)",
    reserveMode: "none",
    ops: ["mmap", "writeMapped"],
    errno: "EFAULT",
    setup: async (d, vmm) => {
      await d.manager.setPolicy(d.manager.identify({ uid: 0, gid: 0, pid: vmm.pid }), { requestId: "", arenaId: "", discardPolicy: "zero", clearArenaOverride: false });
      const { arena } = await d.manager.createMemfdArena(vmm.caller(), { requestId: "", sizeBytes: 4n * UNIT, backing: "shmem", name: "", deliver: () => Promise.resolve() });
      await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 4, label: "" });
      return { arena: arena.arenaId };
    },
    run: (d, vmm, ids) => d.manager.discard(vmm.caller(), { requestId: "", arenaId: ids["arena"]!, offsetBytes: 4096n, lengthBytes: 3n * UNIT }),
    errorPattern: /zero arena ".*" side 0 bytes \[0x[0-9a-f]+, 0x[0-9a-f]+\) failed: .*EFAULT/,
    kinds: ["failed-precondition"],
  },
  {
    name: "Convert (notify) on an arena pair: populate the shared side, punch the stale private side",
    capabilities: MAINLINE_PRIVATE_MEMORY,
    ops: ["fallocate"],
    errno: "ENOMEM",
    setup: async (d, vmm) => {
      const gmem = vmm.createGuestMemfd(8, 0n, KVM_X86_SW_PROTECTED_VM);
      const { arena } = await vmm.withSentFd(gmem, (fd) => d.manager.createArenaPair(vmm.caller(), { requestId: "", gmemFd: fd, sizeBytes: 8n * UNIT, sharedBacking: "shmem", initialVisibility: "private", name: "", deliver: () => Promise.resolve() }));
      await d.manager.allocate(vmm.caller(), { requestId: "", arenaId: arena.arenaId, unitCount: 6, label: "" });
      return { arena: arena.arenaId };
    },
    run: (d, vmm, ids) => d.manager.convert(vmm.caller(), { requestId: "", arenaId: ids["arena"]!, offsetBytes: 0n, lengthBytes: 5n * UNIT, toVisibility: "shared", mode: "notify", contentIntent: undefined }),
    errorPattern: /failed: fallocate\S* ENOMEM/,
    kinds: ["exhausted", "internal"],
  },
  {
    name: "RegisterGuestMemfdArena (dup, punch)",
    ops: ["dupCloexec", "fallocate"],
    errno: "EMFILE",
    setup: () => Promise.resolve({}),
    run: async (d, vmm) => gmemArena(d, vmm, 4),
    afterFailure: (d) => assert.equal([...d.manager.pool.arenas()].length, 0),
    errorPattern: /EMFILE/,
    kinds: ["internal"],
  },
  {
    name: "CreateMemfdArena (memfd_create, ftruncate, punch)",
    reserveMode: "none",
    ops: ["memfdCreate", "ftruncate", "fallocate"],
    errno: "ENOMEM",
    setup: () => Promise.resolve({}),
    run: (d, vmm) => d.manager.createMemfdArena(vmm.caller(), { requestId: "", sizeBytes: 4n * UNIT, backing: "shmem", name: "", deliver: () => Promise.resolve() }),
    afterFailure: (d) => assert.equal([...d.manager.pool.arenas()].length, 0),
    errorPattern: /ENOMEM/,
    kinds: ["exhausted"],
  },
];

/** Where the reserve's copy of a handed-out unit is punched: FakeDaemon's test default, and production's. */
const PUNCH_MODES = [
  { name: "inline reserve punches", reservePunch: "inline" },
  { name: `the production default (reserve_punch "${DEFAULT_CONFIG.pool.reservePunch}")`, reservePunch: DEFAULT_CONFIG.pool.reservePunch },
] as const;

describe("failure injection at every kernel step keeps conservation exact", () => {
  for (const scenario of scenarios) {
    for (const mode of PUNCH_MODES) {
      test(`${scenario.name}; ${mode.name}`, async () => {
        await runMatrix(scenario, mode.reservePunch);
      });
    }
  }
});

async function runMatrix(scenario: Scenario, reservePunch: "inline" | "background"): Promise<void> {
  // Dry run: count the calls the operation makes.
  const dry: Injector = { armed: false, count: 0, failAt: -1, errno: scenario.errno };
  const options = {
    capacityUnits: 16,
    reserveMode: scenario.reserveMode ?? "gmem",
    configure: (c: typeof DEFAULT_CONFIG) => ({ ...c, pool: { ...c.pool, reservePunch } }),
    ...(scenario.capabilities === undefined ? {} : { capabilities: scenario.capabilities }),
  } as const;
  {
    const d = await FakeDaemon.start({ ...options, wrapKernel: injecting(scenario.ops, dry) });
    const vmm = d.vmm();
    const ids = await scenario.setup(d, vmm);
    await d.settle();
    dry.armed = true;
    await scenario.run(d, vmm, ids);
    await d.settle();
    dry.armed = false;
    d.assertConservation();
    await d.close();
  }
  assert.ok(dry.count > 0, "the operation makes kernel calls");
  if (process.env["GMEMPOOL_TEST_VERBOSE"] === "1") console.log(`${scenario.name} (${reservePunch}): ${dry.count} calls`);
  let backgroundFailures = 0;
  for (let failAt = 0; failAt < dry.count; failAt++) {
    const injector: Injector = { armed: false, count: 0, failAt, errno: scenario.errno };
    const d = await FakeDaemon.start({ ...options, wrapKernel: injecting(scenario.ops, injector) });
    const vmm = d.vmm();
    const ids = await scenario.setup(d, vmm);
    await d.settle();
    const fdsBefore = d.kernel.openFds().length;
    injector.armed = true;
    const error = await scenario.run(d, vmm, ids).then(() => undefined, (e: unknown) => e);
    await d.settle();
    injector.armed = false;
    assert.ok(injector.failed !== undefined, `call ${failAt} of ${dry.count} was made (the runs make the same calls)`);
    d.assertConservation();
    assert.equal(d.manager.reserveHeldTwiceUnits, 0, "every background punch converged");
    assert.equal(d.manager.driftCount, 0, "every partial step was undone");
    if (error === undefined) {
      // Only a background reserve punch may fail without failing the call.
      const [fd, fallocateMode] = injector.failed;
      assert.ok(reservePunch === "background" && fd === d.manager.reserveFd && fallocateMode === FALLOCATE_PUNCH, `call ${failAt} of ${dry.count} failed and the operation succeeded`);
      backgroundFailures++;
    } else {
      assert.ok(isGmempoolError(error), `call ${failAt} of ${dry.count}: expected a GmempoolError, got ${inspect(error)}`);
      assert.ok(scenario.kinds.includes(error.kind), `call ${failAt}: kind ${error.kind}: ${error.message}`);
      assert.match(error.message, scenario.errorPattern, `call ${failAt}`);
      scenario.afterFailure?.(d, vmm, ids, error);
      if (scenario.name.startsWith("Register") || scenario.name.startsWith("CreateMemfd")) assert.equal(d.kernel.openFds().length, fdsBefore, "no fd leaked");
    }
    // The pool stays usable: everything can be released, and the units all come back.
    for (const arena of [...d.manager.pool.arenas()]) {
      await d.manager.deleteArena(vmm.caller(), { requestId: "", arenaId: arena.id, releaseLeases: true });
      await d.settle();
      d.assertConservation();
    }
    assert.equal(d.manager.pool.reserve.freeUnits, 16);
    await d.close();
  }
  if (process.env["GMEMPOOL_TEST_VERBOSE"] === "1") console.log(`${scenario.name} (${reservePunch}): ${backgroundFailures} failed background punches retried`);
}
