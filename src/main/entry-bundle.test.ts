/**
 * The `gmempool` executable's bundled entry (entry-bundle.mjs): built once into
 * node_modules/.cache/gmempool, every bundled module seeing its own source file as
 * import.meta.url, and rebuilt when — and only when — a source it was built from changes.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const BIN = join(REPO, "src/main/gmempool-bin.mjs");
const CACHE = join(REPO, "node_modules/.cache/gmempool");

interface Manifest {
  readonly inputs: Record<string, { readonly size: number; readonly mtimeMs: number }>;
}

const manifest = (name: string): Manifest => JSON.parse(readFileSync(join(CACHE, `${name}.json`), "utf8")) as Manifest;
const gmempool = (...args: string[]): string => execFileSync(process.execPath, [BIN, ...args], { cwd: REPO, encoding: "utf8", env: { ...process.env, GMEMPOOL_ENTRY: "" } });

describe("the bundled entry", () => {
  test("the daemon's bundle holds the repository's sources, each seeing its own file as import.meta.url, and the npm packages stay outside", () => {
    execFileSync(process.execPath, [join(REPO, "src/main/entry-bundle.mjs")], { cwd: REPO });
    const inputs = Object.keys(manifest("serve").inputs);
    assert.ok(inputs.includes("src/main/gmempool.ts"));
    assert.ok(inputs.includes("packages/contract/src/proto-options.ts"));
    assert.ok(!inputs.some((path) => path.includes("node_modules/koffi")), "koffi (a native module) is loaded from node_modules");
    const bundle = readFileSync(join(CACHE, "serve.mjs"), "utf8");
    assert.ok(bundle.includes(JSON.stringify(pathToFileURL(join(REPO, "packages/contract/src/proto-options.ts")).href)), "proto-options.ts finds its protos from its own path");
    // The one import.meta.url left is the banner's (the bundle's own require for CommonJS packages).
    assert.equal(bundle.match(/import\.meta\.url/g)?.length, 1);
  });

  test("it is rebuilt when a source changes and not otherwise", () => {
    assert.equal(gmempool("--version").trim(), "0.1.0");
    const built = statSync(join(CACHE, "cli.json")).mtimeMs;
    gmempool("--version");
    assert.equal(statSync(join(CACHE, "cli.json")).mtimeMs, built, "a fresh bundle is used as it is");
    // Touch one input (content unchanged): the recorded mtime no longer matches.
    const source = join(REPO, "clients/cli/main.ts");
    const before = statSync(source);
    const later = new Date(Math.max(Date.now(), before.mtimeMs + 1000));
    utimesSync(source, later, later);
    assert.equal(gmempool("--version").trim(), "0.1.0");
    assert.equal(manifest("cli").inputs["clients/cli/main.ts"]!.mtimeMs, statSync(source).mtimeMs);
  });
});
