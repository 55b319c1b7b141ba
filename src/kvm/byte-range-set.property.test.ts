/**
 * ByteRangeSet against a model: a set of 4 KiB page indices, under random adds and removes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ByteRangeSet } from "./byte-range-set.ts";

const PAGE = 4096n;
const PAGES = 64;
const op = fc.record({ add: fc.boolean(), start: fc.integer({ min: 0, max: PAGES }), length: fc.integer({ min: 0, max: PAGES }) });

test("ByteRangeSet behaves like a set of pages under any sequence of adds and removes", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), fc.integer({ min: 0, max: PAGES }), fc.integer({ min: 0, max: PAGES }), (ops, qa, qb) => {
      const set = new ByteRangeSet();
      const model = new Set<number>();
      for (const { add, start, length } of ops) {
        const end = Math.min(PAGES, start + length);
        if (add) set.add(BigInt(start) * PAGE, BigInt(end) * PAGE);
        else set.remove(BigInt(start) * PAGE, BigInt(end) * PAGE);
        for (let p = start; p < end; p++) {
          if (add) model.add(p);
          else model.delete(p);
        }
        set.assertInvariants();
      }
      assert.equal(set.bytes, BigInt(model.size) * PAGE);
      const [lo, hi] = qa <= qb ? [qa, qb] : [qb, qa];
      const inRange = [...Array(hi - lo).keys()].map((i) => lo + i);
      const members = inRange.filter((p) => model.has(p));
      const gaps = inRange.filter((p) => !model.has(p));
      assert.equal(set.bytesIn(BigInt(lo) * PAGE, BigInt(hi) * PAGE), BigInt(members.length) * PAGE);
      assert.equal(set.covers(BigInt(lo) * PAGE, BigInt(hi) * PAGE), gaps.length === 0);
      assert.equal(set.firstIn(BigInt(lo) * PAGE, BigInt(hi) * PAGE), members[0] === undefined ? undefined : BigInt(members[0]) * PAGE);
      assert.equal(set.firstGap(BigInt(lo) * PAGE, BigInt(hi) * PAGE), gaps[0] === undefined ? undefined : BigInt(gaps[0]) * PAGE);
    }),
    { numRuns: 500 },
  );
});
