/**
 * A VMM-like child process for pool-client.test.ts: connects to the daemon whose runtime
 * directory is argv[2], creates a memfd arena, allocates `unitCount` (argv[3], default 2)
 * units, prints one JSON line `{ "pid", "arenaId", "leaseId" }` and then waits to be killed
 * (the test SIGKILLs it to check that the daemon takes the units back from a dead owner).
 *
 * Run with `node --import tsx allocating-child.ts DIR [UNITS]`.
 */
import { PoolClient } from "../pool-client.ts";
import { unitsToBytes } from "../units.ts";

const [dir, units] = process.argv.slice(2);
if (dir === undefined) throw new Error("usage: allocating-child.ts RUNTIME_DIR [UNITS]");
const unitCount = Number(units ?? "2");
const client = await PoolClient.connect({ runtimeDir: dir, deadlineMs: 10_000 });
const { arena } = await client.createMemfdArena({ sizeBytes: unitsToBytes(unitCount), name: "child" });
const lease = await client.allocate(arena.arenaId, { unitCount, label: "child" });
process.stdout.write(`${JSON.stringify({ pid: process.pid, arenaId: arena.arenaId, leaseId: lease.leaseId })}\n`);
// Stay alive until killed; the parent never lets this run out.
setInterval(() => undefined, 60_000);
