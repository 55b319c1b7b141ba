#!/usr/bin/env node
// Runs every test file of the project with node:test through tsx.
//
// Node 20's `node --test` takes directories but only discovers *.js files, so the TypeScript
// test files are listed here and passed by name. Arguments narrow the set: a path prefix
// (`src/pool`) or a suffix class (`--kvm` for *.kvm.test.ts only, `--no-kvm` to leave them out).
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

const ROOTS = ["src", "packages", "clients", "bench", "test"];
const root = new URL("..", import.meta.url).pathname;

function* walk(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (entry.name === "node_modules" || entry.name === "dist") continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.name.endsWith(".test.ts")) yield relative(root, path);
  }
}

const args = process.argv.slice(2);
const prefixes = args.filter((a) => !a.startsWith("--"));
const onlyKvm = args.includes("--kvm");
const noKvm = args.includes("--no-kvm");

const files = ROOTS.flatMap((r) => [...walk(join(root, r))])
  .filter((f) => prefixes.length === 0 || prefixes.some((p) => f.startsWith(p)))
  .filter((f) => !onlyKvm || f.endsWith(".kvm.test.ts"))
  .filter((f) => !noKvm || !f.endsWith(".kvm.test.ts"))
  .sort();

if (files.length === 0) {
  console.error(`run-tests: no test files match ${args.join(" ") || "(all)"}`);
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", `--test-reporter=${process.env.GMEMPOOL_TEST_REPORTER ?? "spec"}`, "--test-concurrency=2", "--test-timeout=300000", ...files],
  { cwd: root, stdio: "inherit" },
);
process.exit(result.status ?? 1);
