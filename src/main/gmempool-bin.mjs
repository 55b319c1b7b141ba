#!/usr/bin/env node
// The `gmempool` executable (package.json "bin"). `gmempool serve ...` is the daemon
// (src/main/gmempool.ts); `gmempool dra` is the DRA kubelet plugin (clients/dra/main.ts, a client
// of the daemon); every other command is the operator CLI (clients/cli/main.ts), which
// is built on the client library only. In a checkout it runs the TypeScript source through tsx
// (a devDependency), so what runs is always what is in the tree; where tsx is not installed (a
// production install of the built package) it runs the compiled files from `npm run build`.
/* global URL, console, process */
import { existsSync } from "node:fs";

const command = process.argv[2] === "serve" ? "serve" : process.argv[2] === "dra" ? "dra" : "cli";
const entry = { serve: "src/main/gmempool", dra: "clients/dra/main", cli: "clients/cli/main" }[command];
const source = new URL(`../../${entry}.ts`, import.meta.url);
const built = new URL(`../../dist/${entry}.js`, import.meta.url);

let tsx;
try {
  tsx = await import("tsx/esm/api");
} catch {
  tsx = undefined;
}
if (tsx !== undefined && existsSync(source)) {
  tsx.register();
  await import(source.href);
} else if (existsSync(built)) {
  await import(built.href);
} else {
  console.error(`gmempool: neither tsx with ${source.pathname} nor ${built.pathname} (run \`npm run build\`) is available`);
  process.exitCode = 1;
}
