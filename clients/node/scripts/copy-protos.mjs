#!/usr/bin/env node
// prepack: copies the repository's proto/gmempool/v1/*.proto into this package's proto/, where
// src/wire/proto-files.ts finds them once installed from npm (it walks up from itself to the
// first proto/ directory holding gmempool/v1/pool.proto). In the repository there is one copy,
// the repository's own; postpack runs this with --remove so that no second copy can drift.
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(packageDir, "..", "..", "proto", "gmempool", "v1");
const target = join(packageDir, "proto", "gmempool", "v1");

if (process.argv.includes("--remove")) {
  rmSync(join(packageDir, "proto"), { recursive: true, force: true });
} else {
  const files = readdirSync(source).filter((name) => name.endsWith(".proto"));
  if (files.length === 0) throw new Error(`copy-protos: no .proto files in ${source}`);
  mkdirSync(target, { recursive: true });
  for (const name of files) copyFileSync(join(source, name), join(target, name));
  process.stdout.write(`copy-protos: ${files.length} files to ${target}\n`);
}
