import assert from "node:assert/strict";
import { test } from "node:test";
import { IDENTITY_MAP_BYTES, PD_GPA, PDPT_GPA, PML4_GPA } from "./guest-layout.ts";
import { identityPageTables } from "./page-tables.ts";

const entries = (bytes: Uint8Array): bigint[] => Array.from({ length: 512 }, (_, i) => new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(i * 8, true));

test("the page tables chain PML4[0] -> PDPT[0] -> a PD of 512 present, writable 2 MiB pages identity-mapping [0, 1 GiB)", () => {
  const [pml4, pdpt, pd] = identityPageTables();
  assert.deepEqual([pml4?.gpa, pdpt?.gpa, pd?.gpa], [PML4_GPA, PDPT_GPA, PD_GPA]);
  assert.deepEqual(entries(pml4!.bytes).slice(0, 2), [0x9003n, 0n]);
  assert.deepEqual(entries(pdpt!.bytes).slice(0, 2), [0xa003n, 0n]);
  const pdEntries = entries(pd!.bytes);
  assert.equal(pdEntries[0], 0x83n);
  assert.equal(pdEntries[1], 0x200083n);
  assert.equal(pdEntries[511], IDENTITY_MAP_BYTES - (2n << 20n) + 0x83n);
  assert.ok(pdEntries.every((e, i) => e === ((BigInt(i) << 21n) | 0x83n)));
});
