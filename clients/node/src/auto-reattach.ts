/**
 * Re-registration after a daemon restart (PoolClient's `autoReattach`, on by default).
 *
 * A daemon that restarts without the systemd fd store rebuilds its arenas and leases from the
 * journal, but their files died with it: every arena comes back DETACHED until its owner sends
 * its fd(s) again with ReattachArena (docs/daemon.md "Reattach"). The daemon knows the owner by
 * pid and process start time, so only this process can do it, and the client does it with the
 * dups it kept (arena-fds.ts).
 *
 * One pass (`run`, single-flight: concurrent callers share the pass in progress):
 *   1. GetPoolStatus, to learn the daemon's start time (and fail while it is still starting);
 *   2. connect the fd channel if it is not (a new connection: tokens die with the old one);
 *   3. for each kept arena, oldest first: GetArena; NOT_FOUND → the arena is gone (deleted,
 *      force-released): close its dups; not DETACHED → nothing to do; DETACHED → SEND_FD each
 *      kept file, ReattachArena with the tokens (a fresh request id).
 * An UnavailableError (daemon down or starting) or a deadline aborts the pass and is thrown; any
 * other failure of one arena (its file no longer matches, say) is reported in the result and the
 * pass goes on with the next arena.
 *
 * When passes run:
 * - in the background, when the fd channel connection closes by the daemon's doing (it died or
 *   restarted) and the client holds arenas: a pass at once, then again after 50 ms, 100 ms, ...
 *   (doubling, at most 1 s) while passes fail with UnavailableError or a deadline, until one
 *   completes or the client is closed. Timers are unref'd: they never keep a process alive.
 * - when GetPoolStatus shows a start time other than the one last seen (background, as above);
 * - when a call fails with FAILED_PRECONDITION naming a DETACHED arena, or (for a client that
 *   holds arenas) with an unreachable UnavailableError: the call awaits one pass, but no longer
 *   than its own deadline, and if the pass completed, is retried once with the same request id
 *   (so a call that did complete before the restart is not done twice). A pass's RPCs wait for
 *   the daemon to answer (gRPC waitForReady) within the pass's deadline, so a call made while the
 *   daemon restarts completes once it is back; a client without arenas (an operator tool) fails
 *   fast with UnavailableError instead.
 */
import type { FdChannel } from "./fd-channel/fd-channel.ts";
import { deadlineAfter } from "./deadline.ts";
import type { ArenaFds } from "./arena-fds.ts";
import { DeadlineExceededError, InternalError, isPoolError, NotFoundError, UnavailableError, type PoolError } from "./pool-errors.ts";
import type { Arena, PoolStatus } from "./resources.ts";

/** What a pass needs from the client. Every method rejects with a PoolError. */
export interface ReattachPort {
  /** The fd channel, connecting a new connection if there is none open. */
  fdChannel(deadline: number): Promise<FdChannel>;
  getPoolStatus(deadline: number): Promise<PoolStatus>;
  getArena(arenaId: string, deadline: number): Promise<Arena>;
  reattachArena(arenaId: string, tokens: { readonly gmemFdToken?: Buffer; readonly memfdFdToken?: Buffer }, deadline: number): Promise<Arena>;
}

export interface ReattachReport {
  /** Arenas made ACTIVE again by this pass. */
  readonly reattached: readonly string[];
  /** Arenas the daemon no longer has: their kept fds were closed. */
  readonly forgotten: readonly string[];
  /** Arenas that stay DETACHED, with why. */
  readonly failed: readonly { readonly arenaId: string; readonly error: PoolError }[];
  readonly daemonStartTime: Date | undefined;
}

export interface AutoReattachOptions {
  /** Deadline of each pass (all its steps). */
  readonly passDeadlineMs: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

const isRetryable = (error: unknown): boolean => error instanceof UnavailableError || error instanceof DeadlineExceededError;

export class AutoReattach {
  readonly #fds: ArenaFds;
  readonly #port: ReattachPort;
  readonly #options: Required<AutoReattachOptions>;
  #pass: Promise<ReattachReport> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #looping = false;
  #closed = false;
  #startTime: Date | undefined;
  #last: ReattachReport | undefined;
  #lastError: unknown;

