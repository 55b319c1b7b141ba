/**
 * @gmempool/client/testing: the test double for code written against `Pool`.
 *
 * `FakePoolClient` is a PoolClient whose daemon runs in the test's process — the real daemon
 * logic (its PoolManager and its gRPC handlers) on the fake kernel port — so a VMM's unit tests
 * get the daemon's own answers without a daemon process, root or /dev/kvm
 * (test-double/fake-pool-client.ts).
 */
export { FakePoolClient, type FakeIdentity, type FakePoolClientOptions, type FakePoolSnapshot, type OwnerExitReport } from "./test-double/fake-pool-client.ts";
export { ADMIN_GID } from "./test-double/in-process-daemon.ts";
export type { FaultableMethod } from "./test-double/fault-plan.ts";
