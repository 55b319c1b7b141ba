/**
 * A bounded, seeded fuzz of the daemon's transport (issue 12): GMEMPOOL_FUZZ_REQUESTS (default
 * 10,000) requests over the real gRPC server on a unix socket, spread over every Pool and Admin
 * method, each a message built from the method's own descriptor with values drawn from
 * boundaries, garbage and ids the daemon handed out before, from two tenants and the admin; and
 * random fd-channel frames (every kind, bad versions, flags, fd types, with and without fds).
 * It fails on any INTERNAL or UNKNOWN answer, a crash, a unit not accounted for, or an fd the
 * daemon still holds once everything is deleted and every fd-channel connection closed. The
 * seed is GMEMPOOL_FUZZ_SEED (default 1): a failure names it and the request that failed.
 */
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import type { MethodDefinition } from "@grpc/proto-loader";
import { test } from "node:test";
import { FD_CHANNEL_VERSION, UNIT_BYTES, encodeFdMessage, gmempoolPackageDefinition } from "@gmempool/contract";
import { Prng } from "../pool/testing/prng.ts";
import { FdChannelClient } from "../main/testing/test-client.ts";
import { TransportHarness, type TransportPeer } from "./testing/transport-harness.ts";

const REQUESTS = Number(process.env["GMEMPOOL_FUZZ_REQUESTS"] ?? 10_000);
const SEED = Number(process.env["GMEMPOOL_FUZZ_SEED"] ?? 1);
const UNIT = UNIT_BYTES;

interface FieldDescriptor {
  readonly name: string;
  readonly type: string;
  readonly label: string;
  readonly typeName: string;
}

interface TypeDescriptor {
  readonly field: readonly FieldDescriptor[];
  readonly value?: readonly { readonly name: string }[];
}

const definition = gmempoolPackageDefinition();
function typeOf(typeName: string): TypeDescriptor | undefined {
  const entry = definition[typeName.replace(/^\./, "")] as { type?: TypeDescriptor } | undefined;
  return entry?.type;
}

class Inputs {
  readonly #prng: Prng;
  readonly ids = new Set<string>(["", "arena-0", "lease-0", "x".repeat(300)]);
  readonly tokens: Buffer[] = [];

  constructor(seed: number) {
    this.#prng = new Prng(seed);
  }

  int(n: number): number {
    return this.#prng.int(0, n - 1);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  value(field: FieldDescriptor, depth: number): unknown {
    const one = (): unknown => {
      switch (field.type) {
        case "TYPE_STRING":
          return this.pick([...this.ids, "r-" + String(this.int(50)), "\u0000", "é".repeat(this.int(100))]);
        case "TYPE_UINT32":
          return this.pick([0, 1, 2, 3, 8, 64, 4_294_967_295, this.int(100)]);
        case "TYPE_UINT64":
        case "TYPE_INT64":
          return this.pick(["0", "1", "4096", String(UNIT), String(2n * UNIT), String(UNIT * BigInt(this.int(80))), "18446744073709551615", String(4096 * this.int(1000))]);
        case "TYPE_BOOL":
          return this.int(2) === 1;
        case "TYPE_BYTES":
          return this.tokens.length > 0 && this.int(2) === 0 ? this.pick(this.tokens) : Buffer.from(Array.from({ length: this.pick([0, 1, 15, 16, 17]) }, () => this.int(256)));
        case "TYPE_ENUM": {
          const values = typeOf(field.typeName)?.value?.map((v) => v.name) ?? [];
          return this.int(8) === 0 || values.length === 0 ? this.int(40) : this.pick(values);
        }
        case "TYPE_MESSAGE":
          return depth > 2 ? {} : this.message(typeOf(field.typeName), depth + 1);
        default:
          return undefined;
      }
    };
    if (field.label === "LABEL_REPEATED") return Array.from({ length: this.int(4) }, one);
    return one();
  }

  message(type: TypeDescriptor | undefined, depth = 0): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const field of type?.field ?? []) {
      // Leave some fields out (absent, or one side of a oneof).
      if (this.int(4) === 0) continue;
      const value = this.value(field, depth);
      if (value !== undefined) out[field.name] = value;
    }
    return out;
  }
}

function methods(): { name: string; method: MethodDefinition<unknown, unknown>; admin: boolean }[] {
  return ["gmempool.v1.Pool", "gmempool.v1.Admin"].flatMap((service) => {
    const d = definition[service];
    if (d === undefined || "format" in d) throw new Error(`${service} is not a service`);
    return Object.entries(d).map(([name, m]) => ({ name, method: m as MethodDefinition<unknown, unknown>, admin: service.endsWith("Admin") }));
  });
}

function call(client: grpc.Client, method: MethodDefinition<unknown, unknown>, request: unknown): Promise<{ code: grpc.status; details: string; response?: unknown }> {
  return new Promise((resolve) => {
    const deadline = Date.now() + 10_000;
    if (method.responseStream) {
      const stream = client.makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, request, new grpc.Metadata(), { deadline });
      let first: unknown;
      stream.on("data", (m: unknown) => {
        first ??= m;
        stream.cancel();
      });
      stream.on("error", (e: grpc.ServiceError) => resolve({ code: e.code === grpc.status.CANCELLED && first !== undefined ? grpc.status.OK : e.code, details: e.details, response: first }));
      stream.on("end", () => resolve({ code: grpc.status.OK, details: "", response: first }));
      return;
    }
    client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, request, new grpc.Metadata(), { deadline }, (error, response) => {
      resolve(error === null ? { code: grpc.status.OK, details: "", response } : { code: error.code, details: error.details });
    });
  });
}

