import assert from "node:assert/strict";
import { test } from "node:test";
import { UNIT_BYTES } from "../../node/src/units.ts";
import { BOOT_LAYOUT_END } from "./guest/guest-layout.ts";
import { planMemory } from "./memory-plan.ts";

const MiB = 1n << 20n;
const end = (r: { offsetBytes: bigint; lengthBytes: bigint }): bigint => r.offsetBytes + r.lengthBytes;

test("64 MiB: boot = units [0, 16), hot-plug = [16, 24), the rest free; sub-unit discard and conversion in boot's last unit, whole-unit discard in the hot-plug's last", () => {
  const plan = planMemory(64n * MiB);
  assert.equal(plan.arenaUnitCount, 32);
  assert.deepEqual(plan.boot, { label: "boot", offsetBytes: 0n, unitCount: 16 });
  assert.deepEqual(plan.hotplug, { label: "hotplug-1", offsetBytes: 32n * MiB, unitCount: 8 });
  assert.deepEqual(plan.subUnitDiscard, { offsetBytes: 31n * MiB, lengthBytes: 64n * 1024n });
  assert.deepEqual(plan.conversion, { offsetBytes: 30n * MiB, lengthBytes: 16n * 1024n });
  assert.deepEqual(plan.wholeUnitDiscard, { offsetBytes: 46n * MiB, lengthBytes: 2n * MiB });
});

test("at every size from 4 to 600 units the ranges are page aligned, inside their lease, clear of the guest's boot layout and of each other", () => {
  for (let units = 4; units <= 600; units++) {
    const plan = planMemory(BigInt(units) * UNIT_BYTES);
    const bootEnd = BigInt(plan.boot.unitCount) * UNIT_BYTES;
    const hotplugEnd = plan.hotplug.offsetBytes + BigInt(plan.hotplug.unitCount) * UNIT_BYTES;
    assert.ok(hotplugEnd <= plan.arenaBytes && plan.hotplug.offsetBytes === bootEnd, `${units}: leases fit`);
    for (const r of [plan.subUnitDiscard, plan.conversion]) {
      assert.ok(r.offsetBytes >= UNIT_BYTES && r.offsetBytes >= BOOT_LAYOUT_END && end(r) <= bootEnd, `${units}: in boot, after unit 0`);
      assert.equal(r.offsetBytes % 4096n, 0n);
    }
    assert.ok(end(plan.conversion) <= plan.subUnitDiscard.offsetBytes, `${units}: conversion and discard apart`);
    assert.ok(plan.wholeUnitDiscard.offsetBytes >= plan.hotplug.offsetBytes && end(plan.wholeUnitDiscard) === hotplugEnd, `${units}: whole unit in hot-plug`);
  }
});

test("sizes that are not whole units, or under 4 units, are refused with the number", () => {
  assert.throws(() => planMemory(64n * MiB + 4096n), /multiple of 2 MiB, got 67112960 bytes/);
  assert.throws(() => planMemory(6n * MiB), /at least 4 units \(8 MiB\), got 3/);
});
