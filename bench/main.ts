/**
 * One entry point for every benchmark: `npm run bench -- NAME [--json] [args...]`.
 * Add a benchmark by writing bench/NAME.ts (exporting `bench: Bench`) and listing it below.
 */
import type { Bench } from "./bench.ts";

/** NAME -> module path. Loaded lazily so that one benchmark's imports never slow another. */
const BENCHES: Record<string, string> = {
  "pool-core": "./pool-core.ts",
  fragmentation: "./fragmentation/fragmentation.ts",
  rpc: "./rpc.ts",
  "allocate-breakdown": "./allocate-breakdown.ts",
  "kernel-throughput": "./kernel-throughput.ts",
  restart: "./restart.ts",
  flood: "./flood.ts",
};

async function main(argv: readonly string[]): Promise<number> {
  const json = argv.includes("--json");
  const rest = argv.filter((a) => a !== "--json");
  const name = rest[0];
  const path = name === undefined ? undefined : BENCHES[name];
  if (name === undefined || path === undefined) {
    console.error(`usage: npm run bench -- NAME [--json] [args]\n\nNAME is one of: ${Object.keys(BENCHES).join(", ")}`);
    return name === undefined ? 0 : 2;
  }
  const mod = (await import(path)) as { bench: Bench };
  const result = await mod.bench.run(rest.slice(1));
  if (json) console.log(JSON.stringify(result.json));
  else console.log(result.table.join("\n"));
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
