#!/usr/bin/env node
// prepack: puts a built copy of the wire contract (the workspace package packages/contract,
// @gmempool/contract) into this package's node_modules/, where `npm pack` bundles it
// (bundleDependencies) and where this package's own build (tsc, run next) resolves it.
//
// Why a copy: npm does not pack a workspace-linked dependency through bundleDependencies (it
// skips the symlink), and the contract is not published on its own. Why a build: in the
// repository the contract's exports name its TypeScript sources (tsx runs them, tsc checks
// them); an installed package needs JavaScript and declarations, so the copy holds dist/ (tsc
// with packages/contract/tsconfig.build.json), the protos and a package.json whose exports
// name dist/. postpack runs this with --remove: the copy and the contract's dist/ go, so in the
// repository there is one contract and nothing to drift.
import { spawnSync } from "node:child_process";
import { cpSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const contractDir = join(packageDir, "..", "..", "packages", "contract");
const scopeDir = join(packageDir, "node_modules", "@gmempool");
const target = join(scopeDir, "contract");

/** Removes the copy (never following a symlink: a workspace link there is npm's, not ours). */
function removeCopy() {
  let stat;
  try {
    stat = lstatSync(target);
  } catch {
    return;
  }
  if (stat.isSymbolicLink()) throw new Error(`bundle-contract: ${target} is a symlink (a workspace link?), not this script's copy; not touching it`);
  rmSync(target, { recursive: true, force: true });
  // Leave no empty node_modules/@gmempool or node_modules behind (npm made neither).
  for (const dir of [scopeDir, join(packageDir, "node_modules")]) {
    try {
      if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
    } catch {
      // already gone
    }
  }
}

/** The contract's package.json with exports naming the compiled output instead of src/*.ts. */
function packedManifest() {
  const manifest = JSON.parse(readFileSync(join(contractDir, "package.json"), "utf8"));
  manifest.exports = {
    ".": { types: "./dist/index.d.ts", default: "./dist/index.js" },
    "./generated/*": { types: "./dist/generated/*.d.ts", default: "./dist/generated/*.js" },
    "./package.json": "./package.json",
  };
  delete manifest.scripts;
  return manifest;
}

function bundle() {
  removeCopy();
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const contractDist = join(contractDir, "dist");
  rmSync(contractDist, { recursive: true, force: true });
  const build = spawnSync(process.execPath, [tsc, "-p", join(contractDir, "tsconfig.build.json")], { stdio: "inherit" });
  if (build.status !== 0) throw new Error(`bundle-contract: building ${contractDir} failed (${String(build.status ?? build.signal)})`);
  mkdirSync(target, { recursive: true });
  writeFileSync(join(target, "package.json"), `${JSON.stringify(packedManifest(), null, 2)}\n`);
  cpSync(contractDist, join(target, "dist"), { recursive: true });
  cpSync(join(contractDir, "proto"), join(target, "proto"), { recursive: true });
  rmSync(contractDist, { recursive: true, force: true });
  process.stdout.write(`bundle-contract: built @gmempool/contract into ${target}\n`);
}

if (process.argv.includes("--remove")) removeCopy();
else bundle();
