import assert from "node:assert/strict";
import { test } from "node:test";
import { parseSize, parseVmmArgs, UsageError } from "./cli-args.ts";

test("sizes: binary units with or without the i, any case, or plain bytes", () => {
  assert.equal(parseSize("64MiB"), 64n << 20n);
  assert.equal(parseSize("64m"), 64n << 20n);
  assert.equal(parseSize("1GiB"), 1n << 30n);
  assert.equal(parseSize("8192 KiB"), 8n << 20n);
  assert.equal(parseSize("2097152"), 2n << 20n);
  assert.throws(() => parseSize("64 MB?"), UsageError);
  assert.throws(() => parseSize("-2M"), /not a size: "-2M"/);
});

test("defaults: 64 MiB, KVM if present, human output, the daemon's runtime dir, a name with the pid", () => {
  assert.deepEqual(parseVmmArgs([], 42), { runtimeDir: undefined, memoryBytes: 64n << 20n, name: "example-vmm-42", noKvm: false, hold: false, json: false, help: false });
});

test("every option", () => {
  assert.deepEqual(parseVmmArgs(["--runtime-dir", "/tmp/x", "--memory", "16MiB", "--name", "vm1", "--no-kvm", "--hold", "--json"]), {
    runtimeDir: "/tmp/x",
    memoryBytes: 16n << 20n,
    name: "vm1",
    noKvm: true,
    hold: true,
    json: true,
    help: false,
  });
});

test("unknown options and stray arguments are usage errors", () => {
  assert.throws(() => parseVmmArgs(["--kvm"]), (e: unknown) => e instanceof UsageError && /--kvm/.test(e.message));
  assert.throws(() => parseVmmArgs(["64MiB"]), UsageError);
  assert.throws(() => parseVmmArgs(["--memory"]), UsageError);
});
