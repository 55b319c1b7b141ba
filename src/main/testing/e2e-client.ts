/**
 * A VMM-like client process for end-to-end tests: `node --import tsx e2e-client.ts RUNTIME_DIR
 * KIND UNITS [hold]`. It connects to the daemon's two sockets as a separate process (its own
 * pid, SO_PEERCRED, real SCM_RIGHTS), creates an arena of KIND (memfd | hugetlb | gmem) of UNITS
 * units, allocates all of it, and prints one JSON line {pid, arenaId, leaseId}. With `hold` it
 * then keeps its fds and waits to be killed (the test kills it to see its units come back);
 * otherwise it releases, deletes the arena and exits 0.
 */
import { LinuxKernel } from "../../kvm/linux-kernel.ts";
import { daemonSockets } from "@gmempool/contract";
import { createArena } from "./e2e-arena.ts";
import { FdChannelClient, TestClient } from "./test-client.ts";

async function main(argv: readonly string[]): Promise<void> {
  const [dir, kind, units, hold] = argv;
  if (dir === undefined || (kind !== "memfd" && kind !== "hugetlb" && kind !== "gmem") || units === undefined) throw new Error("usage: e2e-client.ts RUNTIME_DIR memfd|hugetlb|gmem UNITS [hold]");
  const paths = daemonSockets(dir);
  const kernel = new LinuxKernel();
  const client = new TestClient({ apiSocket: paths.apiSocket });
  const channel = await FdChannelClient.connect(kernel, paths.fdSocket);
  const { arenaId, fds } = await createArena(kernel, client, channel, kind, Number(units), `e2e-${process.pid}`);
  const lease = (await client.call("Allocate", { arenaId, unitCount: Number(units) })).lease!;
  process.stdout.write(`${JSON.stringify({ pid: process.pid, arenaId, leaseId: lease.leaseId })}\n`);
  if (hold === "hold") {
    setInterval(() => undefined, 1 << 30); // keep the process (and its fds) alive until killed
    return;
  }
  await client.call("Release", { leaseId: lease.leaseId });
  await client.call("DeleteArena", { arenaId });
  for (const fd of fds) kernel.close(fd);
  channel.close();
  client.close();
  kernel.release();
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
