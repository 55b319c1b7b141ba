import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assertWellFormedXml } from "../testing/assert-well-formed-xml.ts";
import { arenaFor, busyPool, EVERY_STATE_ARENA, leaseFor, run, sampleMap, WIDE_ARENA } from "../testing/sample-maps.ts";
import type { ArenaUnitMap } from "../../node/src/resources.ts";
import { fragLabels, leaseExtents } from "./frag-labels.ts";

const leaseExtentsCount = (arena: ArenaUnitMap): number => leaseExtents(arena).length;
import { renderFragSvg, svgUnitsPerRow } from "./frag-svg.ts";

function runRects(svg: string): { state: string; first: number; count: number }[] {
  return [...svg.matchAll(/<rect class="run" data-state="(\w+)" data-first-unit="(\d+)" data-unit-count="(\d+)"/g)].map((m) => ({ state: m[1]!, first: Number(m[2]), count: Number(m[3]) }));
}

describe("renderFragSvg", () => {
  test("is well-formed XML with an svg root and a title", () => {
    const svg = renderFragSvg(sampleMap());
    const elements = assertWellFormedXml(svg);
    assert.equal(elements[0], "svg");
    assert.equal(elements[1], "title");
    assert.match(svg, /<title>gmempool fragmentation map at 2025-01-02T03:04:05\.000Z<\/title>/);
  });

  test("one rect per unit run, in the run's state, with a tooltip naming its units and lease", () => {
    const svg = renderFragSvg(sampleMap());
    assert.deepEqual(
      runRects(svg),
      EVERY_STATE_ARENA.runs.map((r) => ({ state: r.state, first: r.firstUnit, count: r.unitCount })),
    );
    assert.match(svg, /<title>units 0–1 \(4 MiB\): leased, lease l-1<\/title>/);
    assert.match(svg, /<title>unit 2 \(2 MiB\): split, lease l-1<\/title>/);
  });

  test("a legend rect per state", () => {
    const svg = renderFragSvg(sampleMap());
    const legend = [...svg.matchAll(/<rect class="legend" data-state="(\w+)"/g)].map((m) => m[1]);
    assert.deepEqual(legend, ["free", "leased", "split", "deferred", "discarded", "claimed"]);
  });

  test("rows are at most 1 GiB: a run across a row's end is drawn as two rects covering every unit once", () => {
    assert.equal(svgUnitsPerRow(sampleMap([WIDE_ARENA])), 512);
    const rects = runRects(renderFragSvg(sampleMap([WIDE_ARENA])));
    assert.deepEqual(rects.slice(0, 2), [
      { state: "leased", first: 0, count: 512 },
      { state: "leased", first: 512, count: 488 },
    ]);
    assert.equal(
      rects.reduce((sum, r) => sum + r.count, 0),
      WIDE_ARENA.unitCount,
    );
  });

  test("small pools get wider units: the row fits the largest arena (at least 64 units)", () => {
    assert.equal(svgUnitsPerRow(sampleMap([EVERY_STATE_ARENA])), 64);
    assert.equal(svgUnitsPerRow(sampleMap([{ ...EVERY_STATE_ARENA, unitCount: 100, runs: [run(0, 100, "free")] }])), 128);
  });

  test("escapes ids that contain XML characters", () => {
    const odd = { ...EVERY_STATE_ARENA, arenaId: `a<&>"'`, runs: [run(0, 8, "leased", "l&<1>")] };
    const svg = renderFragSvg(sampleMap([odd]));
    assertWellFormedXml(svg);
    assert.match(svg, /arena a&lt;&amp;&gt;&quot;&apos;/);
  });

  test("the reserve and the kernel's zones are written as text", () => {
    const svg = renderFragSvg(sampleMap());
    assert.match(svg, /reserve \(gmem\): 700 units/);
    assert.match(svg, />order 9 \(1 GiB – &lt;2 GiB\): 1 free run</);
    assert.match(svg, />order 0 \(2 MiB – &lt;4 MiB\): 3 free runs</);
    assert.match(svg, /zone Normal, order 9 120, order 10 30, free 360 MiB/);
  });

  test("an isolated split unit at 512 units a row (2 px) is outlined and gets a marker at least 6 px wide above its row", () => {
    const svg = renderFragSvg(sampleMap([WIDE_ARENA]));
    assertWellFormedXml(svg);
    const marker = /<rect class="marker" data-state="split" data-first-unit="1001" data-unit-count="1" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"/.exec(svg);
    assert.ok(marker !== null, "a marker for unit 1001");
    assert.ok(Number(marker[3]) >= 6, `marker ${marker[3]} px wide`);
    const unit = /<rect class="run" data-state="split" data-first-unit="1001" data-unit-count="1" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"[^>]* stroke="#000"/.exec(svg);
    assert.ok(unit !== null, "the unit itself is outlined");
    assert.equal(Number(marker[1]) + Number(marker[3]) / 2, Number(unit[1]) + Number(unit[3]) / 2, "centred on the unit");
    assert.ok(Number(marker[2]) < Number(unit[2]), "above the row");
    assert.equal([...svg.matchAll(/class="marker"/g)].length, 1, "free and leased runs get none");
  });

  test("every deferred and split run of a busy pool is marked", () => {
    const { map, labels } = busyPool();
    const svg = renderFragSvg(map, labels);
    const marked = map.arenas.flatMap((a) => a.runs).filter((r) => r.state === "split" || r.state === "deferred");
    assert.equal([...svg.matchAll(/<rect class="marker"/g)].length, marked.length);
  });

  test("an arena's leases wrap onto at most 4 lines, the last counting the rest", () => {
    const { map, labels } = busyPool();
    const lines = [...renderFragSvg(sampleMap([map.arenas[0]!]), labels).matchAll(/<text [^>]*class="leases"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
    assert.equal(lines.length, 4);
    const listed = lines.join(" ").match(/l-1-\d+ /g)!.length;
    assert.match(lines[3]!, new RegExp(`, \\+${leaseExtentsCount(map.arenas[0]!) - listed} more$`));
  });

  test("headings name the arena, its kind and owner; tooltips and the lease line carry the labels", () => {
    const arena = arenaFor(EVERY_STATE_ARENA, "vm-web", "memfd", { pid: 42, uid: 1000 }, "hugetlb");
    const svg = renderFragSvg(sampleMap(), fragLabels([arena], [leaseFor("l-1", "a-small", "boot & ram")]));
    assertWellFormedXml(svg);
    assert.match(svg, />arena a-small &quot;vm-web&quot; memfd hugetlb, pid 42 uid 1000: 8 units \(16 MiB\)/);
    assert.match(svg, /<title>units 0–1 \(4 MiB\): leased, lease l-1 &quot;boot &amp; ram&quot;<\/title>/);
    assert.match(svg, /<text [^>]*class="leases"[^>]*>leases: l-1 &quot;boot &amp; ram&quot; 0–5<\/text>/);
  });
});
