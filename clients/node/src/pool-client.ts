/**
 * `PoolClient`: the `Pool` interface (pool.ts) over the real daemon — gRPC on the API socket
 * (grpc/grpc-channel.ts) and file descriptors on the fd channel (fd-channel/fd-channel-client.ts).
 *
 *   const pool = await PoolClient.connect();            // fails fast if no daemon is there
 *   const { arena, memfd } = await pool.createMemfdArena({ sizeBytes: 64n << 20n });
 *   const lease = await pool.allocate(arena.arenaId, { unitCount: 4 });
 *
 * What it adds to the RPCs:
 * - a deadline on every call (the client's `deadlineMs`, or the call's), AbortSignal
 *   cancellation, and a fresh UUID request id on every mutating call unless one is given;
 * - typed errors (pool-errors.ts); the daemon validates requests, the client only refuses what
 *   the wire cannot carry;
 * - the fd channel handshakes behind the arena calls, and the dups of arena files kept for
 *   reattach (arena-fds.ts);
 * - automatic reattach after a daemon restart (auto-reattach.ts; `autoReattach: false` turns it
 *   off).
 *
 * File descriptors: an fd passed in is borrowed for the call (the client keeps its own
 * close-on-exec dup); a memfd returned is the caller's to close. The dups are closed by
 * `deleteArena` and `close()`. Always `close()` the client: it owns a libuv poll handle.
 *
 * The fd channel is connected on first use (the first arena call), not by `connect`, so that a
 * client that never handles fds (an operator tool) never opens it.
 */
import { randomUUID } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { ArenaFds, type KeptFile } from "./arena-fds.ts";
import { AutoReattach, type ReattachReport } from "./auto-reattach.ts";
import { deadlineAfter, remainingMs } from "./deadline.ts";
import type { FdChannel, FdChannelConnector } from "./fd-channel/fd-channel.ts";
import { FdChannelClient } from "./fd-channel/fd-channel-client.ts";
import type { FdDelivery } from "./fd-channel/fd-delivery.ts";
import { closeFd, isCloexec, isOpenFd } from "@gmempool/sys";
import { abortedError, GrpcChannel, type CallContext } from "./grpc/grpc-channel.ts";
import { errorFromGrpc } from "./grpc/grpc-errors.ts";
import type {
  AllocateRequest,
  ArenaPair,
  ByteRange,
  CallOptions,
  ConvertRequest,
  CreateArenaPairRequest,
  CreateMemfdArenaRequest,
  ForceReleaseTarget,
  FragmentationMapRequest,
  ListLeasesRequest,
  ListRequest,
  MemfdArena,
  Pool,
  ReattachFds,
  RegisterGuestMemfdArenaRequest,
  SetPolicyRequest,
  WatchRequest,
  WatchStream,
} from "./pool.ts";
import { CancelledError, FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError } from "./pool-errors.ts";
import type {
  Arena,
  Capabilities,
  ConvertResult,
  DeleteArenaResult,
  DiscardResult,
  FdType,
  ForceReleaseResult,
  FragmentationMap,
  Lease,
  PolicyView,
  PoolStatus,
  QuotaUsage,
  PopulateResult,
  ReleaseResult,
  SetPolicyResult,
} from "./resources.ts";
import { daemonSockets, defaultRuntimeDir, FD_SOCKET_NAME } from "./runtime-dir.ts";
import { GrpcWatchStream } from "./watch-stream.ts";
import {
  encodeAllocate,
  encodeConvert,
  encodeCreateArenaPair,
  encodeCreateMemfdArena,
  encodeForceRelease,
  encodeRange,
  encodeRegisterGuestMemfdArena,
  encodeSetPolicy,
  encodeWatch,
} from "./wire/request-codec.ts";
import {
  decodeReservations,
  decodeReserveResult,
  decodeUnreserveResult,
  encodeUint64,
  type Reservation,
  type ReserveResult,
  type UnreserveResult,
} from "@gmempool/contract";
import {
  decodeArena,
  decodeCapabilities,
  decodeConvertResult,
  decodeDeleteArenaResult,
  decodeDiscardResult,
  decodeForceReleaseResult,
  decodeFragmentationMap,
  decodeLease,
  decodePolicyView,
  decodePoolStatus,
  decodePopulateResult,
  decodeQuotaUsage,
  decodeReleaseResult,
  decodeSetPolicyResult,
} from "./wire/reply-codec.ts";

