// The `gmempool` executable's fast path in a checkout: the TypeScript entry (the daemon's or the
// CLI's) bundled by esbuild into one ES module, cached under node_modules/.cache/gmempool/ and
// rebuilt only when a source it was built from changes.
//
// Why: loading ~120 TypeScript modules through tsx's loader hooks (each resolve and load a
// round trip to the hooks thread, each file transformed), and the npm packages' hundreds of
// files, was most of the daemon's start-up: with 10 k leases, spawn → serving 1.2 s p50 for
// the bundle against 2.4 s through tsx, side by side on this 2-core machine (issue 12 item 7;
// `npm run bench -- restart` measures both). Building takes 0.7–1.2 s, so it is done once,
// not at every start; checking that it is fresh (~390 stats) takes ~4 ms.
//
// What is bundled: the repository's own sources and the npm packages (CPU time to serving
// with an empty journal: ~0.9 s against ~1.25 s with the packages left in node_modules), all
// but koffi, whose native module is loaded from beside it. Every bundled file sees its own
// path as `import.meta.url`, `__dirname` and `__filename`, as when run unbundled, so that
// @gmempool/contract finds its generated files and protos (package-definition.ts); the
// banner gives the CommonJS packages a `require` for Node's built-ins.
//
// Staleness: the manifest beside the bundle records, for every input, the size and mtime of
// the very bytes esbuild was given (read here, in the load hook); the bundle is used only if
// each input still has them. A build writes to temporary names and renames, so two processes
// starting at once (tests) never see half a bundle.
//
// Not available (no esbuild: a production install without devDependencies), this returns
// undefined and the caller falls back to tsx or the compiled tree.
/* global URL, process */
import { readFileSync, statSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const CACHE = join(REPO, "node_modules/.cache/gmempool");
/** Bump when the build options below change: old bundles are then rebuilt. */
const BUILDER_VERSION = 1;

function manifestKey() {
  return { builder: BUILDER_VERSION, node: process.version };
}

/** True when every input recorded in the manifest has the size and mtime it was built from. */
function isFresh(manifestPath) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  } catch {
    return false;
  }
  const key = manifestKey();
  if (manifest.builder !== key.builder || manifest.node !== key.node) return false;
  for (const [path, { size, mtimeMs }] of Object.entries(manifest.inputs)) {
    let now;
    try {
      now = statSync(join(REPO, path));
    } catch {
      return false;
    }
    if (now.size !== size || now.mtimeMs !== mtimeMs) return false;
  }
  return true;
}

/** Builds the bundle; its files (bundle, source map, manifest) are written as PATH + suffix. */
async function build(entry, bundlePath, manifestPath, suffix) {
  let esbuild;
  try {
    esbuild = await import("esbuild");
  } catch {
    return undefined;
  }
  const inputs = {};
  const sourceFiles = {
    name: "gmempool-sources",
    setup(builder) {
      builder.onLoad({ filter: /\.[cm]?[jt]s$/ }, async ({ path }) => {
        // Stat before reading: if the file changes in between, the recorded mtime is older
        // than the file's and the next start rebuilds.
        const before = await stat(path);
        const text = await readFile(path, "utf8");
        inputs[relative(REPO, path)] = { size: before.size, mtimeMs: before.mtimeMs };
        const contents = text
          .replaceAll("import.meta.url", JSON.stringify(pathToFileURL(path).href))
          .replaceAll(/\b__dirname\b/g, JSON.stringify(dirname(path)))
          .replaceAll(/\b__filename\b/g, JSON.stringify(path));
        return { contents, loader: path.endsWith("ts") ? "ts" : "js", resolveDir: dirname(path) };
      });
    },
  };
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["koffi"],
    banner: { js: 'import { createRequire as __gmempoolCreateRequire } from "node:module"; const require = __gmempoolCreateRequire(import.meta.url);' },
    // The final name, so that the bundle's sourceMappingURL names the final map.
    outfile: bundlePath,
    write: false,
    sourcemap: "linked",
    keepNames: true,
    logLevel: "warning",
    plugins: [sourceFiles],
  });
  for (const file of result.outputFiles) writeFileSync(file.path + suffix, file.contents);
  writeFileSync(manifestPath + suffix, JSON.stringify({ ...manifestKey(), inputs }));
  return result.outputFiles.map((file) => file.path);
}

/**
 * The URL of the bundle of `entry` (a file: URL of a .ts file), built if missing or stale;
 * undefined when it cannot be built here.
 */
export async function bundledEntry(entry, name) {
  const bundlePath = join(CACHE, `${name}.mjs`);
  const manifestPath = join(CACHE, `${name}.json`);
  if (!isFresh(manifestPath)) {
    const suffix = `.${process.pid}.tmp`;
    try {
      mkdirSync(CACHE, { recursive: true });
      const outputs = await build(entry, bundlePath, manifestPath, suffix);
      if (outputs === undefined) return undefined;
      // The manifest last: until it is renamed, the bundle is not taken for fresh.
      for (const path of [...outputs, manifestPath]) renameSync(path + suffix, path);
    } catch (error) {
      // E.g. a read-only tree (systemd's ProtectSystem=strict) whose bundle was not built at
      // install time (deploy/install.sh builds it): the source through tsx still runs.
      process.stderr.write(`gmempool: could not bundle ${fileURLToPath(entry)} into ${CACHE} (running it through tsx instead): ${error?.message ?? error}\n`);
      return undefined;
    }
  }
  return pathToFileURL(bundlePath);
}

/** The entries of the `gmempool` executable by command (gmempool-bin.mjs), without extension, from the repository root. */
export const ENTRY_PATHS = { serve: "src/main/gmempool", dra: "clients/dra/main", cli: "clients/cli/main" };
/** ... as URLs of their TypeScript sources. */
export const ENTRIES = Object.fromEntries(Object.entries(ENTRY_PATHS).map(([name, path]) => [name, new URL(`../../${path}.ts`, import.meta.url)]));

// `node src/main/entry-bundle.mjs`: build every bundle now (an install step, so that the
// installed tree need not be writable at run time).
if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) {
  for (const [name, entry] of Object.entries(ENTRIES)) {
    if ((await bundledEntry(entry, name)) === undefined) process.exitCode = 1;
  }
}
