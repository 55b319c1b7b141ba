// A strict reflection client against the real daemon: Debian's python3-grpcio and
// python3-protobuf (the C++ descriptor pool) run src/server/grpc/testing/reflection_client.py,
// which learns the API only from reflection — lists every service, builds a descriptor pool of
// the served files (their imports fetched by name, the well-known types included), resolves
// every method and calls GetPoolStatus with message classes made from that pool, printing it as
// snake_case JSON. The descriptors proto-loader synthesizes fail there ("google.protobuf.Timestamp"
// is not defined); these are the real files, so the figures must be the Node client's.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { peerSkipReason } from "@gmempool/sys/testing/peer";
import { findProtoRoot, HEALTH_PROTO_FILE, PROTO_FILES } from "@gmempool/contract";
import { DaemonProcess } from "./testing/daemon-process.ts";
import { TestClient } from "./testing/test-client.ts";

// Debian's interpreter: a PATH `python3` may be another (pyenv) without Debian's modules.
const PYTHON = "/usr/bin/python3";
const PYTHON_MODULES = ["grpc", "google.protobuf"];
const SCRIPT = fileURLToPath(new URL("../server/grpc/testing/reflection_client.py", import.meta.url));

function missingPythonModules(): string | undefined {
  const result = spawnSync(PYTHON, ["-c", PYTHON_MODULES.map((m) => `import ${m}`).join("; ")], { encoding: "utf8" });
  return result.status === 0 ? undefined : `${PYTHON} modules ${PYTHON_MODULES.join(", ")} (${result.stderr.trim().split("\n").at(-1) ?? ""})`;
}

const skip = peerSkipReason([PYTHON], ["python3-grpcio", "python3-protobuf"], missingPythonModules);

interface MethodReport {
  readonly input: string;
  readonly output: string;
  readonly client_streaming: boolean;
  readonly server_streaming: boolean;
  readonly comment: string;
}
interface Report {
  readonly services: string[];
  readonly files: string[];
  readonly methods: Record<string, MethodReport>;
  readonly message_types_resolved: number;
  readonly file_containing_extension: { readonly code: number; readonly message: string };
  readonly get_pool_status: { readonly status: Record<string, unknown> };
}

async function runClient(apiSocket: string): Promise<Report> {
  const child = spawn(PYTHON, [SCRIPT, `unix:${apiSocket}`], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
  const [code] = (await once(child, "exit")) as [number | null];
  assert.equal(code, 0, `reflection_client.py exited ${code}:\n${stderr}`);
  return JSON.parse(stdout) as Report;
}

describe("reflection: a strict client (Debian python3-grpcio, python3-protobuf) resolves the API and calls it", { skip }, () => {
  const uid = process.getuid?.() ?? 0;
  let daemon: DaemonProcess;
  let report: Report;
  before(async () => {
    daemon = await DaemonProcess.start({ config: `[pool]\ncapacity = "64MiB"\nreserve = "none"\n[admin]\nuids = [${uid}]\n[journal]\nfsync = false\n` });
    report = await runClient(daemon.paths.apiSocket);
  });
  after(async () => {
    await daemon.stop();
    daemon.removeDir();
  });

  test("it lists Admin, Pool and Health, and fetches the same files, over v1 and v1alpha alike", () => {
    assert.deepEqual(report.services, ["gmempool.v1.Admin", "gmempool.v1.Pool", "grpc.health.v1.Health"]);
  });

  test("its pool holds the real files by their names, the well-known types and health.proto among them", () => {
    assert.deepEqual([...report.files].sort(), [...PROTO_FILES.filter((f) => f !== "gmempool/v1/fd_channel.proto"), "google/protobuf/duration.proto", "google/protobuf/timestamp.proto", HEALTH_PROTO_FILE].sort());
  });

  test("every method of every service resolves, with its streaming and its comment from the .proto", () => {
    const pool = readFileSync(`${findProtoRoot()}/gmempool/v1/pool.proto`, "utf8");
    const names = Object.keys(report.methods);
    for (const rpc of ["gmempool.v1.Pool/GetPoolStatus", "gmempool.v1.Pool/Watch", "gmempool.v1.Admin/SetPolicy", "grpc.health.v1.Health/Check"]) assert.ok(names.includes(rpc), rpc);
    for (const [name, method] of Object.entries(report.methods)) {
      assert.match(method.input, /^(gmempool|grpc\.health)\.v1\.\w+$/, name);
      assert.match(method.output, /^(gmempool|grpc\.health)\.v1\.\w+$/, name);
      assert.notEqual(method.comment.trim(), "", `${name} has its comment`);
    }
    assert.deepEqual(report.methods["gmempool.v1.Pool/Watch"], { ...report.methods["gmempool.v1.Pool/Watch"], client_streaming: false, server_streaming: true });
    const comment = report.methods["gmempool.v1.Pool/GetPoolStatus"]!.comment.trim().split("\n")[0]!;
    assert.ok(pool.includes(`// ${comment}`), `GetPoolStatus's served comment "${comment}" is pool.proto's`);
    assert.ok(report.message_types_resolved > 20, `${report.message_types_resolved} message types`);
  });

  test("file_containing_extension is NOT_FOUND (the protos declare no extensions)", () => {
    assert.equal(report.file_containing_extension.code, 5);
    assert.match(report.file_containing_extension.message, /gmempool\.v1\.PoolStatus/);
  });

  test("GetPoolStatus called dynamically gives snake_case JSON with the Node client's capacity figures", async () => {
    const status = report.get_pool_status.status;
    const admin = new TestClient({ apiSocket: daemon.paths.apiSocket });
    try {
      const node = (await admin.call("GetPoolStatus", {})).status!;
      assert.equal(node.capacityUnitCount, 32);
      // proto3 JSON leaves zero values out; uint32 is a number, uint64 a decimal string.
      assert.equal(status["capacity_unit_count"], node.capacityUnitCount);
      assert.equal(status["free_unit_count"], node.freeUnitCount);
      assert.equal(status["leased_unit_count"] ?? 0, node.leasedUnitCount);
      assert.equal(status["largest_free_run_unit_count"], node.largestFreeRunUnitCount);
      assert.equal(status["serving_state"], node.servingState);
      assert.equal(status["deferred_cap_bytes"], node.deferredCapBytes);
      assert.equal(typeof status["start_time"], "string");
      assert.deepEqual(Object.keys(status).filter((k) => /[A-Z]/.test(k)), [], "no camelCase key");
    } finally {
      admin.close();
    }
  });
});
