import assert from "node:assert/strict";
import { appendFile, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { pino } from "pino";
import { Journal, JournalCorruptError } from "./journal.ts";
import { testTempDir } from "./testing/test-temp-dir.ts";

const logger = pino({ level: "silent" });

async function dir(): Promise<string> {
  return testTempDir("journal-test-");
}

interface State {
  readonly values: number[];
}

describe("Journal", () => {
  test("records come back in order after a reopen, with bigints and dates exact", async () => {
    const d = await dir();
    const { journal, recovered } = await Journal.open<State, { n: number; big: bigint; at: Date }>({ dir: d, fsync: true, logger });
    assert.equal(recovered.snapshot, undefined);
    assert.deepEqual(recovered.records, []);
    const at = new Date(1_700_000_000_000);
    await Promise.all([1, 2, 3].map((n) => journal.append({ n, big: 2n ** 63n + BigInt(n), at })));
    await journal.close();
    const again = await Journal.open<State, { n: number; big: bigint; at: Date }>({ dir: d, fsync: true, logger });
    assert.deepEqual(again.recovered.records, [1, 2, 3].map((n) => ({ n, big: 2n ** 63n + BigInt(n), at })));
    assert.equal(again.recovered.lastSeq, 3);
    await again.journal.close();
  });

  test("concurrent appends share one write (group commit)", async () => {
    const d = await dir();
    const { journal } = await Journal.open<State, number>({ dir: d, fsync: true, logger });
    await journal.append(0);
    // 100 appends in one tick: the first write is in flight, the other 99 wait for the next one.
    await Promise.all(Array.from({ length: 100 }, (_, i) => journal.append(i + 1)));
    await journal.close();
    const { recovered } = await Journal.open<State, number>({ dir: d, fsync: false, logger });
    assert.deepEqual(recovered.records, Array.from({ length: 101 }, (_, i) => i));
  });

  test("compaction replaces the log by a snapshot; records after it are replayed on top", async () => {
    const d = await dir();
    const { journal } = await Journal.open<State, number>({ dir: d, fsync: true, logger });
    const values: number[] = [];
    for (let i = 0; i < 5; i++) {
      values.push(i);
      await journal.append(i);
    }
    await journal.compact(() => ({ values: [...values] }));
    assert.equal(journal.recordsSinceSnapshot, 0);
    await journal.append(5);
    await journal.close();
    const files = await readdir(d);
    assert.deepEqual(files.filter((f) => f.startsWith("log-")).length, 1);
    const { recovered } = await Journal.open<State, number>({ dir: d, fsync: true, logger });
    assert.deepEqual(recovered.snapshot, { values: [0, 1, 2, 3, 4] });
    assert.deepEqual(recovered.records, [5]);
  });

  test("a torn last record (never acknowledged) is truncated; the journal goes on", async () => {
    const d = await dir();
    const { journal } = await Journal.open<State, number>({ dir: d, fsync: true, logger });
    await journal.append(1);
    await journal.append(2);
    await journal.close();
    const segment = (await readdir(d)).find((f) => f.startsWith("log-"))!;
    await appendFile(join(d, segment), '1234abcd {"seq":3,"r":'); // a write cut short by kill -9
    const reopened = await Journal.open<State, number>({ dir: d, fsync: true, logger });
    assert.deepEqual(reopened.recovered.records, [1, 2]);
    await reopened.journal.append(3);
    await reopened.journal.close();
    const last = await Journal.open<State, number>({ dir: d, fsync: true, logger });
    assert.deepEqual(last.recovered.records, [1, 2, 3]);
    await last.journal.close();
  });

  test("a damaged record before the end refuses to start, naming the file and offset", async () => {
    const d = await dir();
    const { journal } = await Journal.open<State, number>({ dir: d, fsync: true, logger });
    await journal.append(1);
    await journal.close();
    const segment = (await readdir(d)).find((f) => f.startsWith("log-"))!;
    const text = await readFile(join(d, segment), "utf8");
    await writeFile(join(d, segment), text.replace('"r":1', '"r":7'));
    // A later segment makes the damaged record "not the end": it was acknowledged once.
    await writeFile(join(d, "log-0000000000000099.jsonl"), "");
    await assert.rejects(Journal.open<State, number>({ dir: d, fsync: true, logger }), (e: unknown) => e instanceof JournalCorruptError && /fails its checksum/.test(e.message));
  });

  test("after simulateCrash nothing more reaches the disk", async () => {
    const d = await dir();
    const { journal } = await Journal.open<State, number>({ dir: d, fsync: true, logger });
    await journal.append(1);
    await journal.simulateCrash();
    await assert.rejects(journal.append(2), /closed/);
    const { recovered } = await Journal.open<State, number>({ dir: d, fsync: true, logger });
    assert.deepEqual(recovered.records, [1]);
  });
});
