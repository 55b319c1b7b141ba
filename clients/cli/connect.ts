/**
 * How a command gets its `Pool`: the real gRPC client (PoolClient) by default; tests of the
 * commands pass another function (a hand-built Pool) through the command context. The CLI
 * creates no arena, so the client's reattach-after-restart machinery stays off.
 */
import { PoolClient } from "../node/src/pool-client.ts";
import type { Pool } from "../node/src/pool.ts";

export interface ConnectRequest {
  /** The daemon's runtime directory (api.sock and fd.sock in it). */
  readonly runtimeDir: string;
  /** Every request's deadline (`--timeout`). */
  readonly deadlineMs: number;
}

export type ConnectPool = (request: ConnectRequest) => Promise<Pool>;

export const connectPoolClient: ConnectPool = ({ runtimeDir, deadlineMs }) => PoolClient.connect({ runtimeDir, deadlineMs, autoReattach: false });
