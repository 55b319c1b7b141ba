/**
 * One caller's link to the in-process daemon: the PoolTransport a FakePoolClient's PoolClient
 * runs on. It keeps the caller's InProcessConnection, made again when the daemon restarted or
 * the caller's process exited and came back (as a client reconnects), applies the caller's
 * injected faults on the way in (fault-plan.ts), and opens in-process fd channels that the
 * daemon's restart drops as a dying daemon drops its sockets.
 */
import { status } from "@grpc/grpc-js";
import type { AdminClient } from "@gmempool/contract/generated/gmempool/v1/Admin";
import type { PoolClient as PoolStub } from "@gmempool/contract/generated/gmempool/v1/Pool";
import { StatusError, type InProcessConnection } from "../../../../src/server/in-process/in-process-server.ts";
import type { FdChannel, FdChannelConnector } from "../fd-channel/fd-channel.ts";
import { GrpcChannel } from "../grpc/grpc-channel.ts";
import type { PoolError } from "../pool-errors.ts";
import type { PoolTransport } from "../pool-client.ts";
import type { FaultableMethod, FaultPlan } from "./fault-plan.ts";
import type { CallerCredentials, InProcessDaemon } from "./in-process-daemon.ts";
import { InProcessFdChannel } from "./in-process-fd-channel.ts";
import { inProcessStub, type RpcEndpoint } from "./in-process-stubs.ts";

/** Where the in-process transport says the daemon is, in messages. */
export const IN_PROCESS_API = "(in-process daemon)";

/** "/gmempool.v1.Pool/GetPoolStatus" -> "getPoolStatus": the Pool method a fault names. */
function faultableMethodOf(path: string): FaultableMethod {
  const rpc = path.slice(path.lastIndexOf("/") + 1);
  return (rpc.charAt(0).toLowerCase() + rpc.slice(1)) as FaultableMethod;
}

/** An injected error as the daemon would have answered it. */
function statusOf(error: PoolError): StatusError {
  return new StatusError({ code: status[error.grpcStatus], details: error.details });
}

export class ConnectionLink {
  readonly #daemon: InProcessDaemon;
  readonly #caller: () => CallerCredentials;
  readonly #faults: FaultPlan;
  #connection: { readonly generation: number; readonly startTimeTicks: bigint; readonly value: InProcessConnection } | undefined;
  /** Open fd channels and how to tell their client that the daemon dropped them. */
  readonly #channels = new Map<InProcessFdChannel, (error: Error | null) => void>();
  readonly #unsubscribe: () => void;

  constructor(daemon: InProcessDaemon, caller: () => CallerCredentials, faults: FaultPlan) {
    this.#daemon = daemon;
    this.#caller = caller;
    this.#faults = faults;
    this.#unsubscribe = daemon.onRestart(() => this.#dropChannels());
  }

  /** The client closed: nothing more to hear about. */
  close(): void {
    this.#unsubscribe();
    this.#channels.clear();
    this.#connection?.value.close();
    this.#connection = undefined;
  }

  transport(): PoolTransport {
    const endpoint = (waitForReady: boolean): Promise<RpcEndpoint> => this.#endpoint(waitForReady);
    const grpc = new GrpcChannel(IN_PROCESS_API, {
      pool: inProcessStub("gmempool.v1.Pool", endpoint) as PoolStub,
      admin: inProcessStub("gmempool.v1.Admin", endpoint) as AdminClient,
    });
    const connectFdChannel: FdChannelConnector = (options) => this.#connectFdChannel(options.onClose);
    return { apiSocket: IN_PROCESS_API, fdSocket: IN_PROCESS_API, grpc, connectFdChannel };
  }

  /** The caller's process exited: its connections are gone with it. */
  dropConnection(): void {
    this.#dropChannels();
    this.#connection?.value.close();
    this.#connection = undefined;
  }

  /** As a dying daemon (or process) drops its sockets: pending fd work fails, the client hears of it. */
  #dropChannels(): void {
    const channels = [...this.#channels];
    this.#channels.clear();
    for (const [channel, onClose] of channels) {
      if (channel.closed) continue;
      channel.drop();
      onClose(null);
    }
  }

  async #current(waitForReady: boolean): Promise<InProcessConnection> {
    if (this.#daemon.restarting && !waitForReady) {
      // What grpc-js says while the daemon's socket is gone (grpc-errors.ts reads it as unreachable).
      throw new StatusError({ code: status.UNAVAILABLE, details: "No connection established (the in-process daemon is restarting)" });
    }
    await this.#daemon.serving();
    const caller = this.#caller();
    const open = this.#connection;
    if (open !== undefined && open.generation === this.#daemon.generation && open.startTimeTicks === caller.startTimeTicks && !open.value.closed) return open.value;
    open?.value.close();
    const value = await this.#daemon.connect(caller);
    this.#connection = { generation: this.#daemon.generation, startTimeTicks: caller.startTimeTicks, value };
    return value;
  }

  async #endpoint(waitForReady: boolean): Promise<RpcEndpoint> {
    const connection = await this.#current(waitForReady);
    const faults = this.#faults;
    return {
      unary: (path, request, onCancel) => {
        const fault = faults.take(faultableMethodOf(path));
        if (fault === undefined) return connection.unary(path, request, onCancel);
        if (fault.kind === "stall") return new Promise(() => undefined);
        return Promise.reject(statusOf(typeof fault.error === "function" ? fault.error() : fault.error));
      },
      serverStream: (path, request, reader) => {
        const fault = faults.take(faultableMethodOf(path));
        if (fault === undefined) return connection.serverStream(path, request, reader);
        if (fault.kind === "fail") {
          const failure = statusOf(typeof fault.error === "function" ? fault.error() : fault.error);
          queueMicrotask(() => reader.fail(failure));
        }
        return { pause: () => undefined, resume: () => undefined, cancel: () => undefined };
      },
    };
  }

  async #connectFdChannel(onClose: (error: Error | null) => void): Promise<FdChannel> {
    const connection = await this.#current(false);
    const { daemon } = await this.#daemon.serving();
    const channel = new InProcessFdChannel({ connection, client: this.#daemon.processOf(this.#caller()), daemon: daemon.kernel, bridge: this.#daemon.bridge });
    this.#channels.set(channel, onClose);
    return channel;
  }
}
