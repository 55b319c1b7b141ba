/**
 * Where the test's real fds meet the in-process daemon's fake kernel. The code under test holds
 * real fd numbers (it mmaps a memfd arena's fd, passes its guest_memfd); the daemon runs on the
 * fake kernel port (src/kvm/fake/), whose processes hold fake files. The bridge pairs each real
 * file (by st_dev/st_ino) with one fake file, so that the daemon sees the same file every time
 * the same real file comes in — which is what its rules about files are about (an fd already an
 * arena, reattach with the arena's own file).
 *
 * - An fd coming in (SEND_FD): a real guest_memfd, or a stand-in made by
 *   `createStandInGuestMemfd`, is paired with a fake guest_memfd of its size on a fake VM of the
 *   sending process; any other memfd with a fake memfd of its size; anything else is refused
 *   here, naming it (the fake kernel models those two kinds only).
 * - An fd going out (FD_DELIVERY): the daemon's fake memfd is installed in the receiving fake
 *   process, and the test gets a new real memfd of the same size, close-on-exec, paired with it.
 *
 * Memory is not shared between the two sides: what the test writes into a real memfd is not
 * what the fake kernel counts as populated (the daemon's accounting runs on the fake).
 */
import { type Fd, GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_X86_DEFAULT_VM } from "@gmempool/sys";
import type { FakeKernel } from "../../../../src/kvm/fake/fake-kernel.ts";
import { InvalidArgumentError } from "../pool-errors.ts";
import type { FdType } from "../resources.ts";
import { inspectFd, memfdCreate, STAND_IN_PRIVATE_GUEST_MEMFD_NAME } from "./real-fds.ts";

interface Pairing {
  /** The fake file's holders: fake process pid -> its fd of the file. */
  readonly holders: Map<number, { readonly kernel: FakeKernel; readonly fd: Fd }>;
}

export class FdBridge {
  /** Real file ("dev:ino") -> its fake file's holders. */
  readonly #pairs = new Map<string, Pairing>();

  /**
   * The fd the daemon's process gets for the caller's real `fd` (borrowed), sent from the fake
   * process `sender`: a new fd of `daemon`, which the daemon then owns.
   */
  toDaemon(fd: number, sender: FakeKernel, daemon: FakeKernel): Fd {
    const held = this.#heldBy(fd, sender);
    return daemon.adoptFile(sender.fileForFd(held, "sendmsg").get());
  }

  /**
   * A real memfd for the daemon's `fd` (borrowed: the daemon keeps its own), delivered to the
   * fake process `receiver`. The returned fd is the caller's.
   */
  fromDaemon(fd: Fd, info: { readonly fdType: FdType; readonly sizeBytes: bigint }, daemon: FakeKernel, receiver: FakeKernel): number {
    const file = daemon.fileForFd(fd, "sendmsg");
    // The daemon's name for it ("/memfd:gmempool:arena#1 (deleted)"), as the VMM would see it.
    const name = memfdName(daemon.identifyFd(fd).link) ?? `gmempool:${info.fdType}`;
    const real = memfdCreate(name, info.sizeBytes);
    const inspection = inspectFd(real)!;
    const pairing: Pairing = { holders: new Map() };
    pairing.holders.set(receiver.pid, { kernel: receiver, fd: receiver.adoptFile(file.get()) });
    this.#pairs.set(`${inspection.device}:${inspection.inode}`, pairing);
    return real;
  }

  /** A fake process exited: its fds are gone (the kernel closed them). */
  processExited(pid: number): void {
    for (const [key, pairing] of this.#pairs) {
      pairing.holders.delete(pid);
      if (pairing.holders.size === 0) this.#pairs.delete(key);
    }
  }

  /** The fake fd `holder` has for the real `fd`'s file, made on first sight. */
  #heldBy(fd: number, holder: FakeKernel): Fd {
    const inspection = inspectFd(fd);
    if (inspection === undefined) throw new InvalidArgumentError(`fd ${fd} is not an open file descriptor (EBADF)`, { operation: "fd channel SEND_FD" });
    const key = `${inspection.device}:${inspection.inode}`;
    let pairing = this.#pairs.get(key);
    if (pairing === undefined) {
      pairing = { holders: new Map() };
      pairing.holders.set(holder.pid, { kernel: holder, fd: fakeFileFor(inspection, holder, fd) });
      this.#pairs.set(key, pairing);
    }
    const own = pairing.holders.get(holder.pid);
    if (own !== undefined) return own.fd;
    const any: { kernel: FakeKernel; fd: Fd } = pairing.holders.values().next().value!;
    const adopted = holder.adoptFile(any.kernel.fileForFd(any.fd, "sendmsg").get());
    pairing.holders.set(holder.pid, { kernel: holder, fd: adopted });
    return adopted;
  }
}

/** A new fake file in `holder` standing for the real file inspected. */
function fakeFileFor(inspection: NonNullable<ReturnType<typeof inspectFd>>, holder: FakeKernel, fd: number): Fd {
  if (inspection.kind === "guest_memfd") {
    const privateStandIn = inspection.link.startsWith(`/memfd:${STAND_IN_PRIVATE_GUEST_MEMFD_NAME}`);
    const vm = holder.createVm(KVM_X86_DEFAULT_VM);
    try {
      return holder.createGuestMemfd(vm, inspection.sizeBytes, privateStandIn ? GUEST_MEMFD_FLAG_MMAP : GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED);
    } finally {
      holder.close(vm); // the guest_memfd keeps its VM alive, as in KVM
    }
  }
  if (inspection.kind === "memfd") {
    const memfd = holder.memfdCreate(memfdName(inspection.link) ?? "memfd", inspection.hugetlb ? "hugetlb-2m" : "shmem");
    holder.ftruncate(memfd, inspection.sizeBytes);
    return memfd;
  }
  throw new InvalidArgumentError(`fd ${fd} is "${inspection.link}": the test double's fake kernel models guest_memfds and memfds only`, { operation: "fd channel SEND_FD" });
}

/** NAME of a memfd's /proc/self/fd link "/memfd:NAME (deleted)". */
function memfdName(link: string): string | undefined {
  return /^\/memfd:(.*) \(deleted\)$/.exec(link)?.[1];
}
