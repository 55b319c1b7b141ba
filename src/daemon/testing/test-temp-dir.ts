/**
 * Temporary directories for tests (journals of fake daemons): all under one directory per
 * process, removed when the process exits, so that a test file leaves /tmp as it found it even
 * when a test crashes the daemon it started and restarts another on the same journal.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

let parent: string | undefined;

function parentDir(): string {
  if (parent === undefined) {
    const made = mkdtempSync(join(tmpdir(), "gmempool-test-"));
    parent = made;
    process.once("exit", () => {
      rmSync(made, { recursive: true, force: true });
    });
  }
  return parent;
}

/** A fresh directory `<parent>/<prefix>XXXXXX`; removed with its parent at process exit. */
export async function testTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(parentDir(), prefix));
}

/** `testTempDir`, for a constructor that cannot wait. */
export function testTempDirSync(prefix: string): string {
  return mkdtempSync(join(parentDir(), prefix));
}
