/**
 * The files behind arenas: what a received fd is (type, size, identity), whether it may become
 * an arena's, claims on files a call in flight is making an arena's, the memfds the daemon
 * creates, and making a file's contents match the books (reconcile).
 *
 * Ownership (STYLE.md rule 7): fds passed in are BORROWED unless a function says it takes
 * them; `dupAll` returns the daemon's own dups (F_DUPFD_CLOEXEC), `closeQuietly` closes one.
 */
import type { Logger } from "pino";
import { FALLOCATE_POPULATE, FALLOCATE_PUNCH, type Fd, HUGETLB_PAGE_BYTES, KernelError } from "@gmempool/sys";
import type { KernelPort } from "../kvm/kernel-port.ts";
import { GmempoolError } from "../pool/errors.ts";
import { UNIT_BYTES, type Arena, type Side } from "../pool/index.ts";
import { populatedByteRuns } from "../pool/population-planner.ts";
import { fileKey, type ArenaRegistry } from "./arena-registry.ts";
import type { ArenaFileMeta, ArenaMeta, FileIdentity } from "./durable-state.ts";
import { classifyKernelError, toGmempoolError } from "./error-classification.ts";
import type { KernelTimer } from "./kernel-timer.ts";
import { arenaFdName, type ArenaFdStore, type FdInspection, type FdType } from "./pool-service.ts";

/** What a received fd turned out to be. */
export interface FdFacts {
  readonly fdType: FdType;
  readonly size: bigint;
  readonly link: string;
  readonly description: string;
  readonly file: FileIdentity;
}

export interface ArenaFilesParts {
  readonly kernel: KernelPort;
  readonly timer: KernelTimer;
  readonly logger: Logger;
  readonly registry: ArenaRegistry;
  readonly fdStore: ArenaFdStore | undefined;
}

export class ArenaFiles {
  readonly #parts: ArenaFilesParts;

  constructor(parts: ArenaFilesParts) {
    this.#parts = parts;
  }

  /** For the fd channel's SEND_FD: the fd (borrowed) is what the client claims. */
  inspect(fd: Fd, claimed: FdType): FdInspection {
    const actual = this.factsOf(fd);
    if (actual.fdType !== claimed) throw new GmempoolError("invalid-argument", `the fd is ${actual.description}, not the claimed ${claimed}`, { resource: "file", value: actual.fdType });
    return { fdType: actual.fdType, sizeBytes: actual.size };
  }

  factsOf(fd: Fd): FdFacts {
    let identity;
    try {
      identity = this.#parts.kernel.identifyFd(fd);
    } catch (error) {
      throw toGmempoolError(error, { what: "identify the received fd", offset: 0n, length: 0n });
    }
    const file = { device: identity.device, inode: identity.inode };
    // A pidfd names a process (HandOverArena); it is never punched, so its access mode is moot.
    if (identity.kind === "pidfd") return { fdType: "pidfd", size: 0n, link: identity.link, description: "a pidfd", file };
    // Every fd the daemon takes is punched and populated (fallocate wants FMODE_WRITE; an O_PATH
    // fd takes no I/O at all): one opened otherwise is refused when it arrives, naming how it
    // was opened, instead of an EBADF halfway through (issue 12).
    if (identity.access !== "read-write") {
      throw new GmempoolError("invalid-argument", `the fd is opened ${identity.access} (${identity.link}): the daemon needs it read-write (O_RDWR) to punch and populate it; send the fd the file was created with, not a reopen of it`, { resource: "file", value: identity.access });
    }
    if (identity.kind === "guest_memfd") return { fdType: "guest_memfd", size: identity.size, link: identity.link, description: `a guest_memfd of ${identity.size} bytes`, file };
    if (identity.kind === "memfd") {
      const hugetlb = BigInt(identity.blockSize) === HUGETLB_PAGE_BYTES;
      return { fdType: hugetlb ? "memfd_hugetlb" : "memfd_shmem", size: identity.size, link: identity.link, description: `a ${hugetlb ? "hugetlb" : "shmem"} memfd of ${identity.size} bytes`, file };
    }
    throw new GmempoolError("invalid-argument", `the fd is not a guest_memfd, memfd or pidfd (it is "${identity.link}")`, { resource: "file", value: identity.link });
  }

