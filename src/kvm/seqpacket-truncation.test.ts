/**
 * A datagram carrying more fds than the receive buffer takes (the kernel sets MSG_CTRUNC and
 * installs only what fits) must not leak the fds that did arrive (issue 12, item 1: 1,268 such
 * datagrams took the daemon from 31 to 19,999 open fds). Real sockets and the real kernel port;
 * no /dev/kvm needed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { closeFd, connectSeqpacket as rawConnect, dupCloexec, isKernelError, OutgoingMessage, sendSeqpacket } from "@gmempool/sys";
import { SEQPACKET_MAX_FDS } from "./kernel-port.ts";
import { LinuxKernel } from "./linux-kernel.ts";

const openFdCount = (): number => readdirSync("/proc/self/fd").length;

test("a datagram with more fds than fit is refused as truncated, and every fd that arrived is closed", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gmempool-ctrunc-"));
  const kernel = new LinuxKernel();
  const listener = kernel.listenSeqpacket(join(dir, "fd.sock"));
  const peer = await rawConnect(join(dir, "fd.sock"));
  const connection = (await listener.accept())!;
  const sent = Array.from({ length: 40 }, () => dupCloexec(0));
  try {
    const before = openFdCount();
    // More than the receive buffer's SEQPACKET_MAX_FDS: the kernel truncates.
    assert.ok(sent.length > SEQPACKET_MAX_FDS);
    for (let round = 0; round < 20; round++) {
      assert.ok(sendSeqpacket(peer, new OutgoingMessage(Buffer.alloc(64), sent)));
      await assert.rejects(connection.receive(), (e: unknown) => isKernelError(e, "EMSGSIZE") && /truncated/.test(e.message));
    }
    assert.equal(openFdCount(), before, "no fd of the truncated datagrams stays open");
    // The connection still works for a well-formed message.
    assert.ok(sendSeqpacket(peer, new OutgoingMessage(Buffer.alloc(64), sent.slice(0, 1))));
    const message = await connection.receive();
    assert.ok(message !== null);
    assert.equal(message.fds.length, 1);
    for (const fd of message.fds) kernel.close(fd);
  } finally {
    for (const fd of sent) closeFd(fd);
    closeFd(peer);
    connection.close();
    listener.close();
    kernel.release();
    rmSync(dir, { recursive: true, force: true });
  }
});
