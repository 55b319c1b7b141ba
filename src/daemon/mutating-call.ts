/**
 * The gate every mutating RPC passes before its transaction: the daemon takes changes, the
 * request id is well formed, a retry of a recorded success replays it (pool.proto,
 * Idempotency), and a call with a request id runs as the only one in flight for that id.
 */
import { toGmempoolError } from "./error-classification.ts";
import type { DaemonContext } from "./daemon-context.ts";
import { requireServing } from "./access-checks.ts";
import { IdempotencyStore } from "./idempotency.ts";
import type { Caller, MutatingRequest, MutatingResult } from "./pool-service.ts";
import { decodeTagged } from "./tagged-json.ts";
import { NO_IDEM, type IdemSlot } from "./transaction-runner.ts";

/**
 * Runs `body` as the mutating call `rpc`. `fields` are the request's identifying fields (not
 * its fds) for the idempotency fingerprint; `replay` redoes what a replay must redo (deliver a
 * memfd again). Every error leaving it is a GmempoolError.
 */
export async function mutatingCall<R extends object>(
  ctx: DaemonContext,
  caller: Caller,
  rpc: string,
  request: MutatingRequest,
  fields: object,
  body: (idem: IdemSlot) => Promise<R>,
  replay?: (result: R) => Promise<void>,
): Promise<R & MutatingResult> {
  try {
    requireServing(ctx);
    IdempotencyStore.validateRequestId(request.requestId);
    if (request.requestId === "") return { ...(await body(NO_IDEM)), replayed: false };
    const store = ctx.idempotency;
    const key = IdempotencyStore.key(caller, request.requestId);
    const fingerprint = IdempotencyStore.fingerprint({ rpc, ...fields });
    return await store.exclusive(key, async () => {
      const recorded = store.lookup(key, fingerprint, rpc, request.requestId);
      if (recorded !== undefined) {
        const result = decodeTagged(recorded.result) as R;
        await replay?.(result);
        return { ...result, replayed: true };
      }
      const slot: IdemSlot = {
        entry: (result) => {
          const entry = store.makeEntry(key, fingerprint, result);
          store.record(entry);
          return entry;
        },
      };
      return { ...(await body(slot)), replayed: false };
    });
  } catch (error) {
    throw toGmempoolError(error);
  }
}
