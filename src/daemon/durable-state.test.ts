import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_POLICY } from "../pool/index.ts";
import { exportSnapshot } from "../pool/snapshot.ts";
import { rebuild, type ArenaMeta, type DurableState, type JournalRecord } from "./durable-state.ts";
import type { FdType } from "./pool-service.ts";

const OPTIONS = { capacityUnits: 8, maxStepUnits: 8, initialPolicy: DEFAULT_POLICY };

function memfdArena(id: string, fdType: string): ArenaMeta {
  return {
    id,
    name: id,
    kind: "memfd",
    owner: { uid: 1000, gid: 1000, pid: 42, startTimeTicks: 7n },
    ownerKey: "1000:42:7",
    initialVisibility: "shared",
    // As an older daemon journaled it: the spelling is not a FdType of today.
    files: [{ fdType: fdType as FdType, memfdName: `gmempool-${id}` }],
    createTime: 0,
  };
}

test("a journal written with the old FdType spelling (memfd-shmem, memfd-hugetlb) is read with the proto's (memfd_shmem, memfd_hugetlb)", () => {
  const record: JournalRecord = {
    t: 0,
    populatedUnits: 0,
    arenas: [
      { meta: memfdArena("a", "memfd-shmem"), sizeUnits: 1, files: ["memfd"], policy: {} },
      { meta: memfdArena("b", "memfd_shmem"), sizeUnits: 1, files: ["memfd"], policy: {} },
    ],
  };
  const fromRecords = rebuild(undefined, [record], OPTIONS);
  assert.deepEqual([...fromRecords.arenas.values()].map((m) => m.files.map((f) => f.fdType)), [["memfd_shmem"], ["memfd_shmem"]]);

  const snapshot: DurableState = {
    version: 1,
    pool: { ...exportSnapshot(fromRecords.pool), arenas: [{ id: "h", owner: "1000:42:7", sizeUnits: 1, files: ["memfd-hugetlb"], policy: {}, leases: [] }] },
    arenas: [memfdArena("h", "memfd-hugetlb")],
    leases: [],
    results: [],
  };
  const fromSnapshot = rebuild(snapshot, [], OPTIONS);
  assert.deepEqual(fromSnapshot.arenas.get("h")?.files.map((f) => f.fdType), ["memfd_hugetlb"]);
});
