/**
 * SEND_FD past a connection's pending-token limit (found by the fuzz test): the token table
 * closes the refused fd, and the channel must not close it a second time — that EBADF escaped
 * the connection's loop as an unhandled rejection. Now: one RESOURCE_EXHAUSTED reply, the
 * connection usable, the daemon's fds as before.
 */
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { test } from "node:test";
import { FD_MESSAGE_KIND } from "@gmempool/contract";
import { TransportHarness } from "../testing/transport-harness.ts";

test("a SEND_FD past max_pending_fd_tokens answers RESOURCE_EXHAUSTED once and closes its fd once; the connection goes on", async () => {
  const h = await TransportHarness.start({ maxPendingFdTokens: 2 });
  try {
    const peer = await h.peer();
    const gmem = peer.vmm.createGuestMemfd(1);
    await peer.fd.sendFdToken(gmem, "GUEST_MEMFD");
    await peer.fd.sendFdToken(gmem, "GUEST_MEMFD");
    const daemonFds = h.daemon.kernel.openFds().length;
    const refused = await peer.fd.sendFd(gmem, "GUEST_MEMFD");
    assert.equal(refused.kind, FD_MESSAGE_KIND.SEND_FD_REPLY);
    assert.equal(refused.status, status.RESOURCE_EXHAUSTED);
    assert.match(refused.detail, /already holds 2 pending tokens/);
    assert.equal(h.daemon.kernel.openFds().length, daemonFds, "the refused fd was closed, once");
    const cancel = await peer.fd.cancel(new Uint8Array(16));
    assert.equal(cancel.kind, FD_MESSAGE_KIND.CANCEL_REPLY, "the connection still answers");
  } finally {
    await h.stop();
  }
});
