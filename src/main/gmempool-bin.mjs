#!/usr/bin/env node
// The `gmempool` executable (package.json "bin"). `gmempool serve ...` is the daemon
// (src/main/gmempool.ts); `gmempool dra` is the DRA kubelet plugin (clients/dra/main.ts, a client
// of the daemon); every other command is the operator CLI (clients/cli/main.ts), which is built
// on the client library only.
//
// What runs, first that applies:
// 1. in a checkout with esbuild, the TypeScript entry bundled into one module and cached,
//    rebuilt when a source changes (entry-bundle.mjs: it starts the daemon in about 55 % of the
//    time tsx takes, `npm run bench -- restart`) — what is in the tree is what runs;
// 2. the TypeScript source through tsx (also with GMEMPOOL_ENTRY=source, to debug or compare);
// 3. the compiled files of `npm run build` (a production install without devDependencies).
/* global URL, console, process */
import { existsSync } from "node:fs";
import { ENTRIES, ENTRY_PATHS, bundledEntry } from "./entry-bundle.mjs";

const name = process.argv[2] === "serve" ? "serve" : process.argv[2] === "dra" ? "dra" : "cli";
const source = ENTRIES[name];
const built = new URL(`../../dist/${ENTRY_PATHS[name]}.js`, import.meta.url);
const fromSource = process.env.GMEMPOOL_ENTRY === "source";

async function run() {
  if (existsSync(source)) {
    if (!fromSource) {
      const bundle = await bundledEntry(source, name);
      if (bundle !== undefined) return import(bundle.href);
    }
    let tsx;
    try {
      tsx = await import("tsx/esm/api");
    } catch {
      tsx = undefined;
    }
    if (tsx !== undefined) {
      tsx.register();
      return import(source.href);
    }
  }
  if (existsSync(built)) return import(built.href);
  console.error(`gmempool: neither tsx with ${source.pathname} nor ${built.pathname} (run \`npm run build\`) is available`);
  process.exitCode = 1;
}

await run();
