/**
 * A real gRPC server on a temporary unix socket, in front of a PoolManager on the fake kernel
 * (FakeDaemon), started through the same GmempoolProcess as `gmempool serve`. Each simulated
 * process (a FakeVmm: its own fake pid, uid and fd table) gets its own API socket whose peer
 * credentials are that process's, and talks to the fd channel through its own fake kernel —
 * so identity, tokens and fd passing are exercised exactly as across real processes.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { FakeDaemon, type FakeDaemonOptions, type FakeVmm } from "../../daemon/testing/fake-daemon.ts";
import type { TcpListenAddress } from "../../daemon/config.ts";
import type { Caller } from "../../daemon/pool-service.ts";
import { GmempoolProcess } from "../../main/gmempool-process.ts";
import { daemonSockets, type DaemonSockets } from "@gmempool/contract";
import { FdChannelClient, TestClient } from "../../main/testing/test-client.ts";
import type { ConnectionLimits } from "../grpc/connection-callers.ts";

export interface TransportPeer {
  readonly vmm: FakeVmm;
  readonly client: TestClient;
  readonly fd: FdChannelClient;
  readonly apiSocket: string;
  caller(): Caller;
}

export class TransportHarness {
  readonly daemon: FakeDaemon;
  readonly process: GmempoolProcess;
  readonly paths: DaemonSockets;
  readonly #peers: TransportPeer[] = [];
  #next = 0;

  private constructor(daemon: FakeDaemon, process: GmempoolProcess, paths: DaemonSockets) {
    this.daemon = daemon;
    this.process = process;
    this.paths = paths;
  }

  /** `options.clock` times both the daemon (request ids) and the server (fd token TTL). */
  static async start(options: FakeDaemonOptions & { readonly fdTokenTtlMs?: number; readonly maxPendingFdTokens?: number; readonly metricsPerArena?: boolean; readonly metricsAddress?: TcpListenAddress; readonly connectionLimits?: ConnectionLimits; readonly maxStreamsPerConnection?: number } = {}): Promise<TransportHarness> {
    const daemon = await FakeDaemon.start({ capacityUnits: 64, ...options, noStart: true });
    const paths = daemonSockets(mkdtempSync(join(tmpdir(), "gmempool-transport-")));
    // The main API socket's peer is the daemon's own (fake) process: uid 0, the admin.
    const process = await GmempoolProcess.start({
      daemon: daemon.manager,
      kernel: daemon.kernel,
      logger: pino({ level: globalThis.process.env["GMEMPOOL_TEST_LOG"] ?? "silent" }),
      paths,
      peerCredentials: () => daemon.kernel.credentials,
      server: { processMetrics: false, shutdownGraceMs: 1000, ...(options.metricsPerArena === undefined ? {} : { metricsPerArena: options.metricsPerArena }), ...(options.metricsAddress === undefined ? {} : { metricsAddress: options.metricsAddress }), ...(options.connectionLimits === undefined ? {} : { connectionLimits: options.connectionLimits }), ...(options.maxStreamsPerConnection === undefined ? {} : { maxStreamsPerConnection: options.maxStreamsPerConnection }), ...(options.clock === undefined ? {} : { clock: options.clock }), ...(options.fdTokenTtlMs === undefined ? {} : { fdTokenTtlMs: options.fdTokenTtlMs }), ...(options.maxPendingFdTokens === undefined ? {} : { maxPendingFdTokens: options.maxPendingFdTokens }) },
    });
    return new TransportHarness(daemon, process, paths);
  }

  /** A new simulated process with its own API socket and fd channel connection. */
  async peer(options: { uid?: number; gid?: number } = {}): Promise<TransportPeer> {
    const vmm = this.daemon.vmm(options);
    const apiSocket = join(this.paths.runtimeDir, `peer-${this.#next++}.sock`);
    await this.process.server.addApiListener(apiSocket, () => vmm.kernel.credentials);
    const peer: TransportPeer = {
      vmm,
      client: new TestClient({ apiSocket, deadlineMs: 10_000 }),
      fd: await FdChannelClient.connect(vmm.kernel, this.paths.fdSocket),
      apiSocket,
      caller: () => this.daemon.manager.identify(vmm.kernel.credentials),
    };
    this.#peers.push(peer);
    return peer;
  }

  async stop(): Promise<void> {
    for (const p of this.#peers) {
      p.client.close();
      p.fd.close();
    }
    await this.process.stop("test over");
    rmSync(this.paths.runtimeDir, { recursive: true, force: true });
  }
}
