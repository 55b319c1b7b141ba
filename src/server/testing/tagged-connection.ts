/**
 * What ConnectionCallers tags, without a real socket: a connection's caller (uid = gid, pid =
 * 100 + uid) and a socket that only closes. For the unit tests of the per-connection callers
 * and of the handler wrapper; the transport tests use real sockets (transport-harness.ts).
 */
import { EventEmitter } from "node:events";
import { callerIdentity } from "../../daemon/caller-identity.ts";
import type { Caller } from "../../daemon/pool-service.ts";

export function testCaller(uid: number, isAdmin = false): Caller {
  return { uid, gid: uid, pid: 100 + uid, startTimeTicks: 1n, identity: callerIdentity(uid, 100 + uid, 1n), isAdmin };
}

export class FakeSocket extends EventEmitter {
  destroyed = false;
  destroy(): void {
    this.destroyed = true;
    this.emit("close");
  }
}
