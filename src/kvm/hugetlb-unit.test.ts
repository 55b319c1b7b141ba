import assert from "node:assert/strict";
import { test } from "node:test";
import { UNIT_BYTES } from "@gmempool/contract";
import { HUGETLB_PAGE_BYTES } from "@gmempool/sys";

test("a unit is one 2 MiB hugetlb page: a hugetlb arena allocates and frees whole pages (MFD_HUGE_2MB)", () => {
  assert.equal(HUGETLB_PAGE_BYTES, UNIT_BYTES);
});