const ID = /"((?:arena|lease)-[0-9a-f]{12})"/g;

test(`fuzz: ${REQUESTS} random requests and fd-channel frames (seed ${SEED}): no INTERNAL, no lost unit, no fd left`, { timeout: 600_000 }, async () => {
  const h = await TransportHarness.start({ capacityUnits: 64 });
  const baselineFds = h.daemon.kernel.openFds().length;
  const peers: TransportPeer[] = [await h.peer({ uid: 1001 }), await h.peer({ uid: 1002 })];
  const inputs = new Inputs(SEED);
  const all = methods();
  const clients = peers.map((p) => new grpc.Client(`unix://${p.apiSocket}`, grpc.credentials.createInsecure()));
  const admin = new grpc.Client(`unix://${h.paths.apiSocket}`, grpc.credentials.createInsecure());
  const codes = new Map<string, number>();
  const bad: string[] = [];
  try {
    for (let i = 0; i < REQUESTS; i++) {
      const who = inputs.int(3);
      const peer = peers[who % 2]!;
      if (i % 50 === 0) {
        // Real tokens and files in play, so the calls reach past the token checks.
        try {
          inputs.tokens.push(await peer.fd.receiveFdToken());
          inputs.tokens.push(await peer.fd.sendFdToken(peer.vmm.createGuestMemfd(1 + inputs.int(4)), "GUEST_MEMFD"));
          if (inputs.tokens.length > 40) inputs.tokens.splice(0, 20);
        } catch {
          // The connection was closed by a framing error below: connect again.
          peer.fd.close();
          (peer as { fd: FdChannelClient }).fd = await FdChannelClient.connect(peer.vmm.kernel, h.paths.fdSocket);
        }
      }
      if (i % 97 === 0) {
        // A random fd-channel frame: any kind, sometimes a wrong version, flags, fd type or fds.
        const fds = inputs.int(3) === 0 ? [peer.vmm.kernel.memfdCreate("fuzz", "shmem")] : [];
        const frame = encodeFdMessage({ kind: inputs.int(9), version: inputs.int(5) === 0 ? 9 : FD_CHANNEL_VERSION, fdType: inputs.int(5), sequence: BigInt(i), flags: inputs.int(6) === 0 ? 1 : 0, token: inputs.tokens.length > 0 && inputs.int(2) === 0 ? inputs.pick(inputs.tokens) : Buffer.alloc(16) });
        try {
          await peer.fd.sendRaw(inputs.int(8) === 0 ? frame.subarray(0, 10) : frame, fds);
          await peer.fd.receive();
        } catch {
          peer.fd.close();
          (peer as { fd: FdChannelClient }).fd = await FdChannelClient.connect(peer.vmm.kernel, h.paths.fdSocket);
        }
        for (const fd of fds) peer.vmm.kernel.close(fd);
        continue;
      }
      const { name, method, admin: isAdmin } = inputs.pick(all);
      const request = inputs.message(method.requestType.type as unknown as TypeDescriptor);
      const client = who === 2 || isAdmin ? (inputs.int(2) === 0 ? admin : clients[who % 2]!) : clients[who]!;
      const answer = await call(client, method, request);
      const label = `${name} ${grpc.status[answer.code]}`;
      codes.set(label, (codes.get(label) ?? 0) + 1);
      if (answer.code === grpc.status.INTERNAL || answer.code === grpc.status.UNKNOWN) bad.push(`request ${i}: ${name} ${JSON.stringify(request, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString("hex") : v))} -> ${grpc.status[answer.code]} ${answer.details}`);
      if (answer.response !== undefined) for (const [, id] of JSON.stringify(answer.response).matchAll(ID)) inputs.ids.add(id!);
      if (i % 500 === 0) h.daemon.assertConservation();
    }
    assert.deepEqual(bad.slice(0, 5), [], `${bad.length} INTERNAL/UNKNOWN answers (seed ${SEED})`);
    await h.daemon.settle();
    h.daemon.assertConservation();
    // Everything deleted and every fd-channel connection closed: the daemon holds what it held at the start.
    const adminCaller = h.daemon.manager.identify(h.daemon.kernel.credentials);
    for (const arena of h.daemon.manager.listArenas(adminCaller, { allOwners: true })) await h.daemon.manager.forceRelease(adminCaller, { requestId: "", target: { kind: "arena", arenaId: arena.arenaId } });
    for (const p of peers) p.fd.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(h.process.server.tokens.size, 0, "no token outlives its connection");
    assert.equal(h.daemon.kernel.openFds().length, baselineFds, "the daemon holds no fd of the fuzz");
    h.daemon.assertConservation();
    const total = [...codes.values()].reduce((a, b) => a + b, 0);
    assert.ok(total > REQUESTS * 0.9, `${total} gRPC requests`);
    const ok = [...codes].filter(([k]) => k.endsWith(" OK")).reduce((a, [, n]) => a + n, 0);
    process.stdout.write(`# fuzz seed ${SEED}: ${total} gRPC requests, ${ok} OK; by status: ${JSON.stringify(Object.fromEntries([...codes].reduce((m, [k, n]) => m.set(k.split(" ")[1]!, (m.get(k.split(" ")[1]!) ?? 0) + n), new Map<string, number>())))}\n`);
  } finally {
    for (const c of [...clients, admin]) c.close();
    await h.stop();
  }
});
