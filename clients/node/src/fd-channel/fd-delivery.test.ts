import assert from "node:assert/strict";
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { DeadlineExceededError, UnavailableError } from "../pool-errors.ts";
import { FdDelivery } from "./fd-delivery.ts";

const TOKEN = Buffer.alloc(16, 7);

describe("FdDelivery: the fd is the caller's only if it takes it; otherwise it is closed", () => {
  let dir: string;
  let file: string;
  let inode: bigint;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "fd-delivery-"));
    file = join(dir, "f");
    writeFileSync(file, "x");
    inode = statSync(file, { bigint: true }).ino;
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** An fd of our test file, as if received. */
  const received = (): number => openSync(file, "r");
  /** True if `fd` is still open on our file (a reused number would name another inode). */
  const isOurs = (fd: number): boolean => {
    try {
      return fstatSync(fd, { bigint: true }).ino === inode;
    } catch {
      return false;
    }
  };

  test("take after delivery hands the fd over", async () => {
    const delivery = new FdDelivery(TOKEN);
    const fd = received();
    delivery.deliver({ fd, fdType: "memfd_shmem", sizeBytes: 1n });
    const taken = await delivery.take(Date.now() + 1000, "test");
    assert.equal(taken.fd, fd);
    assert.equal(delivery.state, "taken");
    delivery.abandon(); // after take: the fd is not the delivery's to close
    assert.ok(isOurs(fd));
    closeSync(fd);
  });

  test("take waits for a delivery that comes after the call's OK", async () => {
    const delivery = new FdDelivery(TOKEN);
    const taking = delivery.take(Date.now() + 5000, "test");
    const fd = received();
    delivery.deliver({ fd, fdType: "memfd_shmem", sizeBytes: 1n });
    assert.equal((await taking).fd, fd);
    closeSync(fd);
  });

  test("take rejects with DeadlineExceededError when the fd does not come in time", async () => {
    const delivery = new FdDelivery(TOKEN);
    await assert.rejects(delivery.take(Date.now() + 20, "CreateMemfdArena"), (e) => e instanceof DeadlineExceededError && e.operation === "CreateMemfdArena");
  });

  test("abandon closes a delivered fd, and a delivery after abandon is closed at once", () => {
    const early = new FdDelivery(TOKEN);
    const fd1 = received();
    early.deliver({ fd: fd1, fdType: "memfd_shmem", sizeBytes: 1n });
    early.abandon();
    assert.equal(isOurs(fd1), false);

    const late = new FdDelivery(TOKEN);
    late.abandon();
    const fd2 = received();
    late.deliver({ fd: fd2, fdType: "memfd_shmem", sizeBytes: 1n });
    assert.equal(isOurs(fd2), false);
  });

  test("a second delivery is closed; the first stays", async () => {
    const delivery = new FdDelivery(TOKEN);
    const fd1 = received();
    const fd2 = received();
    delivery.deliver({ fd: fd1, fdType: "memfd_shmem", sizeBytes: 1n });
    delivery.deliver({ fd: fd2, fdType: "memfd_shmem", sizeBytes: 1n });
    assert.equal(isOurs(fd2), false);
    assert.equal((await delivery.take(Date.now() + 1000, "test")).fd, fd1);
    closeSync(fd1);
  });

  test("a channel failure rejects a waiting take with the channel's error", async () => {
    const delivery = new FdDelivery(TOKEN);
    const taking = delivery.take(Date.now() + 5000, "test");
    delivery.fail(new UnavailableError("the daemon closed the fd channel connection"));
    await assert.rejects(taking, UnavailableError);
    await assert.rejects(delivery.take(Date.now() + 5000, "test"), /closed the fd channel/);
  });
});
