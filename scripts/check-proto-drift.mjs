#!/usr/bin/env node
// Fails when the committed generated types (packages/contract/src/generated/, the one copy the
// daemon and the client library share) are not what `npm run gen:proto` produces from the current .proto files, loader options and
// @grpc/proto-loader version (STYLE.md rule 9). Regenerates into a temporary directory and
// compares file lists and contents byte for byte; the committed tree is never touched.
//
//   npm run check:proto
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const COMMITTED_DIR = join(root, "packages/contract/src/generated");

function listFiles(dir) {
  const files = [];
  const walk = (d) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push(relative(dir, path));
    }
  };
  walk(dir);
  return files.sort();
}

/** Regenerates into `freshDir` and compares; returns the process exit code. */
function check(freshDir) {
  const gen = spawnSync(process.execPath, ["--import", "tsx", "scripts/gen-proto.ts", "--out", freshDir], {
    cwd: root,
    encoding: "utf8",
  });
  if (gen.status !== 0) {
    process.stderr.write(gen.stdout + gen.stderr);
    console.error("check-proto: generation failed");
    return 1;
  }
  return compare(freshDir, listFiles(freshDir), COMMITTED_DIR);
}

/** Compares the committed copy with the fresh output; returns 1 when it differs. */
function compare(freshDir, fresh, committedDir) {
  const name = relative(root, committedDir);
  const committed = listFiles(committedDir);
  const problems = [];
  for (const file of fresh) {
    if (!committed.includes(file)) problems.push(`missing: ${file}`);
    else if (!readFileSync(join(freshDir, file)).equals(readFileSync(join(committedDir, file)))) {
      problems.push(`differs: ${file}`);
    }
  }
  for (const file of committed) if (!fresh.includes(file)) problems.push(`stale:   ${file}`);
  if (problems.length > 0) {
    console.error(`check-proto: ${name}/ is out of date (${problems.length} files):`);
    for (const p of problems.slice(0, 50)) console.error(`  ${p}`);
    console.error("Run `npm run gen:proto` and commit the result.");
    return 1;
  }
  console.log(`check-proto: ${name}/ matches the protos (${fresh.length} files)`);
  return 0;
}

const freshDir = mkdtempSync(join(tmpdir(), "gmempool-proto-"));
try {
  process.exitCode = check(freshDir);
} finally {
  rmSync(freshDir, { recursive: true, force: true });
}
