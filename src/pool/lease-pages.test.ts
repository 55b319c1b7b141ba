import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FIELD_DISCARDED, FIELD_POPULATED_SIDE0, FIELD_POPULATED_SIDE1, FIELD_PRIVATE, LeasePages, populatedField } from "./lease-pages.ts";

const PRIVATE = (p: number) => p;
const DISCARDED = (_p: number, d: number) => d;
const POP0 = (_p: number, _d: number, p0: number) => p0;

describe("LeasePages", () => {
  test("a fresh lease is uniform: no split records, every page in the initial state", () => {
    const pages = new LeasePages(4, 1, true);
    assert.equal(pages.pageCount, 2048);
    assert.equal(pages.count(0, 2048, PRIVATE), 2048);
    assert.equal(pages.splitUnitCount, 0);
    assert.equal(pages.splitRecordBytes(), 0);
    pages.assertInvariants();
  });

  test("whole-unit changes never split; a partial change splits one unit only", () => {
    const pages = new LeasePages(4, 1, false);
    pages.setField(FIELD_POPULATED_SIDE0, 0, 2048, true);
    pages.setField(FIELD_DISCARDED, 512, 1024, true);
    assert.equal(pages.splitUnitCount, 0);
    pages.setField(FIELD_PRIVATE, 1030, 1040, true);
    assert.equal(pages.splitUnitCount, 1);
    assert.equal(pages.isSplit(2), true);
    assert.equal(pages.count(0, 2048, PRIVATE), 10);
    assert.equal(pages.count(1024, 1035, PRIVATE), 5);
    assert.equal(pages.splitRecordBytes(), 256);
    pages.assertInvariants();
  });

  test("a split unit folds back to one byte once its pages agree again", () => {
    const pages = new LeasePages(1, 1, false);
    pages.setField(FIELD_PRIVATE, 0, 100, true);
    assert.equal(pages.isSplit(0), true);
    pages.setField(FIELD_PRIVATE, 100, 512, true);
    assert.equal(pages.isSplit(0), false);
    assert.equal(pages.unitByte(0) & 1, 1);
    pages.assertInvariants();
  });

  test("setting a field to the value it already has leaves a uniform unit alone", () => {
    const pages = new LeasePages(1, 1, true);
    pages.setField(FIELD_PRIVATE, 3, 9, true);
    assert.equal(pages.isSplit(0), false);
  });

  test("runs finds maximal page runs across word and unit boundaries", () => {
    const pages = new LeasePages(3, 1, false);
    pages.setField(FIELD_DISCARDED, 30, 40, true);
    pages.setField(FIELD_DISCARDED, 500, 600, true);
    pages.setField(FIELD_DISCARDED, 1024, 1536, true);
    assert.deepEqual(pages.runs(0, 1536, DISCARDED), [[30, 40], [500, 600], [1024, 1536]]);
    assert.deepEqual(pages.runs(35, 520, DISCARDED), [[35, 40], [500, 520]]);
    assert.deepEqual(pages.runs(0, 1536, () => 0), []);
  });

  test("save and restore undo a tentative change exactly", () => {
    const pages = new LeasePages(2, 2, false);
    pages.setField(FIELD_PRIVATE, 10, 20, true);
    const saved = pages.save(0, 2);
    pages.setField(FIELD_PRIVATE, 0, 1024, true);
    pages.setField(FIELD_POPULATED_SIDE1, 5, 6, true);
    pages.restore(saved);
    assert.equal(pages.count(0, 1024, PRIVATE), 10);
    assert.equal(pages.count(0, 1024, (_p, _d, _p0, p1) => p1), 0);
    assert.equal(pages.splitUnitCount, 1);
    pages.assertInvariants();
  });

  test("load rebuilds units from snapshot bytes and records and rejects a split byte without a record", () => {
    const source = new LeasePages(2, 1, false);
    source.setField(FIELD_POPULATED_SIDE0, 0, 700, true);
    const copy = new LeasePages(2, 1, false);
    const records = new Map(source.splitRecords());
    for (let u = 0; u < 2; u++) copy.load(u, source.unitByte(u), records.get(u));
    assert.equal(copy.count(0, 1024, POP0), 700);
    copy.load(1, 0);
    assert.equal(copy.count(0, 1024, POP0), 512);
    assert.throws(() => copy.load(0, 16), /without a record/);
    copy.assertInvariants();
  });

  test("assertInvariants finds a one-sided lease populated on side 1 and a uniform split record", () => {
    const oneSided = new LeasePages(1, 1, false);
    oneSided.setField(FIELD_POPULATED_SIDE1, 0, 512, true);
    assert.throws(() => oneSided.assertInvariants(), /side 1/);
    const pages = new LeasePages(1, 1, false);
    pages.setField(FIELD_PRIVATE, 0, 1, true);
    const [[, record]] = [...pages.splitRecords()] as [[number, Uint32Array]];
    record.fill(0);
    pages.load(0, 16, record);
    assert.throws(() => pages.assertInvariants(), /uniform/);
    const mismatched = new LeasePages(1, 1, false);
    (mismatched as unknown as { bytes: Uint8Array }).bytes[0] = 16;
    assert.throws(() => mismatched.assertInvariants(), /disagree/);
  });

  test("populatedField names side 0 and side 1", () => {
    assert.equal(populatedField(0), FIELD_POPULATED_SIDE0);
    assert.equal(populatedField(1), FIELD_POPULATED_SIDE1);
  });
});
