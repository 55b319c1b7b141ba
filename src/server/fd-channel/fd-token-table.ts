/**
 * The fd channel's tokens: how a gRPC call names an fd that crossed (or will cross) the
 * SEQPACKET channel (fd_channel.proto "Tokens").
 *
 * Ownership and lifetimes:
 * - a SEND_FD token OWNS the fd the client sent, from the SEND_FD_REPLY until the token ends:
 *   consumed by a call that succeeded, cancelled, expired, or its connection closed. The table
 *   closes the fd then (through `closeFd`), whichever way it ends. A call that names the token
 *   only BORROWS the fd for its duration (the daemon keeps its own dup on success).
 * - a RECEIVE_FD token owns no fd: it holds the `deliver` function of its connection, which
 *   sends an fd the daemon lends it (FD_DELIVERY).
 *
 * Rules, as early returns in `claim`: a token is 16 bytes (else invalid-argument); it exists,
 * is pending, and was issued to a connection whose peer has the caller's uid and pid (else
 * not-found, the same answer for all three, so that a process cannot probe other processes'
 * tokens); it has the direction the field needs and, for SEND_FD tokens where the field says
 * so, the fd type (else invalid-argument).
 *
 * A claimed token is IN USE until its call settles: a second call naming it gets not-found,
 * and an expiry or revocation during the call only marks it, so the fd stays open while the
 * daemon may be using it; it is closed when the call settles.
 *
 * Invariants (assertInvariants): every token is in its connection's set and vice versa; a
 * connection holds at most `maxPendingPerConnection` tokens; send tokens hold an fd, receive
 * tokens none; a dead token is in use (else it would already be gone).
 */
import { randomBytes } from "node:crypto";
import { type FdDelivery, type FdInspection, type FdType } from "../../daemon/pool-service.ts";
import { GmempoolError } from "../../pool/errors.ts";
import { REAL_CLOCK, type Clock, type ClockTimer } from "../../kvm/clock.ts";
import type { Fd } from "@gmempool/sys";
import { FD_TOKEN_BYTES } from "@gmempool/contract";

export type FdTokenDirection = "send" | "receive";

/** The connection a token was issued on, and its peer as SO_PEERCRED reported it. */
export interface FdTokenOwner {
  readonly connectionId: number;
  readonly uid: number;
  readonly pid: number;
}

export interface FdTokenTableOptions {
  /** How long a token stays pending after it is issued (fd_token_ttl). */
  readonly ttlMs: number;
  /** Pending tokens per connection (max_pending_fd_tokens). */
  readonly maxPendingPerConnection: number;
  /** Pending tokens of one uid over all its connections (default: 4 connections' worth). */
  readonly maxPendingPerUid?: number | undefined;
  /** Closes an fd the table owns (the kernel port's close). */
  readonly closeFd: (fd: Fd) => void;
  /** Times the TTL (default: the real clock; tests pass a ManualClock). */
  readonly clock?: Clock | undefined;
}

/** Default fd_token_ttl (fd_channel.proto: "default 10 s"). */
export const DEFAULT_FD_TOKEN_TTL_MS = 10_000;
/** Default max_pending_fd_tokens: a VMM needs two at once (a pair); 16 leaves room for retries. */
export const DEFAULT_MAX_PENDING_FD_TOKENS = 16;

interface PendingToken {
  readonly key: string;
  readonly direction: FdTokenDirection;
  readonly owner: FdTokenOwner;
  /** send: the received fd, owned by the table. */
  readonly fd: Fd | undefined;
  readonly inspection: FdInspection | undefined;
  /** receive: sends the fd on the token's connection, echoing the RECEIVE_FD sequence. */
  readonly deliver: FdDelivery | undefined;
  readonly timer: ClockTimer;
  inUse: boolean;
  /** Expired or revoked while in use: ends when the call settles. */
  dead: boolean;
}

/** A token held by one call. `settle` must be called exactly once, when the call ends. */
export interface FdTokenClaim {
  readonly direction: FdTokenDirection;
  /** send tokens: the fd, BORROWED for the call. */
  readonly fd: Fd | undefined;
  readonly inspection: FdInspection | undefined;
  /** receive tokens: delivers an fd on the token's connection. */
  readonly deliver: FdDelivery | undefined;
  /** succeeded: the token is consumed (its fd closed); else it is pending again. */
  settle(succeeded: boolean): void;
}

