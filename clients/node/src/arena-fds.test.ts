import assert from "node:assert/strict";
import { closeSync, fstatSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ArenaFds } from "./arena-fds.ts";
import { isCloexec } from "@gmempool/sys";

describe("ArenaFds keeps its own close-on-exec dups and closes only those", () => {
  let dir: string;
  let file: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "arena-fds-"));
    file = join(dir, "arena");
    writeFileSync(file, "x");
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const isOpen = (fd: number): boolean => {
    try {
      fstatSync(fd);
      return true;
    } catch {
      return false;
    }
  };

  test("keepDups dups (close-on-exec, new numbers); forget closes the dups, never the caller's fds", () => {
    const fds = new ArenaFds();
    const gmem = openSync(file, "r");
    const memfd = openSync(file, "r");
    try {
      fds.keepDups("arena-1", [
        { fdType: "guest_memfd", fd: gmem },
        { fdType: "memfd_shmem", fd: memfd },
      ]);
      fds.assertInvariants();
      const kept = fds.files("arena-1")!;
      assert.deepEqual(
        kept.map((k) => k.fdType),
        ["guest_memfd", "memfd_shmem"],
      );
      for (const k of kept) {
        assert.ok(k.fd !== gmem && k.fd !== memfd);
        assert.equal(isCloexec(k.fd), true);
      }
      fds.forget("arena-1");
      assert.equal(fds.size, 0);
      for (const k of kept) assert.equal(isOpen(k.fd), false);
      assert.ok(isOpen(gmem) && isOpen(memfd));
    } finally {
      closeSync(gmem);
      closeSync(memfd);
    }
  });

  test("keeping an arena again replaces (and closes) what was kept; closeAll closes everything; order is oldest first", () => {
    const fds = new ArenaFds();
    const fd = openSync(file, "r");
    try {
      fds.keepDups("a", [{ fdType: "memfd_shmem", fd }]);
      fds.keepDups("b", [{ fdType: "memfd_shmem", fd }]);
      const first = fds.files("a")![0]!.fd;
      fds.keepDups("a", [{ fdType: "memfd_shmem", fd }]);
      // The new dup is made before the old one is closed, so their numbers differ.
      assert.notEqual(fds.files("a")![0]!.fd, first);
      assert.equal(isOpen(first), false);
      assert.deepEqual(fds.arenaIds(), ["b", "a"]);
      fds.assertInvariants();
      const all = ["a", "b"].map((id) => fds.files(id)![0]!.fd);
      fds.closeAll();
      assert.equal(fds.size, 0);
      for (const k of all) assert.equal(isOpen(k), false);
    } finally {
      closeSync(fd);
    }
  });

  test("a dup that fails keeps nothing and leaks nothing", () => {
    const fds = new ArenaFds();
    const fd = openSync(file, "r");
    const openBefore = readdirSync("/proc/self/fd").length;
    try {
      assert.throws(() => {
        fds.keepDups("a", [
          { fdType: "guest_memfd", fd },
          { fdType: "memfd_shmem", fd: 1_000_000 },
        ]);
      }, /F_DUPFD_CLOEXEC/);
      assert.equal(fds.size, 0);
      assert.equal(readdirSync("/proc/self/fd").length, openBefore);
    } finally {
      closeSync(fd);
    }
  });
});
