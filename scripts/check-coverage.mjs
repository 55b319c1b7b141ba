#!/usr/bin/env node
// The coverage gate, per folder (c8's own thresholds are global or per file, not per folder).
// Reads c8's json-summary (coverage/coverage-summary.json, written by `npm run test:coverage`),
// adds up each folder's files and fails naming every folder below its threshold. The folders'
// file sets are c8's (.c8rc.json: tests, generated code and test-only helpers excluded).
import { readFileSync } from "node:fs";
import { relative } from "node:path";

const THRESHOLDS = [
  { folder: "src/pool", lines: 95, branches: 95, functions: 95, statements: 95 },
  { folder: "src/daemon", lines: 90 },
  { folder: "src/server", lines: 90 },
];
const METRICS = ["lines", "branches", "functions", "statements"];

const root = new URL("..", import.meta.url).pathname;
const summaryPath = new URL("../coverage/coverage-summary.json", import.meta.url).pathname;
let summary;
try {
  summary = JSON.parse(readFileSync(summaryPath, "utf8"));
} catch (error) {
  console.error(`check-coverage: cannot read ${relative(root, summaryPath)} (run c8 with the json-summary reporter first): ${error.message}`);
  process.exit(1);
}

const failures = [];
for (const threshold of THRESHOLDS) {
  const files = Object.entries(summary).filter(([path]) => path !== "total" && relative(root, path).startsWith(`${threshold.folder}/`));
  if (files.length === 0) {
    failures.push(`${threshold.folder}: no files in the coverage summary (check .c8rc.json "include")`);
    continue;
  }
  const parts = [];
  for (const metric of METRICS) {
    const covered = files.reduce((n, [, file]) => n + file[metric].covered, 0);
    const total = files.reduce((n, [, file]) => n + file[metric].total, 0);
    const pct = total === 0 ? 100 : (100 * covered) / total;
    const min = threshold[metric];
    parts.push(`${metric} ${pct.toFixed(2)} %${min === undefined ? "" : ` (min ${min})`}`);
    if (min !== undefined && pct < min) failures.push(`${threshold.folder}: ${metric} ${pct.toFixed(2)} % (${covered}/${total}) is below ${min} %`);
  }
  console.log(`coverage ${threshold.folder} (${files.length} files): ${parts.join(", ")}`);
}
if (failures.length > 0) {
  console.error(`check-coverage: below threshold:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
