/**
 * One expected FD_DELIVERY: the fd the daemon sends on the fd channel while the gRPC call that
 * names a RECEIVE_FD token runs (CreateMemfdArena, CreateArenaPair). docs/api.md: "the gRPC
 * status is authoritative" — the fd is the caller's only if the call succeeded, so whoever
 * made the call either `take`s the fd (after OK) or `abandon`s the delivery (after a failure),
 * which closes an fd that came or that comes later.
 *
 * Ownership: a delivered fd belongs to this object until `take` hands it over; after `abandon`
 * (or a failure of the channel) no fd is kept.
 *
 * Invariants: `#fd` is set only in state "delivered"; a waiter exists only in state "waiting".
 */
import { DeadlineExceededError, UnavailableError } from "../pool-errors.ts";
import type { FdType } from "../resources.ts";
import { remainingMs } from "../deadline.ts";
import { closeFd } from "@gmempool/sys";

export interface DeliveredFd {
  /** Owned by whoever called `take`. Close-on-exec (MSG_CMSG_CLOEXEC). */
  readonly fd: number;
  readonly fdType: FdType;
  readonly sizeBytes: bigint;
}

type State = "waiting" | "delivered" | "taken" | "abandoned" | "failed";

export class FdDelivery {
  /** The RECEIVE_FD token (16 bytes) the gRPC call names. */
  readonly token: Buffer;
  #state: State = "waiting";
  #fd: DeliveredFd | undefined;
  #failure: Error | undefined;
  #waiter: ((outcome: DeliveredFd | Error) => void) | undefined;

  constructor(token: Buffer) {
    this.token = token;
  }

  get state(): State {
    return this.#state;
  }

  /** The channel received the fd (ownership passes to this object). */
  deliver(fd: DeliveredFd): void {
    if (this.#state !== "waiting") {
      closeFd(fd.fd); // nobody wants it any more, or a second delivery: not ours to keep
      return;
    }
    this.#state = "delivered";
    this.#fd = fd;
    this.#notify(fd);
  }

  /** The channel failed before the fd came. */
  fail(error: Error): void {
    if (this.#state !== "waiting") return;
    this.#state = "failed";
    this.#failure = error;
    this.#notify(error);
  }

  /**
   * The fd, once delivered; ownership passes to the caller. The daemon sends the delivery before
   * its gRPC reply, but the two arrive on different sockets, so after an OK the fd may still be
   * in flight for a moment: this waits until `deadline` (absolute ms).
   */
  take(deadline: number, operation: string): Promise<DeliveredFd> {
    const claim = (outcome: DeliveredFd | Error): DeliveredFd => {
      if (outcome instanceof Error) throw outcome;
      this.#state = "taken";
      this.#fd = undefined;
      return outcome;
    };
    if (this.#state === "delivered" && this.#fd !== undefined) return Promise.resolve(claim(this.#fd));
    if (this.#state !== "waiting") return Promise.reject(this.#failure ?? new UnavailableError(`the delivery of token ${this.token.toString("hex")} is ${this.#state}`, { operation }));
    return new Promise<DeliveredFd>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new DeadlineExceededError("the daemon answered OK but its fd did not arrive on the fd channel before the deadline", { operation }));
      }, remainingMs(deadline));
      this.#waiter = (outcome) => {
        clearTimeout(timer);
        try {
          resolve(claim(outcome));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      };
    });
  }

  /** The call failed (or the fd is not wanted): close the fd if it came, and any that comes later. */
  abandon(): void {
    if (this.#state === "delivered" && this.#fd !== undefined) closeFd(this.#fd.fd);
    this.#fd = undefined;
    if (this.#state === "waiting" || this.#state === "delivered") this.#state = "abandoned";
  }

  #notify(outcome: DeliveredFd | Error): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.(outcome);
  }
}