/** What a `claim` asks of the token. */
export interface FdTokenExpectation {
  /** The request field naming the token, for messages ("gmem_fd_token"). */
  readonly field: string;
  readonly direction: FdTokenDirection;
  /** send tokens: the fd types the field accepts (absent: any; the daemon checks). */
  readonly fdTypes?: readonly FdType[];
}

const DIRECTION_NAME: Record<FdTokenDirection, string> = { send: "SEND_FD", receive: "RECEIVE_FD" };

export class FdTokenTable {
  readonly ttlMs: number;
  readonly maxPendingPerConnection: number;
  readonly maxPendingPerUid: number;
  readonly #closeFd: (fd: Fd) => void;
  readonly #clock: Clock;
  readonly #tokens = new Map<string, PendingToken>();
  readonly #byConnection = new Map<number, Set<PendingToken>>();

  constructor(options: FdTokenTableOptions) {
    if (!(options.ttlMs > 0)) throw new RangeError(`token TTL must be positive, got ${options.ttlMs} ms`);
    if (!Number.isInteger(options.maxPendingPerConnection) || options.maxPendingPerConnection < 1) throw new RangeError(`max pending tokens must be a positive integer, got ${options.maxPendingPerConnection}`);
    this.ttlMs = options.ttlMs;
    this.maxPendingPerConnection = options.maxPendingPerConnection;
    this.maxPendingPerUid = options.maxPendingPerUid ?? 4 * options.maxPendingPerConnection;
    this.#closeFd = options.closeFd;
    this.#clock = options.clock ?? REAL_CLOCK;
  }

  /** Pending tokens (in use or not), for tests and metrics. */
  get size(): number {
    return this.#tokens.size;
  }

