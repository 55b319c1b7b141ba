/**
 * What every handler shares, and the one wrapper every unary handler goes through: find the
 * caller, decode, call ONE service method, encode — or map what was thrown with the one
 * error table (error-status.ts). The wrapper also records the call's latency by method and
 * status code, and sets `gmempool-replayed: true` on a replayed idempotent result.
 *
 * Deadlines and cancellation: grpc-js answers DEADLINE_EXCEEDED / CANCELLED to the client by
 * itself. A call already cancelled when its handler starts is not started; one that is running
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
  readonly metrics: RpcObserver | undefined;
  readonly logger: Logger;
  readonly transport: TransportCapabilities;
}

/** A handler's answer: the response, and whether the daemon replayed an earlier result. */
export interface UnaryAnswer<Res> {
  readonly response: Res;
  readonly replayed?: boolean;
}


const STATUS_NAME = new Map<number, string>(Object.entries(status).filter((e): e is [string, number] => typeof e[1] === "number").map(([name, code]) => [code, name]));

export function statusName(code: number): string {
  return STATUS_NAME.get(code) ?? String(code);
}

/**
 * Wraps `run` as a grpc-js unary handler. `run` may be sync or async; whatever it throws
 * becomes a status through statusForError.
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
    if (call.cancelled) {
      finish(status.CANCELLED);
      return;
    }
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
    let answer: UnaryAnswer<Res> | Promise<UnaryAnswer<Res>>;
    try {
      // The transaction runner reads the RPC's name while `run` is synchronous (phase-timer.ts).
      if (phaseTimer !== undefined) phaseTimer.rpc = method;
      answer = run(context.callers.callerOf(call), decodedRequest(call.request));
    } catch (error) {
      fail(error);
      return;
    } finally {
      if (phaseTimer !== undefined) phaseTimer.rpc = "-";
    }
    if (answer instanceof Promise) answer.then(succeed, fail);
    else succeed(answer);
  };
}
