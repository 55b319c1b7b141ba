#!/usr/bin/env node
// prepack: puts a built copy of each workspace package the client library depends on — the wire
// contract (packages/contract, @gmempool/contract) and the koffi binding of Linux (packages/sys,
// @gmempool/sys) — into this package's node_modules/, where `npm pack` bundles them
// (bundleDependencies) and where this package's own build (tsc, run next) resolves them.
//
// Why a copy: npm does not pack a workspace-linked dependency through bundleDependencies (it
// skips the symlink), and neither package is published on its own. Why a build: in the
// repository their exports name TypeScript sources (tsx runs them, tsc checks them); an
// installed package needs JavaScript and declarations, so each copy holds dist/ (tsc with the
// package's tsconfig.build.json), the files it ships besides (the contract's protos) and a
// package.json whose exports name dist/. postpack runs this with --remove: the copies and the
// packages' dist/ go, so in the repository there is one of each and nothing to drift.
import { spawnSync } from "node:child_process";
import { cpSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const packagesDir = join(packageDir, "..", "..", "packages");
const scopeDir = join(packageDir, "node_modules", "@gmempool");

/**
 * What to bundle: each package's directory under packages/, the exports of its packed copy
 * (naming dist/; a subpath left out is not shipped, e.g. @gmempool/sys/testing) and the
 * directories it ships besides dist/.
 */
const PACKAGES = [
  {
    name: "contract",
    exports: {
      ".": { types: "./dist/index.d.ts", default: "./dist/index.js" },
      "./generated/*": { types: "./dist/generated/*.d.ts", default: "./dist/generated/*.js" },
      "./package.json": "./package.json",
    },
    extra: ["proto", "third_party"],
  },
  {
    name: "sys",
    exports: {
      ".": { types: "./dist/index.d.ts", default: "./dist/index.js" },
      "./package.json": "./package.json",
    },
    extra: [],
  },
];

/** Removes the copy of `name` (never following a symlink: a workspace link there is npm's, not ours). */
function removeCopy(name) {
  const target = join(scopeDir, name);
  let stat;
  try {
    stat = lstatSync(target);
  } catch {
    return;
  }
  if (stat.isSymbolicLink()) throw new Error(`bundle-workspace-packages: ${target} is a symlink (a workspace link?), not this script's copy; not touching it`);
  rmSync(target, { recursive: true, force: true });
}

/** Leaves no empty node_modules/@gmempool or node_modules behind (npm made neither). */
function removeEmptyDirs() {
  for (const dir of [scopeDir, join(packageDir, "node_modules")]) {
    try {
      if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
    } catch {
      // already gone
    }
  }
}

/** The package's package.json with exports naming the compiled output instead of src/*.ts. */
function packedManifest(sourceDir, exports) {
  const manifest = JSON.parse(readFileSync(join(sourceDir, "package.json"), "utf8"));
  manifest.exports = exports;
  delete manifest.scripts;
  return manifest;
}

function bundle({ name, exports, extra }) {
  removeCopy(name);
  const sourceDir = join(packagesDir, name);
  const target = join(scopeDir, name);
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const dist = join(sourceDir, "dist");
  rmSync(dist, { recursive: true, force: true });
  const build = spawnSync(process.execPath, [tsc, "-p", join(sourceDir, "tsconfig.build.json")], { stdio: "inherit" });
  if (build.status !== 0) throw new Error(`bundle-workspace-packages: building ${sourceDir} failed (${String(build.status ?? build.signal)})`);
  mkdirSync(target, { recursive: true });
  writeFileSync(join(target, "package.json"), `${JSON.stringify(packedManifest(sourceDir, exports), null, 2)}\n`);
  cpSync(dist, join(target, "dist"), { recursive: true });
  // What tsc does not emit but the modules read beside themselves: the contract's generated
  // JSON roots and descriptor set (src/generated/*.json, *.binpb).
  cpSync(join(sourceDir, "src"), join(target, "dist"), { recursive: true, filter: (path) => !/\.[cm]?ts$/.test(path) });
  for (const dir of extra) cpSync(join(sourceDir, dir), join(target, dir), { recursive: true });
  rmSync(dist, { recursive: true, force: true });
  process.stdout.write(`bundle-workspace-packages: built @gmempool/${name} into ${target}\n`);
}

if (process.argv.includes("--remove")) {
  for (const pkg of PACKAGES) removeCopy(pkg.name);
  removeEmptyDirs();
} else {
  for (const pkg of PACKAGES) bundle(pkg);
}
