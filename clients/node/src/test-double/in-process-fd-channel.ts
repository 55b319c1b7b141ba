/**
 * The fd channel of the in-process transport (fd-channel/fd-channel.ts): SEND_FD, RECEIVE_FD and
 * CANCEL go to the daemon half's token table (InProcessConnection) instead of a SEQPACKET
 * socket, with the fds carried across by the FdBridge. Replies that fail are the daemon's
 * statuses, typed as the socket client types them (errorForStatus, operation "fd channel …").
 */
import type { FdDelivery as DaemonFdDelivery } from "../../../../src/daemon/pool-service.ts";
import type { FakeKernel } from "../../../../src/kvm/fake/fake-kernel.ts";
import { StatusError, type InProcessConnection } from "../../../../src/server/in-process/in-process-server.ts";
import type { FdChannel, SentFd } from "../fd-channel/fd-channel.ts";
import { FdDelivery } from "../fd-channel/fd-delivery.ts";
import { errorForStatus, UnavailableError, type PoolError } from "../pool-errors.ts";
import type { FdBridge } from "./fd-bridge.ts";

/** The two fake processes a delivery crosses between, and the connection it belongs to. */
export interface FdChannelEnds {
  readonly connection: InProcessConnection;
  /** The calling process's fake kernel. */
  readonly client: FakeKernel;
  readonly daemon: FakeKernel;
  readonly bridge: FdBridge;
}

export class InProcessFdChannel implements FdChannel {
  readonly #ends: FdChannelEnds;
  readonly #deliveries = new Set<FdDelivery>();
  #closed = false;

  constructor(ends: FdChannelEnds) {
    this.#ends = ends;
  }

  get closed(): boolean {
    return this.#closed;
  }

  sendFd(fd: number, fdType: SentFd["fdType"], _deadline: number): Promise<SentFd> {
    return this.#run("fd channel SEND_FD", () => {
      const { connection, client, daemon, bridge } = this.#ends;
      const daemonFd = bridge.toDaemon(fd, client, daemon);
      const { token, inspection } = connection.sendFd(daemonFd, fdType);
      return { token, fdType: inspection.fdType, sizeBytes: inspection.sizeBytes };
    });
  }

  receiveFd(_deadline: number): Promise<FdDelivery> {
    return this.#run("fd channel RECEIVE_FD", () => {
      const { connection, client, daemon, bridge } = this.#ends;
      const box: { delivery?: FdDelivery } = {};
      const deliver: DaemonFdDelivery = (fd, info) => {
        // As the socket server's FD_DELIVERY: it fails (and the daemon creates nothing) when the
        // connection that asked is gone.
        const delivery = box.delivery;
        if (this.#closed || delivery === undefined) return Promise.reject(new Error("the fd channel connection that asked for the fd is closed"));
        delivery.deliver({ fd: bridge.fromDaemon(fd, info, daemon, client), fdType: info.fdType, sizeBytes: info.sizeBytes });
        return Promise.resolve();
      };
      const delivery = new FdDelivery(connection.receiveFd(deliver));
      box.delivery = delivery;
      this.#deliveries.add(delivery);
      return delivery;
    });
  }

  forget(delivery: FdDelivery): void {
    this.#deliveries.delete(delivery);
  }

  cancel(token: Buffer, _deadline: number): Promise<boolean> {
    return this.#run("fd channel CANCEL", () => this.#ends.connection.cancelToken(token));
  }

  close(): void {
    this.#shutdown(new UnavailableError("the fd channel connection was closed by the client", { operation: "fd channel" }));
  }

  /** The daemon went away (a simulated restart): as the socket's close, pending work fails. */
  drop(): void {
    this.#shutdown(new UnavailableError("the daemon closed the fd channel connection", { operation: "fd channel", unreachable: true }));
  }

  #shutdown(error: PoolError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ends.connection.closeFdChannel();
    for (const delivery of this.#deliveries) delivery.fail(error);
    this.#deliveries.clear();
  }

  /** Runs a request now; its refusal is the daemon's status, typed as the socket client types it. */
  #run<T>(operation: string, body: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new UnavailableError("the fd channel connection is closed", { operation, unreachable: true }));
    try {
      return Promise.resolve(body());
    } catch (error) {
      return Promise.reject(error instanceof StatusError ? errorForStatus(error.code, error.details, { operation }) : error instanceof Error ? error : new Error(String(error)));
    }
  }
}