  /**
   * Checks a received fd (borrowed) and returns its file's identity (st_dev, st_ino): its type,
   * its size and, when it is offered back to a journaled arena file (`journaled`: reattach, fd
   * store), a memfd's name and the journaled identity. Whether the file is another arena's is
   * `claim`'s question.
   */
  checkReceived(fd: Fd, expected: FdType, sizeBytes: bigint, journaled?: { arenaId: string; file: ArenaFileMeta }): FileIdentity {
    const actual = this.factsOf(fd);
    const kind = journaled === undefined ? "invalid-argument" : "failed-precondition";
    if (actual.fdType !== expected) throw new GmempoolError(kind, `the fd is ${actual.description}, not a ${expected}`, { resource: "file", value: actual.fdType });
    if (actual.size !== sizeBytes) throw new GmempoolError(kind, `size_bytes ${sizeBytes} differs from the fd's size ${actual.size}`, { field: "size_bytes", value: String(sizeBytes) });
    if (journaled === undefined) return actual.file;
    const { arenaId, file } = journaled;
    if (file.memfdName !== "" && !actual.link.startsWith(`/memfd:${file.memfdName}`)) {
      throw new GmempoolError("failed-precondition", `the memfd is "${actual.link}", not the arena's "/memfd:${file.memfdName}"`, { resource: "arena", id: arenaId, value: actual.link });
    }
    // Another file of the same type, size (and memfd name) would give the arena contents that
    // are not its leases': the inode is what tells them apart while the file lives.
    if (file.device !== undefined && file.inode !== undefined && (file.device !== actual.file.device || file.inode !== actual.file.inode)) {
      throw new GmempoolError("failed-precondition", `the fd is not arena "${arenaId}"'s file (journaled device ${file.device} inode ${file.inode}, received device ${actual.file.device} inode ${actual.file.inode})`, { resource: "arena", id: arenaId });
    }
    return actual.file;
  }

  /**
   * The files offered back to a DETACHED arena (reattach, systemd fd store; fds borrowed), side
   * by side: each must be the file the journal records — its type, its size, a memfd's
   * `gmempool:<id>` name, and its (st_dev, st_ino) when journaled. An arena journaled before
   * identities were recorded can only be given a file of the right type and size that is no
   * other arena's (`claim`). Returns the sides with the received identities (to journal).
   */
  checkReattached(meta: ArenaMeta, received: readonly Fd[], sizeBytes: bigint): ArenaFileMeta[] {
    return meta.files.map((f, side) => ({ ...f, ...this.checkReceived(received[side]!, f.fdType, sizeBytes, { arenaId: meta.id, file: f }) }));
  }

  /**
   * Claims `files` for arena `arenaId` (being made or reattached): each must be no other
   * arena's (`except`: the arena being reattached) and in no other call's claim. Synchronous,
   * so two calls racing with one file cannot both pass (no lock across an await: DESIGN.md
   * §5). Returns the release of the claims, to call when the call settles (by then the arena's
   * record holds the files, or the call failed and they are nobody's).
   */
  claim(arenaId: string, files: readonly ArenaFileMeta[], except: string | undefined): () => void {
    const { registry } = this.#parts;
    const keys: string[] = [];
    for (const f of files) {
      if (f.device === undefined || f.inode === undefined) continue;
      this.#checkFileIsFree(f.fdType, { device: f.device, inode: f.inode }, except);
      keys.push(fileKey({ device: f.device, inode: f.inode }));
    }
    for (const key of keys) registry.claimFile(key, arenaId);
    return () => {
      for (const key of keys) registry.releaseFile(key);
    };
  }

