/** Helpers shared by the end-to-end test files. */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { TestClient } from "./test-client.ts";

const CLIENT = fileURLToPath(new URL("./e2e-client.ts", import.meta.url));

export interface ClientProcess {
  readonly child: ChildProcess;
  readonly result: { readonly pid: number; readonly arenaId: string; readonly leaseId: string };
  readonly exited: Promise<number | null>;
}

/** Starts e2e-client.ts as its own process and waits for its JSON line. */
export async function startClientProcess(dir: string, kind: "memfd" | "hugetlb" | "gmem", units: number, hold: boolean): Promise<ClientProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", CLIENT, dir, kind, String(units), ...(hold ? ["hold"] : [])], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = once(child, "exit").then(([code]) => code as number | null);
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
  const lines = createInterface({ input: child.stdout });
  const first = await Promise.race([once(lines, "line").then(([l]) => l as string), exited.then((code) => { throw new Error(`client exited ${code}: ${stderr}`); })]);
  return { child, result: JSON.parse(first) as ClientProcess["result"], exited };
}

/** free + claimed + leased = capacity, nothing claimed, and leased = the leases' units (invariant 1). */
export async function assertConservation(admin: TestClient): Promise<{ free: number; leased: number; capacity: number }> {
  const s = (await admin.call("GetPoolStatus", {})).status!;
  assert.equal(s.freeUnitCount + s.claimedUnitCount + s.leasedUnitCount, s.capacityUnitCount, "free + claimed + leased = capacity");
  assert.equal(s.claimedUnitCount, 0, "no unit left claimed");
  const leases = (await admin.call("ListLeases", { allOwners: true })).leases;
  const arenas = (await admin.call("ListArenas", { allOwners: true })).arenas;
  const leasedInArenas = arenas.reduce((n, a) => n + a.leasedUnitCount - a.discardedUnitCount, 0);
  assert.equal(leases.reduce((n, l) => n + l.unitCount - l.discardedUnitCount, 0), s.leasedUnitCount, "leased = the leases' live units");
  assert.equal(leasedInArenas, s.leasedUnitCount, "leased = the arenas' live units");
  return { free: s.freeUnitCount, leased: s.leasedUnitCount, capacity: s.capacityUnitCount };
}

/** Polls `check` every 10 ms until it returns true; resolves with the time it took. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
