// The CLI in-process on a hand-built Pool (testing/stub-pool.ts) and a memory CliIo: argument
// handling, exit codes, output modes. The same commands against the real daemon are in
// gmempool-cli.e2e.test.ts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FailedPreconditionError, NotFoundError, PermissionDeniedError, UnavailableError } from "../node/src/pool-errors.ts";
import type { Pool, WatchRequest, WatchStream } from "../node/src/pool.ts";
import type { Capabilities, PolicyView, PoolEvent } from "../node/src/resources.ts";
import type { ConnectRequest } from "./connect.ts";
import { EXIT_OK, EXIT_REFUSED, EXIT_UNAVAILABLE, EXIT_USAGE } from "./exit-codes.ts";
import { runCli } from "./gmempool-cli.ts";
import { memoryIo, type MemoryIo } from "./testing/memory-io.ts";
import { busyPool, EVERY_STATE_LINE, sampleMap, SAMPLE_STATUS } from "./testing/sample-maps.ts";
import { stubPool, type StubPool } from "./testing/stub-pool.ts";

const CAPABILITIES: Capabilities = {
  daemonVersion: "0.1.0",
  unitBytes: 2n << 20n,
  pageBytes: 4096n,
  reserveMode: "none",
  arenaKinds: ["memfd"],
  memfdBackings: ["shmem"],
  conversionModes: ["notify"],
  kernelFeatures: [{ name: "KVM_CAP_GUEST_MEMFD", available: false, detail: "/dev/kvm is not usable" }],
  fdSocketPath: "/x/fd.sock",
  fdChannelVersion: 1,
  fdTokenTtlMs: 10000,
  maxPendingFdTokens: 64,
  requestIdRetentionMs: 600000,
  caller: { uid: 1000, gid: 1000, pid: 4242, startTimeTicks: 1n },
  callerIsAdmin: true,
  maxRequestMessageBytes: 4 << 20,
};

const POLICY: PolicyView = {
  poolPolicy: { discardPolicy: "defer", punchGranularityBytes: 2n << 20n, deferredCapBytes: 1n << 30n, deferredOverflowPolicy: "reject" },
  arenaOverrides: [],
};

interface Run {
  readonly code: number;
  readonly io: MemoryIo;
  readonly connects: ConnectRequest[];
  readonly stub: StubPool;
}

async function cli(args: string[], methods: Partial<Pool> = {}, options: { readonly io?: MemoryIo; readonly connectError?: Error } = {}): Promise<Run> {
  const io = options.io ?? memoryIo();
  const stub = stubPool(methods);
  const connects: ConnectRequest[] = [];
  const code = await runCli(args, io, (request) => {
    connects.push(request);
    return options.connectError === undefined ? Promise.resolve(stub.pool) : Promise.reject(options.connectError);
  });
  return { code, io, connects, stub };
}

const OPERATOR_COMMANDS = ["status", "arenas", "leases", "frag", "policy", "watch", "release"];

describe("gmempool --help", () => {
  test("lists serve and every operator command, with the exit codes, and exits 0", async () => {
    const { code, io } = await cli(["--help"]);
    assert.equal(code, EXIT_OK);
    const help = io.stdout.text();
    for (const name of ["serve", ...OPERATOR_COMMANDS]) assert.match(help, new RegExp(`^  ${name} `, "m"), name);
    assert.match(help, /Exit codes: 0 ok; 1 .*refused/);
  });

  for (const command of [...OPERATOR_COMMANDS.filter((c) => c !== "policy"), "policy get", "policy set"]) {
    test(`${command} --help has the common options and examples`, async () => {
      const { code, io } = await cli([...command.split(" "), "--help"]);
      assert.equal(code, EXIT_OK);
      const help = io.stdout.text();
      for (const option of ["--json", "--runtime-dir <dir>", "--timeout <ms>"]) assert.ok(help.includes(option), `${command}: ${option}`);
      assert.match(help, /Examples:\n {2}gmempool /);
    });
  }

  test("serve reached in the CLI (not through the executable's dispatch) says where the daemon is started", async () => {
    const { code, io, connects } = await cli(["serve", "--config", "x.toml"]);
    assert.equal(code, EXIT_USAGE);
    assert.match(io.stderr.text(), /`serve` runs the daemon; start it through the gmempool executable/);
    assert.deepEqual(connects, []);
  });

  test("no command at all is a usage error that shows the help", async () => {
    const { code, io } = await cli([]);
    assert.equal(code, EXIT_USAGE);
    assert.match(io.stderr.text(), /Usage: gmempool/);
  });
});

