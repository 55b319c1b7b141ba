/** Creating arenas of each kind through both sockets, as a VMM does (e2e tests and bench). */
import { type Fd, GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_X86_DEFAULT_VM } from "@gmempool/sys";
import { UNIT_BYTES } from "@gmempool/contract";
import type { KernelPort } from "../../kvm/kernel-port.ts";
import type { FdChannelClient, TestClient } from "./test-client.ts";

export type E2eArenaKind = "memfd" | "hugetlb" | "gmem";

/** Creates an arena of `kind` through both sockets; returns its id and the fds the client holds. */
export async function createArena(kernel: KernelPort, client: TestClient, channel: FdChannelClient, kind: E2eArenaKind, unitCount: number, name: string): Promise<{ arenaId: string; fds: Fd[] }> {
  const sizeBytes = String(BigInt(unitCount) * UNIT_BYTES);
  if (kind === "gmem") {
    const vm = kernel.createVm(KVM_X86_DEFAULT_VM);
    const gmem = kernel.createGuestMemfd(vm, BigInt(unitCount) * UNIT_BYTES, GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
    const token = await channel.sendFdToken(gmem, "GUEST_MEMFD");
    const arena = (await client.call("RegisterGuestMemfdArena", { gmemFdToken: token, sizeBytes, initialVisibility: "PAGE_VISIBILITY_SHARED", name })).arena!;
    return { arenaId: arena.arenaId, fds: [vm, gmem] };
  }
  const token = await channel.receiveFdToken();
  const [response, delivery] = await Promise.all([
    client.call("CreateMemfdArena", { memfdFdToken: token, sizeBytes, backing: kind === "hugetlb" ? "MEMFD_BACKING_HUGETLB" : "MEMFD_BACKING_SHMEM", name }),
    channel.receive(),
  ]);
  return { arenaId: response.arena!.arenaId, fds: [...delivery.fds] };
}

