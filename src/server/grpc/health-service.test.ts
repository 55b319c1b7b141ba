// grpc.health.v1 as HealthService answers it, over a real gRPC server on a unix socket.
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { once } from "node:events";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { healthPackageDefinition } from "@gmempool/contract";
import { testTempDir } from "../../daemon/testing/test-temp-dir.ts";
import { HealthService } from "./health-service.ts";

interface HealthClient extends grpc.Client {
  check(request: { service: string }, callback: (error: grpc.ServiceError | null, reply?: { status: string }) => void): void;
  list(request: object, callback: (error: grpc.ServiceError | null, reply?: { statuses: Record<string, { status: string }> }) => void): void;
  watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
}

describe("HealthService", () => {
  const health = new HealthService({ "": "NOT_SERVING", "gmempool.v1.Pool": "NOT_SERVING" });
  const server = new grpc.Server();
  let client: HealthClient;

  before(async () => {
    health.addToServer(server);
    const socket = join(await testTempDir("health-"), "api.sock");
    await new Promise<number>((resolve, reject) => server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e, port) => (e === null ? resolve(port) : reject(e))));
    const Health = grpc.makeGenericClientConstructor(healthPackageDefinition()["grpc.health.v1.Health"] as grpc.ServiceDefinition, "Health");
    client = new Health(`unix://${socket}`, grpc.credentials.createInsecure()) as unknown as HealthClient;
  });

  after(() => {
    client.close();
    server.forceShutdown();
  });

  const check = (service: string): Promise<string> => new Promise((resolve, reject) => client.check({ service }, (e, r) => (e === null ? resolve(r!.status) : reject(e))));

  test("Check answers each service's status, and NOT_FOUND naming an unknown one", async () => {
    assert.equal(await check("gmempool.v1.Pool"), "NOT_SERVING");
    health.setStatus("gmempool.v1.Pool", "SERVING");
    assert.equal(await check("gmempool.v1.Pool"), "SERVING");
    await assert.rejects(check("gmempool.v1.Nope"), { code: grpc.status.NOT_FOUND, details: "Health status unknown for service gmempool.v1.Nope" });
  });

  test("List answers every service", async () => {
    const reply = await new Promise<{ statuses: Record<string, { status: string }> }>((resolve, reject) => client.list({}, (e, r) => (e === null ? resolve(r!) : reject(e))));
    assert.deepEqual(Object.fromEntries(Object.entries(reply.statuses).map(([k, v]) => [k, v.status])), { "": "NOT_SERVING", "gmempool.v1.Pool": "SERVING" });
  });

  test("Watch sends the status, then each change (not a repeated one); cancelling removes the watcher", async () => {
    const call = client.watch({ service: "" });
    const seen: string[] = [];
    call.on("data", (m: { status: string }) => seen.push(m.status));
    call.on("error", () => undefined);
    await once(call, "data");
    health.setStatus("", "NOT_SERVING");
    health.setStatus("", "SERVING");
    health.setStatus("", "SERVING");
    while (seen.length < 2) await once(call, "data");
    await sleep(50);
    assert.deepEqual(seen, ["NOT_SERVING", "SERVING"]);
    const watching = (): number => health.watchCount;
    assert.equal(watching(), 1);
    call.cancel();
    for (let i = 0; i < 100 && watching() > 0; i++) await sleep(10);
    assert.equal(watching(), 0);
  });

  test("Watch of an unknown service says SERVICE_UNKNOWN, then follows it once it is set", async () => {
    const call = client.watch({ service: "later" });
    call.on("error", () => undefined);
    const [first] = (await once(call, "data")) as [{ status: string }];
    assert.equal(first.status, "SERVICE_UNKNOWN");
    health.setStatus("later", "SERVING");
    const [next] = (await once(call, "data")) as [{ status: string }];
    assert.equal(next.status, "SERVING");
    call.cancel();
  });
});
