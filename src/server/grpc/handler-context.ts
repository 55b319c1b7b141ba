/**
 * What every handler shares, and the one wrapper every unary handler goes through: find the
 * caller, decode, call ONE service method, encode — or map what was thrown with the one
 * error table (error-status.ts). The wrapper also records the call's latency by method and
 * status code, and sets `gmempool-replayed: true` on a replayed idempotent result.
 *
 * Deadlines and cancellation: grpc-js answers DEADLINE_EXCEEDED / CANCELLED to the client by
 * itself. A call already cancelled when its handler starts, or when the admission queue gets to
 * it, is not started; one that is running
 * is left to finish (the daemon's mutations are atomic and journaled; a retry with the same
 * request_id tells the client what happened — pool.proto, "Status codes every RPC may return").
 */
import { Metadata, status, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { phaseTimer } from "../../daemon/phase-timer.ts";
import type { Caller, PoolService } from "../../daemon/pool-service.ts";
import { statusForError } from "../error-status.ts";
import { decodedRequest } from "../request-decoding.ts";
import type { FdTokenTable } from "../fd-channel/fd-token-table.ts";
import type { ConnectionCallers } from "./connection-callers.ts";
import type { TurnQueue } from "./turn-queue.ts";
import { REPLAYED_METADATA_KEY } from "@gmempool/contract";

/** The transport's own parameters that GetCapabilities reports next to the daemon's. */
export interface TransportCapabilities {
  readonly fdSocketPath: string;
  readonly fdChannelVersion: number;
  readonly fdTokenTtlMs: number;
  readonly maxPendingFdTokens: number;
  readonly maxRequestMessageBytes: number;
}

/** What handlers report of each call (ServerMetrics, metrics.ts; absent in-process). */
export interface RpcObserver {
  observeRpc(method: string, code: string, seconds: number): void;
}

/** What handlers share; `S` is the service roles a group of handlers calls. */
export interface HandlerContext<S = PoolService> {
  readonly service: S;
  readonly tokens: FdTokenTable;
  readonly callers: ConnectionCallers;
  /**
   * Where every call starts (turn-queue.ts): at once while this loop turn has budget, otherwise
   * in a later turn, each caller's uid taking its turn.
   */
  readonly admission: TurnQueue<number>;
  readonly metrics: RpcObserver | undefined;
  readonly logger: Logger;
  readonly transport: TransportCapabilities;
}

/** A handler's answer: the response, and whether the daemon replayed an earlier result. */
export interface UnaryAnswer<Res> {
  readonly response: Res;
  readonly replayed?: boolean;
}


/**
 * A part of a call that holds the event loop longer than this is logged as a warning, with its
 * method, the part and the time: issue 12's bound (no request blocks the loop > 10 ms), checked
 * on every call, and counted by bench flood.
 */
export const CALL_LOOP_HOLD_WARN_MS = 10;
/** The warning's message (its fields: method, part, heldMs). */
export const CALL_LOOP_HOLD_MESSAGE = "a call held the event loop";

/**
 * The parts of a call that run as tasks of their own: the request's decode (grpc-js runs it
 * before the handler), the call's start (the handler, the service's synchronous work, and the
 * answer's encoding when the answer is ready then), and an answer that comes later (its
 * encoding and the write to grpc-js, after the service's kernel work).
 */
export type CallPart = "decode" | "start" | "answer";

/** Logs `part` of a call of `method` that held the loop `heldMs`, if that is over CALL_LOOP_HOLD_WARN_MS. */
export function warnIfHeld(logger: Logger, method: string, part: CallPart, heldMs: number): void {
  if (heldMs > CALL_LOOP_HOLD_WARN_MS) logger.warn({ method, part, heldMs: Math.round(heldMs * 10) / 10 }, CALL_LOOP_HOLD_MESSAGE);
}

/** Runs `part` of a call, and logs it if it held the loop over CALL_LOOP_HOLD_WARN_MS. */
function holding(context: HandlerContext<unknown>, method: string, part: CallPart, run: () => void): void {
  const started = performance.now();
  try {
    run();
  } finally {
    warnIfHeld(context.logger, method, part, performance.now() - started);
  }
}

const STATUS_NAME = new Map<number, string>(Object.entries(status).filter((e): e is [string, number] => typeof e[1] === "number").map(([name, code]) => [code, name]));

export function statusName(code: number): string {
  return STATUS_NAME.get(code) ?? String(code);
}

/**
 * Wraps `run` as a grpc-js unary handler. `run` may be sync or async; whatever it throws
 * becomes a status through statusForError. It starts through the admission queue.
 */
export function unaryHandler<Req, Res>(
  context: HandlerContext<unknown>,
  method: string,
  run: (caller: Caller, request: Req) => UnaryAnswer<Res> | Promise<UnaryAnswer<Res>>,
): (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void {
  return (call, callback) => {
    const started = process.hrtime.bigint();
    const timerStart = phaseTimer?.now() ?? 0;
    const finish = (code: number): void => {
      context.metrics?.observeRpc(method, statusName(code), Number(process.hrtime.bigint() - started) / 1e9);
      // Debug only (phase-timer.ts): handler entry to the answer handed to grpc-js.
      phaseTimer?.record(method, "server", timerStart);
    };
    const fail = (error: unknown): void => {
      const failure = statusForError(error);
      if (failure.code === status.INTERNAL) context.logger.error({ err: error, method }, "internal error");
      finish(failure.code);
      callback(failure);
    };
    const succeed = (answer: UnaryAnswer<Res>): void => {
      if (answer.replayed === true) {
        const metadata = new Metadata();
        metadata.set(REPLAYED_METADATA_KEY, "true");
        call.sendMetadata(metadata);
      }
      finish(status.OK);
      callback(null, answer.response);
    };
    admitted(context, method, call, finish, fail, (caller) => {
      let answer: UnaryAnswer<Res> | Promise<UnaryAnswer<Res>>;
      try {
        // The transaction runner reads the RPC's name while `run` is synchronous (phase-timer.ts).
        if (phaseTimer !== undefined) phaseTimer.rpc = method;
        answer = run(caller, decodedRequest(call.request));
      } catch (error) {
        fail(error);
        return;
      } finally {
        if (phaseTimer !== undefined) phaseTimer.rpc = "-";
      }
      if (answer instanceof Promise) {
        answer.then(
          (later) => holding(context, method, "answer", () => succeed(later)),
          (error: unknown) => holding(context, method, "answer", () => fail(error)),
        );
      } else succeed(answer);
    });
  };
}

/**
 * Starts a call through the admission queue, keyed by its caller's uid: `start` runs with the
 * caller unless the call was cancelled meanwhile (then it is finished CANCELLED, not started) or
 * its connection has no caller (`fail`, at once). How long `start` holds the loop is checked
 * (`holding`).
 */
export function admitted(
  context: HandlerContext<unknown>,
  method: string,
  call: { readonly cancelled: boolean; getPeer(): string },
  finish: (code: number) => void,
  fail: (error: unknown) => void,
  start: (caller: Caller) => void,
): void {
  if (call.cancelled) {
    finish(status.CANCELLED);
    return;
  }
  let caller: Caller;
  try {
    caller = context.callers.callerOf(call);
  } catch (error) {
    fail(error);
    return;
  }
  context.admission.admit(() => {
    if (call.cancelled) finish(status.CANCELLED);
    else holding(context, method, "start", () => start(caller));
  }, caller.uid);
}
