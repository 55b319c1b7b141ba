/**
 * The fds the client keeps of the arenas it made, so that it can send them again after a daemon
 * restart (ReattachArena; docs/daemon.md "Reattach"): a close-on-exec dup of the caller's
 * guest_memfd, and of each memfd the daemon delivered. The daemon cannot keep them across its
 * own death (without the systemd fd store), and the caller may have closed its copies; these
 * dups are what makes the reattach possible at all.
 *
 * Ownership: every fd in the table belongs to the table. `keep` takes ownership of the dups it
 * is given; `forget` and `closeAll` close them. Nothing else closes them.
 *
 * Invariants: each arena appears at most once; every kept fd is open, close-on-exec and
 * distinct from every other kept fd.
 */
import { closeFd, dupCloexec } from "@gmempool/sys";
import type { FdType } from "./resources.ts";

/** One of an arena's files, as the client keeps it. */
export interface KeptFile {
  readonly fdType: FdType;
  /** Owned by the ArenaFds table. */
  readonly fd: number;
}

export class ArenaFds {
  readonly #arenas = new Map<string, readonly KeptFile[]>();

  get size(): number {
    return this.#arenas.size;
  }

  /** The arena ids, oldest first (the order the client reattaches in). */
  arenaIds(): string[] {
    return [...this.#arenas.keys()];
  }

  files(arenaId: string): readonly KeptFile[] | undefined {
    return this.#arenas.get(arenaId);
  }

  /**
   * Keeps close-on-exec dups of `files` (whose fds stay the caller's) for `arenaId`, replacing
   * (and closing) what was kept for it before.
   */
  keepDups(arenaId: string, files: readonly { readonly fdType: FdType; readonly fd: number }[]): void {
    const dups: KeptFile[] = [];
    try {
      for (const file of files) dups.push({ fdType: file.fdType, fd: dupCloexec(file.fd) });
    } catch (error) {
      for (const dup of dups) closeFd(dup.fd);
      throw error;
    }
    this.forget(arenaId);
    this.#arenas.set(arenaId, dups);
  }

  /** Closes what was kept for `arenaId` (deleted, or gone after a restart). */
  forget(arenaId: string): void {
    const files = this.#arenas.get(arenaId);
    if (files === undefined) return;
    this.#arenas.delete(arenaId);
    for (const file of files) closeFd(file.fd);
  }

  closeAll(): void {
    for (const arenaId of this.arenaIds()) this.forget(arenaId);
  }

  /** Checks the invariants (tests). */
  assertInvariants(): void {
    const seen = new Set<number>();
    for (const [arenaId, files] of this.#arenas) {
      for (const file of files) {
        if (!Number.isInteger(file.fd) || file.fd < 0) throw new Error(`arena ${arenaId}: kept fd ${file.fd} is not an fd`);
        if (seen.has(file.fd)) throw new Error(`arena ${arenaId}: fd ${file.fd} kept twice`);
        seen.add(file.fd);
      }
    }
  }
}
