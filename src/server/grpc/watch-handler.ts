/**
 * Pool.Watch: streams the daemon's WatchStream to the client. The daemon decides what the
 * stream carries and when it ends (pool-service.ts WatchStream); this side only encodes, honours
 * the client's flow control (it stops pulling events while grpc-js's buffer is full, so a
 * consumer that does not read falls behind in the daemon's buffer and is ended there with
 * RESOURCE_EXHAUSTED), and closes the daemon's stream when the client cancels.
 *
 * Shutdown: the daemon's drain() ends every stream with UNAVAILABLE after a "draining"
 * pool-status; `endAll` ends whatever is still open the same way before grpc-js's tryShutdown,
 * which would otherwise wait for server streams forever (grpc/grpc-node#3068).
 */
import { once } from "node:events";
import { status, type ServerWritableStream } from "@grpc/grpc-js";
import { type PoolReader, type WatchRequest as ServiceWatchRequest, type PoolEventKind, type WatchStream } from "../../daemon/pool-service.ts";
import { GmempoolError } from "../../pool/errors.ts";
import { statusForError } from "../error-status.ts";
import { decodedRequest } from "../request-decoding.ts";
import type { WatchRequest__Output } from "@gmempool/contract/generated/gmempool/v1/WatchRequest";
import type { WatchResponse } from "@gmempool/contract/generated/gmempool/v1/WatchResponse";
import { POOL_EVENT_KIND, encodePoolEvent } from "@gmempool/contract";
import { admitted, statusName, type HandlerContext } from "./handler-context.ts";

type WatchCall = ServerWritableStream<WatchRequest__Output, WatchResponse>;

export function decodeWatchRequest(request: WatchRequest__Output): ServiceWatchRequest {
  const kinds: PoolEventKind[] = request.kinds.map((k, i) => {
    const kind = POOL_EVENT_KIND.decode(k, `kinds[${i}]`);
    if (kind === undefined) throw new GmempoolError("invalid-argument", `kinds[${i}] is POOL_EVENT_KIND_UNSPECIFIED; name the kinds to watch, or none for all`);
    return kind;
  });
  return { arenaId: request.arenaId, kinds, allOwners: request.allOwners };
}

export class WatchRegistry {
  readonly #context: HandlerContext<PoolReader>;
  /** Open streams -> the daemon's stream each reads. */
  readonly #open = new Map<WatchCall, WatchStream>();
  /** Set by endAll: the message every later stream is ended with. */
  #endedWith: string | undefined;

  constructor(context: HandlerContext<PoolReader>) {
    this.#context = context;
  }

  get size(): number {
    return this.#open.size;
  }

  serve(call: WatchCall): void {
    const started = process.hrtime.bigint();
    let finished = false;
    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      this.#context.metrics?.observeRpc("Watch", statusName(code), Number(process.hrtime.bigint() - started) / 1e9);
    };
    const fail = (error: unknown): void => {
      const failure = statusForError(error);
      finish(failure.code);
      call.emit("error", failure);
    };
    admitted(this.#context, "Watch", call, finish, fail, (caller) => {
      // A stream the admission queue held past endAll would keep the server's shutdown waiting.
      if (this.#endedWith !== undefined) {
        finish(status.UNAVAILABLE);
        call.emit("error", { code: status.UNAVAILABLE, details: this.#endedWith });
        return;
      }
      let watch: WatchStream;
      try {
        watch = this.#context.service.watch(caller, decodeWatchRequest(decodedRequest(call.request)));
      } catch (error) {
        fail(error);
        return;
      }
      this.#stream(call, watch, finish);
    });
  }

  /** Writes the daemon's events to the call until either ends. */
  #stream(call: WatchCall, watch: WatchStream, finish: (code: number) => void): void {
    this.#open.set(call, watch);
    call.on("cancelled", () => {
      watch.close();
    });
    void (async () => {
      try {
        for await (const event of watch) {
          if (call.cancelled || !this.#open.has(call)) break;
          if (!call.write(encodePoolEvent(event))) {
            await Promise.race([once(call, "drain"), once(call, "cancelled"), once(call, "close")]);
          }
        }
        if (call.cancelled) finish(status.CANCELLED);
        else if (this.#open.has(call)) {
          finish(status.OK);
          call.end();
        } else finish(status.UNAVAILABLE); // ended by endAll
      } catch (error) {
        const failure = statusForError(error);
        if (call.cancelled) finish(status.CANCELLED);
        else if (this.#open.has(call)) {
          finish(failure.code);
          call.emit("error", failure);
        }
      } finally {
        watch.close();
        this.#open.delete(call);
      }
    })();
  }

  /** Ends every open stream with UNAVAILABLE (shutdown, after the daemon's drain). */
  endAll(message = "the daemon is shutting down; reconnect with backoff"): void {
    this.#endedWith = message;
    for (const [call, watch] of [...this.#open]) {
      this.#open.delete(call);
      watch.close();
      if (!call.cancelled) call.emit("error", { code: status.UNAVAILABLE, details: message });
    }
  }
}
