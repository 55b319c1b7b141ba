/**
 * The real files behind the fake: memfd arenas get a real memfd (so that a VMM under test can
 * mmap it), and fds passed in are checked with fstat and readlink the way the daemon checks what
 * arrives on its fd channel. memfd_create is @gmempool/sys's binding; fstat, ftruncate and
 * readlink go through node:fs, which takes fd numbers.
 *
 * Ownership (STYLE.md rule 7): `memfd_create` returns an fd the caller owns; `inspectFd`
 * borrows its fd and never closes it.
 */
import { closeSync, fstatSync, ftruncateSync, readlinkSync } from "node:fs";
import { check, libc, MFD_CLOEXEC } from "@gmempool/sys";

/** The memfd name of a stand-in guest_memfd (`createStandInGuestMemfd`). */
export const STAND_IN_GUEST_MEMFD_NAME = "gmempool-fake:guest_memfd";
/** A stand-in for a guest_memfd created without GUEST_MEMFD_FLAG_INIT_SHARED (private at first). */
export const STAND_IN_PRIVATE_GUEST_MEMFD_NAME = "gmempool-fake:guest_memfd:private";

/** A close-on-exec memfd named `name`, `sizeBytes` long (sparse). The caller owns it. */
export function memfdCreate(name: string, sizeBytes: bigint): number {
  const fd = check(libc.memfd_create(name, MFD_CLOEXEC), "memfd_create(MFD_CLOEXEC)", name);
  try {
    ftruncateSync(fd, Number(sizeBytes));
  } catch (error) {
    closeQuietly(fd);
    throw error;
  }
  return fd;
}

/** What an fd is, as the daemon's fd checks see it. */
export interface FdInspection {
  /** "guest_memfd" for a real guest_memfd or a stand-in, "memfd" for another memfd, else "other". */
  readonly kind: "guest_memfd" | "memfd" | "other";
  /** st_blksize 2 MiB: a hugetlb memfd. */
  readonly hugetlb: boolean;
  readonly sizeBytes: bigint;
  readonly device: bigint;
  readonly inode: bigint;
  /** /proc/self/fd/N, e.g. "/memfd:gmempool:arena-… (deleted)" or "anon_inode:[kvm-gmem]". */
  readonly link: string;
}

/** Inspects `fd` (borrowed); undefined when it is not an open file descriptor (EBADF). */
export function inspectFd(fd: number): FdInspection | undefined {
  if (!Number.isInteger(fd) || fd < 0) return undefined;
  let stats;
  let link;
  try {
    stats = fstatSync(fd, { bigint: true });
    link = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
  const memfd = link.startsWith("/memfd:");
  const standIn = link.startsWith(`/memfd:${STAND_IN_GUEST_MEMFD_NAME}`);
  const kind = link === "anon_inode:[kvm-gmem]" || standIn ? "guest_memfd" : memfd ? "memfd" : "other";
  return { kind, hugetlb: stats.blksize === 2n * 1024n * 1024n, sizeBytes: stats.size, device: stats.dev, inode: stats.ino, link };
}

/** How the daemon describes a received fd in its errors. */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // EBADF: already closed.
  }
}