export const DEFAULT_DEADLINE_MS = 30_000;
/** Each automatic reattach pass gets at most this long (or the client's deadline, if shorter). */
const REATTACH_PASS_DEADLINE_MS = 10_000;
/** Between two reattach passes a waiting call runs (the daemon is still starting). */
const REATTACH_RETRY_PAUSE_MS = 100;

export interface PoolClientOptions {
  /** Where the daemon's sockets are (default: runtime-dir.ts `defaultRuntimeDir()`). */
  readonly runtimeDir?: string;
  /** The API socket (default: `api.sock` in the runtime directory). */
  readonly apiSocket?: string;
  /** The fd channel socket (default: `fd.sock` beside the API socket). */
  readonly fdSocket?: string;
  /** Every call's deadline unless the call gives its own (default 30 s). */
  readonly deadlineMs?: number;
  /** Reattach this client's arenas by itself after a daemon restart (default true; auto-reattach.ts). */
  readonly autoReattach?: boolean;
}

/**
 * What a call waits out and retries with its own request id, within its own deadline: its arena
 * DETACHED by a restart (a reattach pass cures it), or the daemon unavailable — unreachable
 * (dead, restarting) or answering UNAVAILABLE while it starts or drains. Not an UNAVAILABLE with
 * an error offset (a page stayed pinned): that is the daemon's answer to this request.
 */
function retryable(error: unknown): "reattach" | "wait" | undefined {
  if (error instanceof FailedPreconditionError) return /\bis DETACHED\b/.test(error.details) ? "reattach" : undefined;
  if (error instanceof UnavailableError && error.errorOffsetBytes === undefined) return "wait";
  return undefined;
}

/** An fd must be a non-negative integer to travel in SCM_RIGHTS at all. */
/**
 * The caller's fd (borrowed) must be open here: a closed or made-up number is the caller's bad
 * argument, and sendmsg would only say EBADF, which reads as a channel failure (retry). Worded
 * as the fake and the daemon's fd checks word it, on the fd channel step.
 */
function checkFd(fd: number): void {
  if (!isOpenFd(fd)) throw new InvalidArgumentError(`fd ${fd} is not an open file descriptor (EBADF)`, { operation: "fd channel SEND_FD" });
}

/**
 * How a PoolClient reaches the daemon: the sockets (`PoolClient.connect`), or the test double's
 * in-process transport (test-double/), which serves the same bytes without a socket.
 */
export interface PoolTransport {
  /** Where the daemon's API is, for messages (a socket path). */
  readonly apiSocket: string;
  /** Where its fd channel is. */
  readonly fdSocket: string;
  readonly grpc: GrpcChannel;
  readonly connectFdChannel: FdChannelConnector;
}

export interface PoolClientTuning {
  readonly deadlineMs: number;
  readonly autoReattach: boolean;
}

export class PoolClient implements Pool {
  readonly apiSocket: string;
  readonly fdSocket: string;
  readonly deadlineMs: number;
  readonly autoReattach: boolean;
  readonly #grpc: GrpcChannel;
  readonly #connectFdChannelOf: FdChannelConnector;
  readonly #arenaFds = new ArenaFds();
  readonly #reattach: AutoReattach;
  #channel: FdChannel | undefined;
  #connecting: Promise<FdChannel> | undefined;
  #closed = false;

