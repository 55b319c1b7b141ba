/**
 * The transport's handlers, assembled once in front of ONE PoolService: the fd tokens, the
 * connections' callers, the Watch registry and the Pool / Admin handler maps, with the
 * transport parameters GetCapabilities reports. Two transports use it: the daemon's sockets
 * (gmempool-server.ts: grpc-js on api.sock, the SEQPACKET fd channel) and the in-process
 * transport of the client library's test double (in-process/in-process-server.ts), so the
 * double answers through exactly the code the sockets do.
 */
import type { Logger } from "pino";
import type { AdminHandlers } from "@gmempool/contract/generated/gmempool/v1/Admin";
import type { PoolHandlers } from "@gmempool/contract/generated/gmempool/v1/Pool";
import { FD_CHANNEL_VERSION } from "@gmempool/contract";
import type { PoolService } from "../daemon/pool-service.ts";
import type { Clock } from "../kvm/clock.ts";
import type { Fd } from "@gmempool/sys";
import { DEFAULT_FD_TOKEN_TTL_MS, DEFAULT_MAX_PENDING_FD_TOKENS, FdTokenTable } from "./fd-channel/fd-token-table.ts";
import { adminHandlers } from "./grpc/admin-handlers.ts";
import { ConnectionCallers, type ConnectionLimits } from "./grpc/connection-callers.ts";
import type { HandlerContext, RpcObserver } from "./grpc/handler-context.ts";
import { TurnQueue } from "./grpc/turn-queue.ts";
import { poolHandlers } from "./grpc/pool-handlers.ts";
import { WatchRegistry } from "./grpc/watch-handler.ts";

/**
 * Largest request accepted. The largest legitimate request (a Watch naming every event kind,
 * or 64-byte names and labels) is well under 1 KiB; 64 KiB leaves room and keeps a hostile
 * client from making the daemon buffer much. Larger: RESOURCE_EXHAUSTED from grpc-js.
 */
export const DEFAULT_MAX_REQUEST_MESSAGE_BYTES = 64 * 1024;

export interface ServiceHandlersOptions {
  readonly service: PoolService;
  /** Closes an fd the token table owns (the kernel port's close). */
  readonly closeFd: (fd: Fd) => void;
  readonly logger: Logger;
  /** Reported by GetCapabilities (where clients find the fd channel). */
  readonly fdSocketPath: string;
  readonly fdTokenTtlMs?: number | undefined;
  readonly maxPendingFdTokens?: number | undefined;
  readonly maxPendingFdTokensPerUid?: number | undefined;
  readonly maxRequestMessageBytes?: number | undefined;
  /** Times the fd tokens' TTL (default: the real clock). */
  readonly clock?: Clock | undefined;
  /** API connections in all and per uid (default DEFAULT_CONNECTION_LIMITS). */
  readonly connectionLimits?: ConnectionLimits | undefined;
  /** Read lazily: the metrics' gauges may themselves read these handlers' tables. */
  readonly metrics?: (() => RpcObserver) | undefined;
}

export class ServiceHandlers {
  readonly tokens: FdTokenTable;
  readonly callers: ConnectionCallers;
  readonly watches: WatchRegistry;
  readonly pool: PoolHandlers;
  readonly admin: AdminHandlers;
  readonly maxRequestMessageBytes: number;

  constructor(options: ServiceHandlersOptions) {
    this.maxRequestMessageBytes = options.maxRequestMessageBytes ?? DEFAULT_MAX_REQUEST_MESSAGE_BYTES;
    this.callers = new ConnectionCallers(options.connectionLimits);
    this.tokens = new FdTokenTable({
      ttlMs: options.fdTokenTtlMs ?? DEFAULT_FD_TOKEN_TTL_MS,
      clock: options.clock,
      maxPendingPerConnection: options.maxPendingFdTokens ?? DEFAULT_MAX_PENDING_FD_TOKENS,
      maxPendingPerUid: options.maxPendingFdTokensPerUid,
      closeFd: options.closeFd,
    });
    const metrics = options.metrics?.();
    const context: HandlerContext = {
      service: options.service,
      tokens: this.tokens,
      callers: this.callers,
      admission: new TurnQueue(1),
      metrics,
      logger: options.logger.child({ component: "grpc" }),
      transport: {
        fdSocketPath: options.fdSocketPath,
        fdChannelVersion: FD_CHANNEL_VERSION,
        fdTokenTtlMs: this.tokens.ttlMs,
        maxPendingFdTokens: this.tokens.maxPendingPerConnection,
        maxRequestMessageBytes: this.maxRequestMessageBytes,
      },
    };
    this.watches = new WatchRegistry(context);
    this.pool = poolHandlers(context, this.watches);
    this.admin = adminHandlers(context);
  }
}