  /**
   * pool.proto: a file is at most one arena's. Every arena that records it counts, whoever owns
   * it (the caller holds the file itself, but is not told which arena has it): ACTIVE
   * (the daemon works in it), DELETING (its leases are still being punched in it) and DETACHED
   * (its owner still holds the file for ReattachArena; registering it again would punch the
   * pages the arena's leases hold). A DETACHED arena's identity could outlive a file its owner
   * closed, but inode numbers come from counters (alloc_anon_inode: get_next_ino(), 32 bits;
   * shmem_reserve_inode: the superblock's next_ino): another file gets the number only after
   * one wraps. A file a call in flight is making an arena's is a conflict (it clears).
   */
  #checkFileIsFree(fdType: FdType, file: FileIdentity, except?: string): void {
    const what = `this ${fdType === "guest_memfd" ? "guest_memfd" : "memfd"} (device ${file.device}, inode ${file.inode})`;
    for (const record of this.#parts.registry.records()) {
      const meta = record.meta;
      if (meta.id !== except && meta.files.some((f) => f.device === file.device && f.inode === file.inode)) {
        // The message does not name the arena: it may be another owner's, and ids of other
        // owners' arenas are never told (invariant 5); the log tells the operator.
        this.#parts.logger.info({ arenaId: meta.id, device: file.device, inode: file.inode }, "refused: the file is already this arena's");
        throw new GmempoolError("failed-precondition", `${what} is already an arena (one file backs at most one arena)`, { resource: "file" });
      }
    }
    const claimant = this.#parts.registry.fileClaimant(fileKey(file));
    if (claimant !== undefined && claimant !== except) throw new GmempoolError("conflict", `${what} is being made an arena by a call in flight`, { resource: "file" });
  }

  /** The daemon's own dups (close-on-exec) of borrowed fds; on failure none is left open. */
  dupAll(fds: readonly Fd[]): Fd[] {
    const owned: Fd[] = [];
    try {
      for (const fd of fds) owned.push(this.#parts.kernel.dupCloexec(fd));
    } catch (error) {
      this.closeAll(owned);
      throw error;
    }
    return owned;
  }

  /** A memfd of `sizeBytes` the daemon owns, and its identity. */
  createMemfd(spec: ArenaFileMeta, sizeBytes: bigint): { fd: Fd; file: FileIdentity } {
    const { kernel } = this.#parts;
    const fd = kernel.memfdCreate(spec.memfdName, spec.fdType === "memfd_hugetlb" ? "hugetlb-2m" : "shmem");
    try {
      kernel.ftruncate(fd, sizeBytes);
      return { fd, file: this.factsOf(fd).file };
    } catch (error) {
      this.closeQuietly(fd);
      throw error;
    }
  }

  /**
   * Makes an arena's files hold exactly what its leases' page state says is populated: after a
   * restart a plan in flight at the crash may have left more or less. Populates what the books
   * say is populated, punches everything else, side by side.
   */
  async reconcile(arena: Arena, fds: readonly Fd[]): Promise<void> {
    const sizeBytes = arena.sizeUnits * UNIT_BYTES;
    for (let side = 0 as Side; side < arena.sides; side++) {
      const fd = fds[side]!;
      const runs = [...arena.leases.values()].sort((a, b) => a.start - b.start).flatMap((lease) => populatedByteRuns(lease, side));
      let cursor = 0;
      for (const [s, e] of [...runs, [sizeBytes, sizeBytes] as [number, number]]) {
        if (s > cursor) await this.fallocate(fd, FALLOCATE_PUNCH, BigInt(cursor), BigInt(s - cursor));
        if (e > s) await this.fallocate(fd, FALLOCATE_POPULATE, BigInt(s), BigInt(e - s));
        cursor = e;
      }
    }
  }

  /** Punches a whole file (a received file holds nothing the pool accounts for). */
  punchAll(fd: Fd, sizeBytes: bigint): Promise<void> {
    return this.fallocate(fd, FALLOCATE_PUNCH, 0n, sizeBytes);
  }

  fallocate(fd: Fd, mode: number, offset: bigint, length: bigint): Promise<void> {
    if (length === 0n) return Promise.resolve();
    const call = mode === FALLOCATE_PUNCH ? "fallocate(PUNCH_HOLE)" : "fallocate(KEEP_SIZE)";
    return this.#parts.timer.time(call, () => this.#parts.kernel.fallocate(fd, mode, offset, length)).catch((error: unknown) => {
      throw error instanceof KernelError ? classifyKernelError(error, { what: call, offset, length }) : error;
    });
  }

  /** Hands the arena's files to the systemd fd store (when running under it). */
  store(arenaId: string, fds: readonly Fd[]): void {
    fds.forEach((fd, side) => this.#parts.fdStore?.store(arenaFdName(arenaId, side), fd));
  }

  /** Takes the arena's files out of the systemd fd store. */
  unstore(arenaId: string, sides: number): void {
    for (let side = 0; side < sides; side++) this.#parts.fdStore?.remove(arenaFdName(arenaId, side));
  }

  closeAll(fds: readonly Fd[]): void {
    for (const fd of fds) this.closeQuietly(fd);
  }

  closeQuietly(fd: Fd): void {
    try {
      this.#parts.kernel.close(fd);
    } catch (error) {
      this.#parts.logger.warn({ err: error, fd }, "close failed");
    }
  }
}
