import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_DISCIPLINE_PARAMS, DISCIPLINE_NAMES, disciplines } from "./disciplines.ts";
import { parseArgs } from "./fragmentation.ts";
import { Prng } from "../../src/pool/testing/prng.ts";
import { replay } from "./replay.ts";
import { DEFAULT_TRACE_PARAMS, countEvents, generateTrace, type TraceParams } from "./trace.ts";

/** A small, busy host: few units, so that arrivals get rejected and every event kind occurs. */
const SMALL: TraceParams = {
  ...DEFAULT_TRACE_PARAMS,
  poolUnits: 256,
  steps: 400,
  vmSizes: [{ units: 8, weight: 2 }, { units: 32, weight: 1 }],
  arrivalProbability: 0.2,
  meanLifetimeSteps: 60,
  confidentialFraction: 0.5,
  balloon: { ...DEFAULT_TRACE_PARAMS.balloon, inflateProbability: 0.05, burstPages: { min: 1, max: 2048 }, deflateProbability: 0.03 },
  conversion: { ...DEFAULT_TRACE_PARAMS.conversion, burstProbability: 0.1 },
};

test("the PRNG is deterministic for a seed and its draws stay in range", () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const draws = Array.from({ length: 1000 }, () => a.next());
  assert.deepEqual(draws, Array.from({ length: 1000 }, () => b.next()));
  assert.ok(draws.every((x) => x >= 0 && x < 1));
  const c = new Prng(43);
  assert.notDeepEqual(draws.slice(0, 10), Array.from({ length: 10 }, () => c.next()));
  for (let i = 0; i < 1000; i++) {
    const n = a.logInt(1, 64);
    assert.ok(Number.isInteger(n) && n >= 1 && n <= 64, `logInt gave ${n}`);
  }
  assert.throws(() => new Prng(1.5), RangeError);
});

test("a trace is the same for the same seed and differs across seeds", () => {
  const one = generateTrace(SMALL, 7);
  assert.deepEqual(generateTrace(SMALL, 7), one);
  assert.notDeepEqual(generateTrace(SMALL, 8).events, one.events);
  const counts = countEvents(one);
  for (const kind of ["arrive", "depart", "discard", "reuse", "convert"] as const) assert.ok(counts[kind] > 0, `no ${kind} event`);
  for (const event of one.events) {
    if (event.kind === "discard" || event.kind === "reuse" || event.kind === "convert") {
      assert.ok(event.page >= 0 && event.pages >= 1, `bad range ${JSON.stringify(event)}`);
    }
  }
});

test("trace parameters are checked", () => {
  assert.throws(() => generateTrace({ ...SMALL, arrivalProbability: 2 }, 1), /arrivalProbability/);
  assert.throws(() => generateTrace({ ...SMALL, vmSizes: [] }, 1), /vmSizes/);
  assert.throws(() => generateTrace({ ...SMALL, balloon: { ...SMALL.balloon, runPages: { min: 4, max: 2 } } }, 1), /runPages/);
});

test("a short replay keeps every pool invariant under all three disciplines", () => {
  const trace = generateTrace(SMALL, 3);
  const results = disciplines(DEFAULT_DISCIPLINE_PARAMS).map((d) => replay(trace, d, { sampleEvery: 50, checkInvariants: true }));
  assert.deepEqual(results.map((r) => r.discipline), DISCIPLINE_NAMES);
  for (const r of results) {
    assert.ok(r.counters.kernelCalls > 0, `${r.discipline}: no kernel call`);
    assert.ok(r.counters.rejectedArrivals > 0, `${r.discipline}: the small host never rejected a VM`);
    assert.equal(r.samples.length, SMALL.steps / 50 + 1);
    assert.ok(r.final.intactFreeFraction > 0 && r.final.intactFreeFraction <= 1);
  }
  const [gmempool, punch4k, hugetlb] = results;
  // Only 4 KiB punching leaves holes inside units.
  assert.equal(gmempool!.physical.brokenUnits, 0);
  assert.equal(hugetlb!.physical.brokenUnits, 0);
  assert.ok(punch4k!.samples.some((s) => s.brokenUnits > 0));
  assert.ok(hugetlb!.counters.zeroedBytes > 0);
  // Replaying is deterministic too.
  const again = replay(trace, disciplines(DEFAULT_DISCIPLINE_PARAMS)[0]!, { sampleEvery: 50 });
  assert.deepEqual(again.counters, gmempool!.counters);
  assert.deepEqual(again.samples, gmempool!.samples);
});

test("command-line arguments", () => {
  const options = parseArgs(["--seed", "9", "--steps", "100", "--no-svg", "--deferred-cap-gib", "2"]);
  assert.equal(options.seed, 9);
  assert.equal(options.steps, 100);
  assert.equal(options.svg, undefined);
  assert.equal(options.disciplineParams.deferredCapBytes, 2 * 1024 ** 3);
  assert.throws(() => parseArgs(["--seed", "x"]), /--seed/);
  assert.throws(() => parseArgs(["--frobnicate"]), /unknown argument/);
});