  /** Use `PoolClient.connect` (or the test double's `FakePoolClient`). */
  protected constructor(transport: PoolTransport, tuning: PoolClientTuning) {
    this.apiSocket = transport.apiSocket;
    this.fdSocket = transport.fdSocket;
    this.deadlineMs = tuning.deadlineMs;
    this.autoReattach = tuning.autoReattach;
    this.#grpc = transport.grpc;
    this.#connectFdChannelOf = transport.connectFdChannel;
    const deadlineMs = tuning.deadlineMs;
    this.#reattach = new AutoReattach(
      this.#arenaFds,
      {
        fdChannel: () => this.#fdChannel(),
        // A pass waits for the daemon to come back (within its deadline) rather than failing fast.
        getPoolStatus: async (deadline) => decodePoolStatus((await this.#grpc.callPool({ operation: "GetPoolStatus", deadline, waitForReady: true }, "GetPoolStatus", {})).status),
        getArena: async (arenaId, deadline) => decodeArena((await this.#grpc.callPool({ operation: "GetArena", deadline, waitForReady: true }, "GetArena", { arenaId })).arena),
        reattachArena: async (arenaId, tokens, deadline) =>
          decodeArena((await this.#grpc.callPool({ operation: "ReattachArena", deadline, waitForReady: true }, "ReattachArena", { requestId: randomUUID(), arenaId, ...tokens })).arena),
      },
      { passDeadlineMs: Math.min(deadlineMs, REATTACH_PASS_DEADLINE_MS) },
    );
  }

  /**
   * Connects to the daemon and checks that it answers (GetCapabilities). Rejects with
   * UnavailableError (`unreachable`, naming the socket) when no daemon is there.
   */
  static async connect(options: PoolClientOptions = {}): Promise<PoolClient> {
    const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    if (!(deadlineMs > 0)) throw new InvalidArgumentError(`deadlineMs must be positive, got ${deadlineMs}`, { operation: "connect" });
    const sockets = daemonSockets(defaultRuntimeDir(options.runtimeDir));
    const apiSocket = resolve(options.apiSocket ?? sockets.apiSocket);
    const fdSocket = resolve(options.fdSocket ?? join(dirname(apiSocket), FD_SOCKET_NAME));
    const transport: PoolTransport = { apiSocket, fdSocket, grpc: new GrpcChannel(apiSocket), connectFdChannel: (o) => FdChannelClient.connect(fdSocket, o) };
    const client = new PoolClient(transport, { deadlineMs, autoReattach: options.autoReattach ?? true });
    try {
      await client.getCapabilities();
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  // ---- calls without fds ----

  async getCapabilities(options?: CallOptions): Promise<Capabilities> {
    const context = this.#context("GetCapabilities", options);
    return decodeCapabilities(await this.#grpc.callPool(context, "GetCapabilities", {}));
  }

  async getPoolStatus(options?: CallOptions): Promise<PoolStatus> {
    const context = this.#context("GetPoolStatus", options);
    const status = decodePoolStatus((await this.#recovering(context, () => this.#grpc.callPool(context, "GetPoolStatus", {}))).status);
    // Another start time than the one seen before: the daemon restarted in between.
    if (this.#reattach.noteStartTime(status.startTime) && this.autoReattach && this.#arenaFds.size > 0) this.#reattach.startLoop();
    return status;
  }

  async getQuotaUsage(options?: CallOptions): Promise<QuotaUsage[]> {
    const context = this.#context("GetPoolStatus", options);
    return (await this.#recovering(context, () => this.#grpc.callPool(context, "GetPoolStatus", {}))).quotas.map(decodeQuotaUsage);
  }

  async deleteArena(arenaId: string, request?: { readonly releaseLeases?: boolean }, options?: CallOptions): Promise<DeleteArenaResult> {
    const context = this.#context("DeleteArena", options);
    const requestId = this.#requestId(options);
    try {
      const result = await this.#recovering(context, () => this.#grpc.callPool(context, "DeleteArena", { requestId, arenaId, releaseLeases: request?.releaseLeases ?? false }));
      this.#arenaFds.forget(arenaId);
      return decodeDeleteArenaResult(result);
    } catch (error) {
      if (error instanceof NotFoundError) this.#arenaFds.forget(arenaId); // gone either way
      throw error;
    }
  }

  async getArena(arenaId: string, options?: CallOptions): Promise<Arena> {
    const context = this.#context("GetArena", options);
    return decodeArena((await this.#recovering(context, () => this.#grpc.callPool(context, "GetArena", { arenaId }))).arena);
  }

  async listArenas(request?: ListRequest, options?: CallOptions): Promise<Arena[]> {
    const context = this.#context("ListArenas", options);
    return (await this.#recovering(context, () => this.#grpc.callPool(context, "ListArenas", { allOwners: request?.allOwners ?? false }))).arenas.map((a) => decodeArena(a));
  }

  async allocate(arenaId: string, request: AllocateRequest, options?: CallOptions): Promise<Lease> {
    const context = this.#context("Allocate", options);
    const wire = encodeAllocate(this.#requestId(options), arenaId, request);
    return decodeLease((await this.#recovering(context, () => this.#grpc.callPool(context, "Allocate", wire))).lease);
  }

  async release(leaseId: string, options?: CallOptions): Promise<ReleaseResult> {
    const context = this.#context("Release", options);
    const requestId = this.#requestId(options);
    return decodeReleaseResult(await this.#recovering(context, () => this.#grpc.callPool(context, "Release", { requestId, leaseId })));
  }

  async discard(arenaId: string, range: ByteRange, options?: CallOptions): Promise<DiscardResult> {
    const context = this.#context("Discard", options);
    const wire = encodeRange(this.#requestId(options), arenaId, range);
    return decodeDiscardResult(await this.#recovering(context, () => this.#grpc.callPool(context, "Discard", wire)));
  }

  async populate(arenaId: string, range: ByteRange, options?: CallOptions): Promise<PopulateResult> {
    const context = this.#context("Populate", options);
    const wire = encodeRange(this.#requestId(options), arenaId, range);
    return decodePopulateResult(await this.#recovering(context, () => this.#grpc.callPool(context, "Populate", wire)));
  }

  async convert(arenaId: string, request: ConvertRequest, options?: CallOptions): Promise<ConvertResult> {
    const context = this.#context("Convert", options);
    const wire = encodeConvert(this.#requestId(options), arenaId, request);
    return decodeConvertResult(await this.#recovering(context, () => this.#grpc.callPool(context, "Convert", wire)));
  }

  async getLease(leaseId: string, options?: CallOptions): Promise<Lease> {
    const context = this.#context("GetLease", options);
    return decodeLease((await this.#recovering(context, () => this.#grpc.callPool(context, "GetLease", { leaseId }))).lease);
  }

  async listLeases(request?: ListLeasesRequest, options?: CallOptions): Promise<Lease[]> {
    const context = this.#context("ListLeases", options);
    const response = await this.#recovering(context, () => this.#grpc.callPool(context, "ListLeases", { arenaId: request?.arenaId ?? "", allOwners: request?.allOwners ?? false }));
    return response.leases.map((l) => decodeLease(l));
  }

  async getFragmentationMap(request?: FragmentationMapRequest, options?: CallOptions): Promise<FragmentationMap> {
    const context = this.#context("GetFragmentationMap", options);
    return decodeFragmentationMap(await this.#recovering(context, () => this.#grpc.callPool(context, "GetFragmentationMap", { arenaId: request?.arenaId ?? "", allOwners: request?.allOwners ?? false })));
  }

  async getPolicy(options?: CallOptions): Promise<PolicyView> {
    const context = this.#context("GetPolicy", options);
    return decodePolicyView(await this.#recovering(context, () => this.#grpc.callPool(context, "GetPolicy", {})));
  }

  async setPolicy(request: SetPolicyRequest, options?: CallOptions): Promise<SetPolicyResult> {
    const context = this.#context("Admin.SetPolicy", options);
    const wire = encodeSetPolicy(this.#requestId(options), request);
    return decodeSetPolicyResult(await this.#recovering(context, () => this.#grpc.callAdmin(context, "SetPolicy", wire)));
  }

  async forceRelease(target: ForceReleaseTarget, options?: CallOptions): Promise<ForceReleaseResult> {
    const context = this.#context("Admin.ForceRelease", options);
    const wire = encodeForceRelease(this.#requestId(options), target);
    const result = decodeForceReleaseResult(await this.#recovering(context, () => this.#grpc.callAdmin(context, "ForceRelease", wire)));
    // What was taken back from this process has no file to reattach any more.
    if ("arenaId" in target) this.#arenaFds.forget(target.arenaId);
    if ("ownerPid" in target && target.ownerPid === process.pid) this.#arenaFds.closeAll();
    return result;
  }

  // ---- reservations (admin; issue 11). Keyed by claim UID, so a retry is safe without a request id.

  /** Ear-marks `sizeBytes` for `claimUid`; the same claim and size return the same token. */
  async reserve(claimUid: string, sizeBytes: bigint, options?: CallOptions): Promise<ReserveResult> {
    const context = this.#context("Admin.Reserve", options);
    const wire = { claimUid, sizeBytes: encodeUint64(sizeBytes, "sizeBytes") };
    return decodeReserveResult(await this.#recovering(context, () => this.#grpc.callAdmin(context, "Reserve", wire)));
  }

  /** Gives the claim's reservation back; `existed` false when there was none. */
  async unreserve(claimUid: string, options?: CallOptions): Promise<UnreserveResult> {
    const context = this.#context("Admin.Unreserve", options);
    return decodeUnreserveResult(await this.#recovering(context, () => this.#grpc.callAdmin(context, "Unreserve", { claimUid })));
  }

  async listReservations(options?: CallOptions): Promise<Reservation[]> {
    const context = this.#context("Admin.ListReservations", options);
    return decodeReservations(await this.#recovering(context, () => this.#grpc.callAdmin(context, "ListReservations", {})));
  }

  watch(request: WatchRequest = {}, options?: Pick<CallOptions, "signal">): WatchStream {
    if (this.#closed) throw new CancelledError("the client is closed", { operation: "Watch" });
    const call = this.#grpc.pool.Watch(encodeWatch(request));
    const untrack = this.#grpc.track(call);
    return new GrpcWatchStream(call, {
      signal: options?.signal,
      convertError: (error) => (this.#closed ? new CancelledError("the client was closed", { operation: "Watch", cause: error }) : errorFromGrpc(error, "Watch", this.apiSocket)),
      onEnd: untrack,
    });
  }

  // ---- calls with fds ----

  async registerGuestMemfdArena(gmemFd: number, request: RegisterGuestMemfdArenaRequest, options?: CallOptions): Promise<Arena> {
    const context = this.#context("RegisterGuestMemfdArena", options);
    checkFd(gmemFd);
    const requestId = this.#requestId(options);
    return this.#withSentFd(context, gmemFd, "guest_memfd", async (token) => {
      const response = await this.#grpc.callPool(context, "RegisterGuestMemfdArena", encodeRegisterGuestMemfdArena(requestId, token, request));
      const arena = decodeArena(response.arena);
      this.#keep(arena.arenaId, [{ fdType: "guest_memfd", fd: gmemFd }]);
      return arena;
    });
  }

  async createMemfdArena(request: CreateMemfdArenaRequest, options?: CallOptions): Promise<MemfdArena> {
    const context = this.#context("CreateMemfdArena", options);
    const requestId = this.#requestId(options);
    return this.#recovering(context, async () => {
      const channel = await this.#fdChannel();
      this.#checkAborted(context);
      const delivery = await channel.receiveFd(context.deadline);
      return this.#withDelivery(channel, delivery, context, async (take) => {
        const response = await this.#grpc.callPool(context, "CreateMemfdArena", encodeCreateMemfdArena(requestId, delivery.token, request));
        const memfd = await take();
        const arena = decodeArena(response.arena);
        this.#keep(arena.arenaId, [{ fdType: memfd.fdType, fd: memfd.fd }]);
        return { arena, memfd: memfd.fd };
      });
    });
  }

  async createArenaPair(gmemFd: number, request: CreateArenaPairRequest, options?: CallOptions): Promise<ArenaPair> {
    const context = this.#context("CreateArenaPair", options);
    checkFd(gmemFd);
    const requestId = this.#requestId(options);
    return this.#recovering(context, async () => {
      const channel = await this.#fdChannel();
      this.#checkAborted(context);
      const sent = await channel.sendFd(gmemFd, "guest_memfd", context.deadline);
      let delivery: FdDelivery;
      try {
        delivery = await channel.receiveFd(context.deadline);
      } catch (error) {
        this.#cancelToken(channel, sent.token);
        throw error;
      }
      try {
        return await this.#withDelivery(channel, delivery, context, async (take) => {
          const response = await this.#grpc.callPool(context, "CreateArenaPair", encodeCreateArenaPair(requestId, sent.token, delivery.token, request));
          const memfd = await take();
          const arena = decodeArena(response.arena);
          this.#keep(arena.arenaId, [
            { fdType: "guest_memfd", fd: gmemFd },
            { fdType: memfd.fdType, fd: memfd.fd },
          ]);
          return { arena, memfd: memfd.fd };
        });
      } catch (error) {
        this.#cancelToken(channel, sent.token);
        throw error;
      }
    });
  }

  async handOverArena(arenaId: string, ownerPidfd: number, options?: CallOptions): Promise<Arena> {
    const context = this.#context("HandOverArena", options);
    checkFd(ownerPidfd);
    const requestId = this.#requestId(options);
    return this.#withSentFd(context, ownerPidfd, "pidfd", async (token) => {
      const response = await this.#grpc.callPool(context, "HandOverArena", { requestId, arenaId, ownerPidfdToken: token });
      // Not ours any more: the new owner, not this client, reattaches it after a restart.
      this.#arenaFds.forget(arenaId);
      return decodeArena(response.arena);
    });
  }

  async reattachArena(arenaId: string, fds: ReattachFds, options?: CallOptions): Promise<Arena> {
    const context = this.#context("ReattachArena", options);
    if (fds.gmemFd !== undefined) checkFd(fds.gmemFd);
    if (fds.memfd !== undefined) checkFd(fds.memfd);
    const requestId = this.#requestId(options);
    return this.#recovering(context, async () => {
      const files: { fdType: FdType; fd: number }[] = [];
      if (fds.gmemFd !== undefined) files.push({ fdType: "guest_memfd", fd: fds.gmemFd });
      if (fds.memfd !== undefined) files.push({ fdType: await this.#memfdType(arenaId, context), fd: fds.memfd });
      const channel = await this.#fdChannel();
      this.#checkAborted(context);
      const tokens: { gmemFdToken?: Buffer; memfdFdToken?: Buffer } = {};
      try {
        for (const file of files) {
          const sent = await channel.sendFd(file.fd, file.fdType, context.deadline);
          if (file.fdType === "guest_memfd") tokens.gmemFdToken = sent.token;
          else tokens.memfdFdToken = sent.token;
        }
        const arena = decodeArena((await this.#grpc.callPool(context, "ReattachArena", { requestId, arenaId, ...tokens })).arena);
        this.#keep(arena.arenaId, files);
        return arena;
      } catch (error) {
        for (const token of Object.values(tokens)) this.#cancelToken(channel, token);
        throw error;
      }
    });
  }

  /**
   * Runs one reattach pass now (auto-reattach.ts) and reports what it did; for callers that
   * turned `autoReattach` off, or that want to know the arenas are ACTIVE before going on.
   */
  reattachNow(): Promise<ReattachReport> {
    return this.#reattach.run();
  }

  /**
   * Checks the invariants (tests): every kept fd is open, close-on-exec and kept once; a closed
   * client keeps no fd and has no fd channel connection.
   */
  assertInvariants(): void {
    this.#arenaFds.assertInvariants();
    for (const arenaId of this.#arenaFds.arenaIds()) {
      for (const file of this.#arenaFds.files(arenaId) ?? []) {
        if (!isCloexec(file.fd)) throw new Error(`arena ${arenaId}: kept fd ${file.fd} is not close-on-exec`);
      }
    }
    if (this.#closed && (this.#arenaFds.size > 0 || this.#channel !== undefined)) throw new Error("a closed client still holds fds or an fd channel connection");
  }

  /** Closes connections and the fds the client kept; pending calls reject with CancelledError. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reattach.close();
    this.#grpc.close();
    this.#channel?.close();
    this.#channel = undefined;
    this.#arenaFds.closeAll();
  }

  // ---- plumbing ----

  #context(operation: string, options: CallOptions | undefined): CallContext {
    const deadlineMs = options?.deadlineMs ?? this.deadlineMs;
    return { operation, deadline: deadlineAfter(deadlineMs), signal: options?.signal };
  }

  #requestId(options: CallOptions | undefined): string {
    return options?.requestId ?? randomUUID();
  }

  #checkAborted(context: CallContext): void {
    if (this.#closed) throw new CancelledError("the client is closed", { operation: context.operation });
    if (context.signal?.aborted === true) throw abortedError(context.operation);
  }

  /**
   * Runs `attempt` until it succeeds, fails for good, or the call's deadline comes: a failure
   * `retryable` says time can cure is waited out — a reattach pass when the client holds arenas
   * (and autoReattach is on), else a short pause — and the attempt runs again. The attempt closes
   * over its request (same request id: a mutation that did happen replays its first result) and
   * its context (same deadline). Past the deadline the last error is thrown (issue 12: calls in
   * flight at a daemon kill used to fail at once).
   */
  async #recovering<T>(context: CallContext, attempt: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        const cure = retryable(error);
        if (cure === undefined || this.#isClosed() || context.signal?.aborted === true) throw error;
        if (cure === "reattach" && !this.autoReattach) throw error;
        if (remainingMs(context.deadline) <= REATTACH_RETRY_PAUSE_MS) throw error;
        const reattach = this.autoReattach && (cure === "reattach" || this.#arenaFds.size > 0);
        if (!(await this.#waitOut(context, reattach))) throw error;
      }
    }
  }

  /**
   * Waits until a retry may help, within the call's deadline: one reattach pass (shared, with its
   * own deadline), or a pause. False when the deadline came first.
   */
  async #waitOut(context: CallContext, reattach: boolean): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const outOfTime = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), remainingMs(context.deadline));
    });
    const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, REATTACH_RETRY_PAUSE_MS));
    try {
      const waited = reattach ? this.#reattach.run().then(() => "done" as const, pause) : pause();
      return (await Promise.race([waited, outOfTime])) !== "late";
    } finally {
      clearTimeout(timer);
    }
  }

  /** Read afresh (close() may run while a call awaits). */
  #isClosed(): boolean {
    return this.#closed;
  }

  /** The open fd channel connection, or a new one (one connect at a time). */
  #fdChannel(): Promise<FdChannel> {
    if (this.#closed) return Promise.reject(new CancelledError("the client is closed", { operation: "fd channel" }));
    const open = this.#channel;
    if (open !== undefined && !open.closed) return Promise.resolve(open);
    this.#connecting ??= this.#connectFdChannel().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #connectFdChannel(): Promise<FdChannel> {
    let channel: FdChannel | undefined = undefined;
    channel = await this.#connectFdChannelOf({
      onClose: () => {
        if (channel === this.#channel) this.#onFdChannelClosed();
      },
    });
    if (this.#closed) {
      channel.close();
      throw new CancelledError("the client was closed while connecting the fd channel", { operation: "fd channel" });
    }
    this.#channel = channel;
    return channel;
  }

  /** The daemon closed our fd channel connection: it died or restarted (or we broke the protocol). */
  #onFdChannelClosed(): void {
    this.#channel = undefined;
    if (this.autoReattach && !this.#closed && this.#arenaFds.size > 0) this.#reattach.startLoop();
  }

  /**
   * Runs `body` for a RECEIVE_FD delivery: `take` waits for the fd (ownership to the body, which
   * returns it to the caller). If the body fails, the fd (delivered or not yet) is closed and the
   * token cancelled: the gRPC status is authoritative (docs/api.md).
   */
  async #withDelivery<T>(channel: FdChannel, delivery: FdDelivery, context: CallContext, body: (take: () => Promise<{ fd: number; fdType: FdType }>) => Promise<T>): Promise<T> {
    let taken: number | undefined;
    try {
      return await body(async () => {
        const delivered = await delivery.take(context.deadline, context.operation);
        taken = delivered.fd;
        return delivered;
      });
    } catch (error) {
      if (taken !== undefined) closeFd(taken);
      delivery.abandon();
      this.#cancelToken(channel, delivery.token);
      throw error;
    } finally {
      channel.forget(delivery);
    }
  }

  /** Revokes a token the daemon may still hold (after a failed call); its reply does not matter. */
  #cancelToken(channel: FdChannel, token: Buffer): void {
    if (channel.closed) return;
    channel.cancel(token, deadlineAfter(this.deadlineMs)).catch(() => undefined);
  }

  /**
   * Keeps dups of an arena's files for reattach. If the dup fails (EMFILE), the arena still
   * exists and is the caller's: only its automatic reattach is lost, so the call still succeeds.
   */
  #keep(arenaId: string, files: readonly KeptFile[]): void {
    try {
      this.#arenaFds.keepDups(arenaId, files);
    } catch {
      // See above: ReattachArena with the caller's own fds remains possible.
    }
  }

  /** The fd type of an arena's memfd: kept, else from the daemon's record. */
  /** One fd sent (SEND_FD) and the call naming its token, retried as a whole; a failed call cancels the token. */
  #withSentFd<T>(context: CallContext, fd: number, fdType: FdType, call: (token: Buffer) => Promise<T>): Promise<T> {
    return this.#recovering(context, async () => {
      const channel = await this.#fdChannel();
      this.#checkAborted(context);
      const sent = await channel.sendFd(fd, fdType, context.deadline);
      try {
        return await call(sent.token);
      } catch (error) {
        this.#cancelToken(channel, sent.token);
        throw error;
      }
    });
  }

  async #memfdType(arenaId: string, context: CallContext): Promise<FdType> {
    const kept = this.#arenaFds.files(arenaId)?.find((f) => f.fdType !== "guest_memfd");
    if (kept !== undefined) return kept.fdType;
    const arena = decodeArena((await this.#grpc.callPool(context, "GetArena", { arenaId })).arena);
    return arena.files.find((f) => f.fdType !== "guest_memfd")?.fdType ?? "memfd_shmem";
  }
}
