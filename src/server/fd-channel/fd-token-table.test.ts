import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GmempoolError } from "../../pool/errors.ts";
import { asFd, type Fd } from "@gmempool/sys";
import { ManualClock } from "../../kvm/manual-clock.ts";
import { FdTokenTable } from "./fd-token-table.ts";

const GMEM = { fdType: "guest_memfd", sizeBytes: 4n << 20n } as const;
const A = { connectionId: 1, uid: 1000, pid: 4001 };
const SEND = { field: "gmem_fd_token", direction: "send" } as const;

function table(ttlMs = 10_000, max = 2): { tokens: FdTokenTable; closed: Fd[]; clock: ManualClock } {
  const closed: Fd[] = [];
  const clock = new ManualClock();
  return { tokens: new FdTokenTable({ ttlMs, maxPendingPerConnection: max, closeFd: (fd) => closed.push(fd), clock }), closed, clock };
}

function rejects(kind: string, message: RegExp): (e: unknown) => boolean {
  return (e) => e instanceof GmempoolError && e.kind === kind && message.test(e.message);
}

describe("fd channel tokens", () => {
  test("a token is consumed by a call that succeeds, and its fd closed", () => {
    const { tokens, closed, clock } = table();
    const token = tokens.issueSend(A, asFd(50), GMEM);
    const claim = tokens.claim(token, A, SEND);
    assert.equal(claim.fd, 50);
    claim.settle(true);
    assert.deepEqual(closed, [50]);
    assert.equal(clock.pendingTimers, 0, "its TTL timer is cleared");
    assert.throws(() => tokens.claim(token, A, SEND), rejects("not-found", /unknown, expired, already used/));
    tokens.assertInvariants();
  });

  test("a failed call leaves the token pending for a corrected retry", () => {
    const { tokens, closed } = table();
    const token = tokens.issueSend(A, asFd(50), GMEM);
    tokens.claim(token, A, SEND).settle(false);
    assert.deepEqual(closed, []);
    tokens.claim(token, A, SEND).settle(true);
    assert.deepEqual(closed, [50]);
  });

  test("another uid or pid gets not-found, exactly as for an unknown token", () => {
    const { tokens } = table();
    const token = tokens.issueSend(A, asFd(50), GMEM);
    const unknown = (() => {
      try {
        tokens.claim(new Uint8Array(16), A, SEND);
      } catch (e) {
        return (e as Error).message.replace(/[0-9a-f]{8}…/, "");
      }
      return "";
    })();
    for (const other of [{ uid: 1001, pid: 4001 }, { uid: 1000, pid: 4002 }]) {
      assert.throws(() => tokens.claim(token, other, SEND), (e: unknown) => e instanceof GmempoolError && e.kind === "not-found" && e.message.replace(/[0-9a-f]{8}…/, "") === unknown);
    }
  });

  test("wrong length, wrong direction and wrong fd type are invalid-argument", () => {
    const { tokens } = table();
    const send = tokens.issueSend(A, asFd(50), { fdType: "memfd_shmem", sizeBytes: 0n });
    const receive = tokens.issueReceive(A, () => Promise.resolve());
    assert.throws(() => tokens.claim(new Uint8Array(3), A, SEND), rejects("invalid-argument", /gmem_fd_token is 3 bytes; a token is 16 bytes/));
    assert.throws(() => tokens.claim(receive, A, SEND), rejects("invalid-argument", /is a RECEIVE_FD token; this field needs a SEND_FD token/));
    assert.throws(() => tokens.claim(send, A, { ...SEND, fdTypes: ["guest_memfd"] }), rejects("invalid-argument", /names a memfd_shmem fd; this field needs a guest_memfd/));
  });

  test("a token in use by one call is not-found for another", () => {
    const { tokens } = table();
    const token = tokens.issueSend(A, asFd(50), GMEM);
    const claim = tokens.claim(token, A, SEND);
    assert.throws(() => tokens.claim(token, A, SEND), rejects("not-found", /in use/));
    claim.settle(false);
  });

  test("tokens expire after the TTL and their fds are closed", () => {
    const { tokens, closed, clock } = table(30);
    const token = tokens.issueSend(A, asFd(50), GMEM);
    clock.advance(29);
    assert.deepEqual(closed, []);
    assert.equal(tokens.size, 1);
    clock.advance(1);
    assert.deepEqual(closed, [50]);
    assert.throws(() => tokens.claim(token, A, SEND), rejects("not-found", /expired/));
    assert.equal(tokens.size, 0);
  });

  test("expiry during a call waits for the call: the fd stays open until it settles", () => {
    const { tokens, closed, clock } = table(30);
    const token = tokens.issueSend(A, asFd(50), GMEM);
    const claim = tokens.claim(token, A, SEND);
    clock.advance(30);
    assert.equal(clock.pendingTimers, 0, "the TTL fired");
    assert.deepEqual(closed, []);
    tokens.assertInvariants();
    claim.settle(false);
    assert.deepEqual(closed, [50]);
    assert.equal(tokens.size, 0);
  });

  test("a connection holds at most the limit; the refused fd is closed", () => {
    const { tokens, closed } = table(10_000, 2);
    tokens.issueSend(A, asFd(50), GMEM);
    tokens.issueReceive(A, () => Promise.resolve());
    assert.throws(() => tokens.issueSend(A, asFd(52), GMEM), rejects("exhausted", /already holds 2 pending tokens, the limit is 2/));
    assert.deepEqual(closed, [52]);
    tokens.issueSend({ ...A, connectionId: 2 }, asFd(53), GMEM);
    tokens.assertInvariants();
  });

  test("cancel and connection close revoke tokens and close their fds", () => {
    const { tokens, closed } = table();
    const t1 = tokens.issueSend(A, asFd(50), GMEM);
    tokens.issueSend(A, asFd(51), GMEM);
    assert.equal(tokens.cancel(2, t1), false, "another connection cannot cancel it");
    assert.equal(tokens.cancel(1, t1), true);
    assert.equal(tokens.cancel(1, t1), false);
    tokens.revokeConnection(1);
    assert.deepEqual(closed, [50, 51]);
    assert.equal(tokens.size, 0);
    tokens.assertInvariants();
  });
});

describe("pending tokens per uid (issue 12 item 2)", () => {
  test("one uid's connections together hold at most maxPendingPerUid tokens; another uid is not affected; the refused fd is closed", () => {
    const closed: Fd[] = [];
    const tokens = new FdTokenTable({ ttlMs: 10_000, maxPendingPerConnection: 2, maxPendingPerUid: 3, closeFd: (fd) => closed.push(fd), clock: new ManualClock() });
    for (let c = 1; c <= 3; c++) tokens.issueReceive({ connectionId: c, uid: 1001, pid: 5000 + c }, () => Promise.resolve());
    assert.throws(() => tokens.issueSend({ connectionId: 4, uid: 1001, pid: 5004 }, asFd(60), GMEM), rejects("exhausted", /uid 1001 holds 3 pending fd tokens over its connections \(limits.fd_tokens_per_uid = 3\)/));
    assert.deepEqual(closed, [asFd(60)]);
    tokens.issueReceive({ connectionId: 5, uid: 1002, pid: 6000 }, () => Promise.resolve());
    tokens.revokeConnection(1);
    tokens.issueReceive({ connectionId: 4, uid: 1001, pid: 5004 }, () => Promise.resolve());
    tokens.assertInvariants();
  });
});