describe("usage errors exit 2 before any request", () => {
  const cases: [string, string[], RegExp][] = [
    ["an unknown flag", ["status", "--bogus"], /unknown option '--bogus'/],
    ["an unknown command", ["stats"], /unknown command 'stats'/],
    ["a timeout that is not a number", ["status", "--timeout", "soon"], /--timeout <ms>.*soon/],
    ["a zero timeout", ["arenas", "--timeout", "0"], /at least 1/],
    ["release without a target", ["release"], /exactly one of --lease ID, --arena ID or --pid PID/],
    ["release with two targets", ["release", "--lease", "l-1", "--arena", "a-1"], /exactly one of/],
    ["release of pid abc", ["release", "--pid", "abc"], /process id/],
    ["policy set with nothing to set", ["policy", "set"], /nothing to set/],
    ["policy set of a pool-wide field on an arena", ["policy", "set", "--arena", "a-1", "--deferred-cap", "1GiB"], /pool-wide/],
    ["policy set --clear without an arena", ["policy", "set", "--clear"], /--clear drops an arena's override/],
    ["policy set with a size that is not one", ["policy", "set", "--granularity", "2 megs"], /is not a size/],
    ["policy set with an unknown discard policy", ["policy", "set", "--discard", "punch"], /Allowed choices are reject, zero, defer/],
    ["policy set --overflow defer (not allowed for overflow)", ["policy", "set", "--overflow", "defer"], /Allowed choices are reject, zero/],
    ["watch of an unknown event kind", ["watch", "--kind", "lease-allocated", "lease-moved"], /lease-moved/],
    ["policy without get or set", ["policy"], /Usage: gmempool policy/],
  ];
  for (const [what, args, message] of cases) {
    test(what, async () => {
      const { code, io, connects } = await cli(args);
      assert.equal(code, EXIT_USAGE, io.stderr.text());
      assert.match(io.stderr.text(), message);
      assert.deepEqual(connects, [], "no connection is made");
    });
  }
});

describe("where the CLI looks for the daemon", () => {
  test("--runtime-dir wins over GMEMPOOL_RUNTIME_DIR, and --timeout is every request's deadline", async () => {
    const io = memoryIo({ env: { GMEMPOOL_RUNTIME_DIR: "/from/env" } });
    const { connects } = await cli(["policy", "get", "--runtime-dir", "/from/flag", "--timeout", "1234"], { getPolicy: () => Promise.resolve(POLICY) }, { io });
    assert.deepEqual(connects, [{ runtimeDir: "/from/flag", deadlineMs: 1234 }]);
  });

  test("GMEMPOOL_RUNTIME_DIR without the flag (relative to the working directory); the default timeout is 5 s", async () => {
    const io = memoryIo({ env: { GMEMPOOL_RUNTIME_DIR: "rel/dir" } });
    const { connects } = await cli(["policy", "get"], { getPolicy: () => Promise.resolve(POLICY) }, { io });
    assert.deepEqual(connects, [{ runtimeDir: "/nonexistent-cwd/rel/dir", deadlineMs: 5000 }]);
  });
});

describe("failures", () => {
  test("no daemon: exit 3, naming the socket it looked for, where that came from, and how to start one", async () => {
    const unreachable = new UnavailableError("no gmempool daemon answers at /srv/gm/api.sock (connect: ENOENT)", { operation: "GetCapabilities", unreachable: true });
    const { code, io } = await cli(["status", "--runtime-dir", "/srv/gm"], {}, { connectError: unreachable });
    assert.equal(code, EXIT_UNAVAILABLE);
    const text = io.stderr.text();
    assert.match(text, /\/srv\/gm\/api\.sock/);
    assert.match(text, /from --runtime-dir/);
    assert.match(text, /npm start/);
    assert.match(text, /gmempool serve/);
    assert.equal(io.stdout.text(), "");
  });

  test("a daemon that is draining: exit 3, and it says so", async () => {
    const { code, io } = await cli(["arenas"], { listArenas: () => Promise.reject(new UnavailableError("the daemon is draining")) });
    assert.equal(code, EXIT_UNAVAILABLE);
    assert.match(io.stderr.text(), /\(starting or draining\): the daemon is draining/);
  });

  test("a refused request: exit 1 with the error kind and the daemon's message; the client is closed", async () => {
    const { code, io, stub } = await cli(["release", "--lease", "l-9"], {
      forceRelease: () => Promise.reject(new NotFoundError('lease "l-9" does not exist', { operation: "Admin.ForceRelease" })),
    });
    assert.equal(code, EXIT_REFUSED);
    assert.equal(io.stderr.text(), 'gmempool: the daemon refused Admin.ForceRelease: not-found: lease "l-9" does not exist\n');
    assert.deepEqual(stub.calls[0]?.args[0], { leaseId: "l-9" });
    assert.ok(stub.closed());
  });

  test("permission denied explains the admin identity", async () => {
    const { code, io } = await cli(["arenas", "--all"], { listArenas: () => Promise.reject(new PermissionDeniedError("all_owners needs the admin identity")) });
    assert.equal(code, EXIT_REFUSED);
    assert.match(io.stderr.text(), /permission-denied: all_owners needs the admin identity\nThis needs the admin identity/);
  });
});

describe("commands on a stub pool", () => {
  test("status: human text with the capacity by state and the policy", async () => {
    const { code, io } = await cli(["status"], {
      getCapabilities: () => Promise.resolve(CAPABILITIES),
      getPoolStatus: () => Promise.resolve(SAMPLE_STATUS),
      getPolicy: () => Promise.resolve(POLICY),
      getQuotaUsage: () => Promise.resolve([{ subject: "uid", id: 1000, unitLimit: 64, leasedUnitCount: 28, arenaLimit: undefined, arenaCount: 2 }]),
    });
    assert.equal(code, EXIT_OK);
    const text = io.stdout.text();
    assert.match(text, /^ {2}uid 1000 +28 of 64 units \(128 MiB\) +2 arenas \(no limit\)$/m);
    assert.match(text, /^ {2}capacity +128 units \(256 MiB\)$/m);
    assert.match(text, /^ {2}free +100 units \(200 MiB\) 78\.1%$/m);
    assert.match(text, /^ {2}leased +28 units \(56 MiB\) 21\.9%$/m);
    assert.match(text, /^ {2}deferred +8 KiB of a 1 GiB cap$/m);
    assert.match(text, /^ {2}largest free run +64 units \(128 MiB\)$/m);
    assert.match(text, /^ {2}discard +defer$/m);
    assert.match(text, /^reserve mode +none$/m);
    assert.match(text, /pid 4242 uid 1000 \(admin\)/);
  });

  test("status --json: capabilities, status, policy and quotas; bigints as decimal strings", async () => {
    const { io } = await cli(["status", "--json"], {
      getCapabilities: () => Promise.resolve(CAPABILITIES),
      getPoolStatus: () => Promise.resolve(SAMPLE_STATUS),
      getPolicy: () => Promise.resolve(POLICY),
      getQuotaUsage: () => Promise.resolve([]),
    });
    const json = JSON.parse(io.stdout.text()) as { status: Record<string, unknown>; capabilities: Record<string, unknown>; policy: { poolPolicy: Record<string, unknown> }; quotas: unknown[] };
    assert.equal(json.status["deferredBytes"], "8192");
    assert.equal(json.status["freeUnitCount"], 100);
    assert.equal(json.status["startTime"], "2025-01-02T00:00:00.000Z");
    assert.equal(json.capabilities["unitBytes"], "2097152");
    assert.equal(json.policy.poolPolicy["deferredCapBytes"], "1073741824");
    assert.deepEqual(json.quotas, []);
  });

  test("arenas without --all asks for the caller's own, and hints at --all when there are none", async () => {
    const { code, io, stub } = await cli(["arenas"], { listArenas: () => Promise.resolve([]) });
    assert.equal(code, EXIT_OK);
    assert.deepEqual(stub.calls[0]?.args[0], { allOwners: false });
    assert.equal(io.stdout.text(), "no arenas\n");
    assert.match(io.stderr.text(), /--all shows every owner's/);
  });

  test("leases --all --arena passes both", async () => {
    const { stub, io } = await cli(["leases", "--all", "--arena", "a-1"], { listLeases: () => Promise.resolve([]) });
    assert.deepEqual(stub.calls[0]?.args[0], { allOwners: true, arenaId: "a-1" });
    assert.equal(io.stderr.text(), "");
  });

  test("policy set sends only the fields given", async () => {
    const { code, stub, io } = await cli(["policy", "set", "--arena", "a-1", "--clear", "--discard", "reject", "--granularity", "4KiB"], {
      setPolicy: () => Promise.resolve({ poolPolicy: POLICY.poolPolicy, arenaOverride: { arenaId: "a-1", discardPolicy: "reject", punchGranularityBytes: 4096n } }),
    });
    assert.equal(code, EXIT_OK);
    assert.deepEqual(stub.calls[0]?.args[0], { arenaId: "a-1", discardPolicy: "reject", punchGranularityBytes: 4096n, clearArenaOverride: true });
    assert.match(io.stdout.text(), /^a-1 +reject +4 KiB$/m);
  });

  test("policy set --deferred-cap and --overflow are pool-wide", async () => {
    const { stub } = await cli(["policy", "set", "--deferred-cap", "512 MiB", "--overflow", "zero"], { setPolicy: () => Promise.resolve({ poolPolicy: POLICY.poolPolicy, arenaOverride: undefined }) });
    assert.deepEqual(stub.calls[0]?.args[0], { deferredCapBytes: 512n << 20n, deferredOverflowPolicy: "zero" });
  });

  test("a setPolicy refusal from the daemon is exit 1", async () => {
    const { code, io } = await cli(["policy", "set", "--granularity", "2MiB"], { setPolicy: () => Promise.reject(new FailedPreconditionError("lease l-1 is not a multiple of 1 GiB")) });
    assert.equal(code, EXIT_REFUSED);
    assert.match(io.stderr.text(), /failed-precondition: lease l-1/);
  });

  test("release --pid and --arena name their targets", async () => {
    const result = { releasedLeaseCount: 2, deletedArenaCount: 1, releasedUnitCount: 12 };
    const byPid = await cli(["release", "--pid", "77"], { forceRelease: () => Promise.resolve(result) });
    assert.deepEqual(byPid.stub.calls[0]?.args[0], { ownerPid: 77 });
    assert.equal(byPid.io.stdout.text(), "released 2 leases and 12 units (24 MiB); 1 arena deleted\n");
    const byArena = await cli(["release", "--arena", "a-3", "--json"], { forceRelease: () => Promise.resolve(result) });
    assert.deepEqual(byArena.stub.calls[0]?.args[0], { arenaId: "a-3" });
    assert.deepEqual(JSON.parse(byArena.io.stdout.text()), result);
  });
});

describe("frag output modes", () => {
  const methods = { getFragmentationMap: () => Promise.resolve(sampleMap()), listArenas: () => Promise.resolve([]), listLeases: () => Promise.resolve([]) };

  test("asks ListArenas / ListLeases for the names and labels, with the same scope", async () => {
    const { map, labels } = busyPool();
    const { io, stub } = await cli(["frag", "--all"], { getFragmentationMap: () => Promise.resolve(map), listArenas: () => Promise.resolve([...labels.arenas.values()]), listLeases: () => Promise.resolve([...labels.leases.values()]) });
    assert.deepEqual(
      stub.calls.map((c) => [c.method, c.args[0]]),
      [["getFragmentationMap", { allOwners: true }], ["listArenas", { allOwners: true }], ["listLeases", { allOwners: true }]],
    );
    assert.match(io.stdout.text(), /^a-0002 "vm-db-2" guest_memfd, pid 4001 uid 1001: /m);
    assert.match(io.stdout.text(), /^ {2}leases: l-2-0 "boot" 0–39, /m);
    const one = await cli(["frag", "--arena", "a-0002"], { getFragmentationMap: () => Promise.resolve(map), getArena: () => Promise.resolve(labels.arenas.get("a-0002")!), listLeases: () => Promise.resolve([]) });
    assert.deepEqual(one.stub.calls.slice(1).map((c) => [c.method, c.args[0]]), [["getArena", "a-0002"], ["listLeases", { arenaId: "a-0002" }]]);
  });

  test("piped (not a terminal): plain characters, no escape sequence", async () => {
    const { io } = await cli(["frag", "--all"], methods);
    assert.ok(io.stdout.text().includes(EVERY_STATE_LINE));
    assert.ok(!io.stdout.text().includes("\x1b"));
  });

  test("on a terminal: coloured cells", async () => {
    const { io } = await cli(["frag", "--all"], methods, { io: memoryIo({ isTTY: true, columns: 100 }) });
    assert.ok(io.stdout.text().includes("\x1b["));
  });

  test("on a terminal with NO_COLOR set: plain", async () => {
    const { io } = await cli(["frag", "--all"], methods, { io: memoryIo({ isTTY: true, columns: 100, env: { NO_COLOR: "1" } }) });
    assert.ok(!io.stdout.text().includes("\x1b"));
    assert.ok(io.stdout.text().includes(EVERY_STATE_LINE));
  });

  test("--json is the map with bigints as strings", async () => {
    const { io } = await cli(["frag", "--json"], methods);
    const json = JSON.parse(io.stdout.text()) as { arenas: { runs: unknown[] }[]; kernelBuddyZones: { freeBlockCounts: unknown[] }[] };
    assert.equal(json.arenas[0]!.runs.length, 6);
    assert.deepEqual(json.kernelBuddyZones[1]!.freeBlockCounts, ["120", "30"]);
  });
});

/** A Watch stream that yields `events`, then waits until cancelled. */
function scriptedStream(events: readonly PoolEvent[]): WatchStream {
  let index = 0;
  let cancelled = false;
  let wake: (() => void) | undefined;
  const stream: WatchStream = {
    next: async () => {
      if (index < events.length && !cancelled) return { done: false, value: events[index++]! };
      if (!cancelled) await new Promise<void>((resolve) => (wake = resolve));
      return { done: true, value: undefined };
    },
    cancel: () => {
      cancelled = true;
      wake?.();
    },
    [Symbol.asyncIterator]: () => stream,
  };
  return stream;
}

describe("watch", () => {
  const events: PoolEvent[] = [
    { kind: "pool-status", sequence: 7n, time: new Date("2025-01-02T03:04:05.000Z"), status: SAMPLE_STATUS },
    { kind: "lease-released", sequence: 9n, time: new Date("2025-01-02T03:04:06.000Z"), leaseId: "l-1", arenaId: "a-1", releasedUnitCount: 4, reason: "force-release" },
  ];

  async function watchUntilInterrupted(args: string[]): Promise<{ code: number; io: MemoryIo; request: WatchRequest | undefined }> {
    const io = memoryIo();
    let request: WatchRequest | undefined;
    const running = cli(args, { watch: (r?: WatchRequest) => ((request = r), scriptedStream(events)) }, { io });
    while (io.stdout.text().split("\n").length <= events.length) await new Promise((resolve) => setTimeout(resolve, 5));
    io.interrupt();
    const { code } = await running;
    return { code, io, request };
  }

  test("prints one line per event until Ctrl-C, then exits 0", async () => {
    const { code, io, request } = await watchUntilInterrupted(["watch", "--all", "--arena", "a-1", "--kind", "lease-allocated", "lease-released"]);
    assert.equal(code, EXIT_OK);
    assert.deepEqual(request, { allOwners: true, arenaId: "a-1", kinds: ["lease-allocated", "lease-released"] });
    assert.deepEqual(io.stdout.text().trimEnd().split("\n"), [
      "2025-01-02T03:04:05.000Z #7 pool-status serving: free 100, claimed 0, leased 28 of 128 units; largest free run 64, split 3, deferred 8 KiB",
      "2025-01-02T03:04:06.000Z #9 lease-released lease l-1 of arena a-1 (force-release): 4 units (8 MiB) released",
    ]);
  });

  test("--json: one JSON object per line", async () => {
    const { io } = await watchUntilInterrupted(["watch", "--json"]);
    const lines = io.stdout.text().trimEnd().split("\n").map((line) => JSON.parse(line) as { kind: string; sequence: string });
    assert.deepEqual(
      lines.map((l) => [l.kind, l.sequence]),
      [
        ["pool-status", "7"],
        ["lease-released", "9"],
      ],
    );
  });

  test("a stream that ends with an error exits with that error's code", async () => {
    const failing: WatchStream = {
      next: () => Promise.reject(new UnavailableError("the daemon is draining")),
      cancel: () => undefined,
      [Symbol.asyncIterator]: () => failing,
    };
    const { code, io } = await cli(["watch"], { watch: () => failing });
    assert.equal(code, EXIT_UNAVAILABLE);
    assert.match(io.stderr.text(), /draining/);
  });
});
