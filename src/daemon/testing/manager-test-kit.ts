/**
 * What the PoolManager tests share: fake daemons stopped after the file's tests, a VMM's
 * guest_memfd arena, a memfd delivery into the VMM, and refusal checks that compare the
 * daemon's whole observable state before and after.
 */
import assert from "node:assert/strict";
import { after } from "node:test";
import type { Fd } from "@gmempool/sys";
import { isGmempoolError } from "../../pool/errors.ts";
import { FakeDaemon, type FakeVmm } from "./fake-daemon.ts";
import type { ArenaInfo, FdDelivery } from "../pool-service.ts";

export const UNIT = 2n * 1024n * 1024n;
const daemons: FakeDaemon[] = [];
after(async () => {
  for (const d of daemons) await d.manager.close().catch(() => undefined);
});

/** Stops `d` after this file's tests (a daemon a test restarts, for one). */
export function stopAfterTests(d: FakeDaemon): FakeDaemon {
  daemons.push(d);
  return d;
}

export async function daemon(options: Parameters<typeof FakeDaemon.start>[0] = {}): Promise<FakeDaemon> {
  const d = await FakeDaemon.start(options);
  daemons.push(d);
  return d;
}

export async function gmemArena(vmm: FakeVmm, units: number, options: { requestId?: string; visibility?: "shared" | "private"; flags?: bigint; vmType?: number } = {}, d: FakeDaemon = vmm.daemon): Promise<{ arena: ArenaInfo; gmem: Fd }> {
  const gmem = vmm.createGuestMemfd(units, options.flags, options.vmType);
  const { arena } = await vmm.withSentFd(gmem, (fd) =>
    d.manager.registerGuestMemfdArena(vmm.caller(d), { requestId: options.requestId ?? "", gmemFd: fd, sizeBytes: BigInt(units) * UNIT, initialVisibility: options.visibility ?? "shared", name: "vm" }),
  d);
  return { arena, gmem };
}

/** A delivery that hands the memfd to the VMM process (as SCM_RIGHTS would). */
export function deliverTo(vmm: FakeVmm, received: Fd[]): FdDelivery {
  return (fd) => {
    received.push(vmm.kernel.adoptFile(vmm.daemon.kernel.fileForFd(fd, "sendmsg").get()));
    return Promise.resolve();
  };
}

/** `call` is refused with `kind` (and a message matching `pattern`) and changes nothing `d` shows. */
export async function refuses(d: FakeDaemon, call: () => Promise<unknown>, kind: string, pattern?: RegExp): Promise<void> {
  const before = d.observableState();
  await rejects(call(), kind, pattern);
  assert.deepEqual(d.observableState(), before, "a refused call changed the daemon's state");
}

/** Fails (instead of hanging the test) when `promise` does not settle within 5 s. */
export async function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not settled within 5 s`)), 5000)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function rejects(promise: Promise<unknown>, kind: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isGmempoolError(error), `expected a GmempoolError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  });
}

/** Waits until `condition` holds; resolves with the milliseconds it took, rejects after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return performance.now() - start;
}