  constructor(fds: ArenaFds, port: ReattachPort, options: AutoReattachOptions) {
    this.#fds = fds;
    this.#port = port;
    this.#options = { minBackoffMs: 50, maxBackoffMs: 1000, ...options };
  }

  /** The last completed pass's report. */
  get lastReport(): ReattachReport | undefined {
    return this.#last;
  }

  /** Why the last pass failed (undefined after a completed one). */
  get lastError(): unknown {
    return this.#lastError;
  }

  /** True while background passes are scheduled. */
  get looping(): boolean {
    return this.#looping;
  }

  /**
   * Notes a start time the daemon reported; true if it differs from the one seen before (the
   * daemon restarted in between).
   */
  noteStartTime(startTime: Date | undefined): boolean {
    if (startTime === undefined) return false;
    const previous = this.#startTime;
    this.#startTime = startTime;
    return previous !== undefined && previous.getTime() !== startTime.getTime();
  }

  /** One pass now (or the one in progress). */
  run(): Promise<ReattachReport> {
    if (this.#closed) return Promise.reject(new UnavailableError("the client is closed", { operation: "reattach" }));
    this.#pass ??= this.#runPass().finally(() => {
      this.#pass = undefined;
    });
    return this.#pass;
  }

  /** Background passes until one completes (see the file comment). Idempotent while looping. */
  startLoop(): void {
    if (this.#closed || this.#looping) return;
    this.#looping = true;
    this.#loop(this.#options.minBackoffMs);
  }

  close(): void {
    this.#closed = true;
    this.#looping = false;
    clearTimeout(this.#timer);
  }

  #loop(backoffMs: number): void {
    if (!this.#looping || this.#closed) return;
    this.run().then(
      () => {
        this.#looping = false;
      },
      (error: unknown) => {
        if (!isRetryable(error) || this.#closed) {
          this.#looping = false;
          return;
        }
        this.#timer = setTimeout(() => this.#loop(Math.min(backoffMs * 2, this.#options.maxBackoffMs)), backoffMs);
        this.#timer.unref();
      },
    );
  }

  async #runPass(): Promise<ReattachReport> {
    const deadline = deadlineAfter(this.#options.passDeadlineMs);
    try {
      const report = await this.#pass1(deadline);
      this.#last = report;
      this.#lastError = undefined;
      return report;
    } catch (error) {
      this.#lastError = error;
      throw error;
    }
  }

  async #pass1(deadline: number): Promise<ReattachReport> {
    const reattached: string[] = [];
    const forgotten: string[] = [];
    const failed: { arenaId: string; error: PoolError }[] = [];
    const status = await this.#port.getPoolStatus(deadline);
    this.noteStartTime(status.startTime);
    if (status.servingState === "starting") throw new UnavailableError("the daemon is still starting", { operation: "reattach" });
    if (this.#fds.size === 0) return { reattached, forgotten, failed, daemonStartTime: status.startTime };
    const channel = await this.#port.fdChannel(deadline);
    for (const arenaId of this.#fds.arenaIds()) {
      const files = this.#fds.files(arenaId);
      if (files === undefined) continue; // deleted while this pass ran
      try {
        const arena = await this.#port.getArena(arenaId, deadline);
        if (arena.state !== "detached") continue;
        const tokens: { gmemFdToken?: Buffer; memfdFdToken?: Buffer } = {};
        try {
          for (const file of files) {
            const sent = await channel.sendFd(file.fd, file.fdType, deadline);
            if (file.fdType === "guest_memfd") tokens.gmemFdToken = sent.token;
            else tokens.memfdFdToken = sent.token;
          }
          await this.#port.reattachArena(arenaId, tokens, deadline);
        } catch (error) {
          // Tokens not consumed would hold the daemon's copies of our fds until their TTL.
          for (const token of Object.values(tokens)) channel.cancel(token, deadline).catch(() => undefined);
          throw error;
        }
        reattached.push(arenaId);
      } catch (error) {
        if (isRetryable(error)) throw error;
        if (error instanceof NotFoundError && error.operation === "GetArena") {
          this.#fds.forget(arenaId);
          forgotten.push(arenaId);
          continue;
        }
        failed.push({ arenaId, error: isPoolError(error) ? error : new InternalError(error instanceof Error ? error.message : String(error), { operation: "reattach", cause: error }) });
      }
    }
    return { reattached, forgotten, failed, daemonStartTime: status.startTime };
  }
}
