#!/usr/bin/env node
// The `gmempool` executable (package.json "bin"). In a checkout it runs the TypeScript source
// through tsx (a devDependency), so what runs is always what is in src/; where tsx is not
// installed (a production install of the built package) it runs the compiled
// dist/src/main/gmempool.js from `npm run build`.
/* global URL, console, process */
import { existsSync } from "node:fs";

const source = new URL("./gmempool.ts", import.meta.url);
const built = new URL("../../dist/src/main/gmempool.js", import.meta.url);

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
  console.error("gmempool: neither tsx with src/main/gmempool.ts nor dist/src/main/gmempool.js (run `npm run build`) is available");
  process.exitCode = 1;
}