  /** Fds the table owns now (leak checks). */
  heldFds(): Fd[] {
    return [...this.#tokens.values()].flatMap((t) => (t.fd === undefined ? [] : [t.fd]));
  }

  /**
   * SEND_FD: the table takes OWNERSHIP of `fd` — also when it throws (exhausted), in which
   * case the fd is closed before the throw.
   */
  issueSend(owner: FdTokenOwner, fd: Fd, inspection: FdInspection): Uint8Array {
    return this.#issue(owner, "send", fd, inspection, undefined);
  }

  /** RECEIVE_FD: `deliver` sends on the token's connection. */
  issueReceive(owner: FdTokenOwner, deliver: FdDelivery): Uint8Array {
    return this.#issue(owner, "receive", undefined, undefined, deliver);
  }

  #issue(owner: FdTokenOwner, direction: FdTokenDirection, fd: Fd | undefined, inspection: FdInspection | undefined, deliver: FdDelivery | undefined): Uint8Array {
    const held = this.#byConnection.get(owner.connectionId);
    if (held !== undefined && held.size >= this.maxPendingPerConnection) {
      if (fd !== undefined) this.#closeFd(fd);
      throw new GmempoolError("exhausted", `this connection already holds ${held.size} pending tokens, the limit is ${this.maxPendingPerConnection} (limits.fd_tokens_per_connection); use or cancel one first`);
    }
    // A bound per uid too: otherwise one tenant's many connections hold the daemon's fds (issue 12).
    let ofUid = 0;
    for (const token of this.#tokens.values()) if (token.owner.uid === owner.uid) ofUid++;
    if (ofUid >= this.maxPendingPerUid) {
      if (fd !== undefined) this.#closeFd(fd);
      throw new GmempoolError("exhausted", `uid ${owner.uid} holds ${ofUid} pending fd tokens over its connections (limits.fd_tokens_per_uid = ${this.maxPendingPerUid}); use or cancel some first`, { value: String(owner.uid) });
    }
    const bytes = randomBytes(FD_TOKEN_BYTES);
    const key = bytes.toString("hex");
    const timer = this.#clock.setTimeout(() => {
      this.#end(key);
    }, this.ttlMs);
    const token: PendingToken = { key, direction, owner, fd, inspection, deliver, timer, inUse: false, dead: false };
    this.#tokens.set(key, token);
    const set = held ?? new Set<PendingToken>();
    set.add(token);
    this.#byConnection.set(owner.connectionId, set);
    return new Uint8Array(bytes);
  }

  /**
   * Takes a token for one gRPC call by `caller` (uid, pid from SO_PEERCRED of the gRPC
   * connection). Throws GmempoolError invalid-argument / not-found as the file comment says.
   */
  claim(tokenBytes: Uint8Array, caller: { readonly uid: number; readonly pid: number }, expect: FdTokenExpectation): FdTokenClaim {
    if (tokenBytes.length !== FD_TOKEN_BYTES) throw new GmempoolError("invalid-argument", `${expect.field} is ${tokenBytes.length} bytes; a token is ${FD_TOKEN_BYTES} bytes`);
    const key = Buffer.from(tokenBytes.buffer, tokenBytes.byteOffset, tokenBytes.length).toString("hex");
    const token = this.#tokens.get(key);
    // Unknown, expired, used, revoked, in use by another call, or another process's: one answer.
    if (token === undefined || token.dead || token.inUse || token.owner.uid !== caller.uid || token.owner.pid !== caller.pid) {
      throw new GmempoolError("not-found", `${expect.field} ${key.slice(0, 8)}… is unknown, expired, already used or in use, or was issued to another process`);
    }
    if (token.direction !== expect.direction) {
      throw new GmempoolError("invalid-argument", `${expect.field} is a ${DIRECTION_NAME[token.direction]} token; this field needs a ${DIRECTION_NAME[expect.direction]} token`);
    }
    const inspection = token.inspection;
    if (expect.fdTypes !== undefined && inspection !== undefined && !expect.fdTypes.includes(inspection.fdType)) {
      throw new GmempoolError("invalid-argument", `${expect.field} names a ${inspection.fdType} fd; this field needs a ${expect.fdTypes.join(" or ")}`);
    }
    token.inUse = true;
    let settled = false;
    return {
      direction: token.direction,
      fd: token.fd,
      inspection,
      deliver: token.deliver,
      settle: (succeeded: boolean) => {
        if (settled) throw new Error(`token ${key.slice(0, 8)}… settled twice`);
        settled = true;
        token.inUse = false;
        if (succeeded || token.dead) this.#end(key);
      },
    };
  }

  /** CANCEL: revokes one of this connection's pending tokens; false if it has no such token. */
  cancel(connectionId: number, tokenBytes: Uint8Array): boolean {
    const key = Buffer.from(tokenBytes.buffer, tokenBytes.byteOffset, tokenBytes.length).toString("hex");
    const token = this.#tokens.get(key);
    if (token === undefined || token.owner.connectionId !== connectionId || token.dead) return false;
    this.#end(key);
    return true;
  }

  /** The connection closed: every token it holds is revoked. */
  revokeConnection(connectionId: number): void {
    for (const token of [...(this.#byConnection.get(connectionId) ?? [])]) this.#end(token.key);
  }

  /** Revokes everything (shutdown). */
  revokeAll(): void {
    for (const key of [...this.#tokens.keys()]) this.#end(key);
  }

  /** Ends a token now, or marks it dead if a call holds it (ended when the call settles). */
  #end(key: string): void {
    const token = this.#tokens.get(key);
    if (token === undefined) return;
    this.#clock.clearTimeout(token.timer);
    if (token.inUse) {
      token.dead = true;
      return;
    }
    this.#tokens.delete(key);
    const set = this.#byConnection.get(token.owner.connectionId);
    set?.delete(token);
    if (set?.size === 0) this.#byConnection.delete(token.owner.connectionId);
    if (token.fd !== undefined) this.#closeFd(token.fd);
  }

  assertInvariants(): void {
    let counted = 0;
    for (const [connectionId, set] of this.#byConnection) {
      if (set.size === 0) throw new Error(`fd tokens: empty set kept for connection ${connectionId}`);
      if (set.size > this.maxPendingPerConnection) throw new Error(`fd tokens: connection ${connectionId} holds ${set.size} > ${this.maxPendingPerConnection}`);
      for (const token of set) {
        if (this.#tokens.get(token.key) !== token) throw new Error(`fd tokens: ${token.key} in connection ${connectionId}'s set but not in the table`);
        if (token.owner.connectionId !== connectionId) throw new Error(`fd tokens: ${token.key} filed under the wrong connection`);
        counted++;
      }
    }
    if (counted !== this.#tokens.size) throw new Error(`fd tokens: ${this.#tokens.size} tokens, ${counted} filed by connection`);
    for (const token of this.#tokens.values()) {
      if ((token.direction === "send") !== (token.fd !== undefined)) throw new Error(`fd tokens: ${token.direction} token ${token.key} ${token.fd === undefined ? "without" : "with"} an fd`);
      if (token.dead && !token.inUse) throw new Error(`fd tokens: dead token ${token.key} not in use`);
    }
  }
}
