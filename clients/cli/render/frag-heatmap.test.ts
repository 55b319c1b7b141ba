import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EVERY_STATE_ARENA, EVERY_STATE_LINE, sampleMap, WIDE_ARENA } from "../testing/sample-maps.ts";
import { PLAIN_HEATMAP, renderArenaGrid, renderFragHeatmap } from "./frag-heatmap.ts";
import { LEGEND_STATES, UNIT_STATE_STYLES } from "./unit-state-style.ts";

const ESC = "\x1b";

function stripAnsi(text: string): string {
  return text.replace(new RegExp(`${ESC}\\[[0-9;]*m`, "g"), "");
}

describe("renderFragHeatmap, plain", () => {
  const text = renderFragHeatmap(sampleMap(), PLAIN_HEATMAP);

  test("one character per unit, in the state of the run that covers it", () => {
    assert.match(text, new RegExp(`^  0 ${EVERY_STATE_LINE.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"));
    assert.match(text, /^arena a-small: 8 units \(16 MiB\), largest free run 2 units \(4 MiB\)$/m);
  });

  test("every state has its own character, and the legend names them all", () => {
    const chars = LEGEND_STATES.map((s) => UNIT_STATE_STYLES[s].char);
    assert.equal(new Set(chars).size, chars.length);
    const legend = text.split("\n").find((line) => line.startsWith("legend:"));
    assert.equal(legend, "legend: . free  # leased  % split  ~ deferred  _ discarded  c claimed");
  });

  test("contains no escape sequence", () => {
    assert.ok(!text.includes(ESC));
  });

  test("the reserve's free runs by order and its largest run", () => {
    assert.match(text, /^reserve \(gmem\): 700 units \(1\.3 GiB\) free, largest free run 512 units \(1 GiB\)$/m);
    assert.match(text, /^\s+0\s+2 MiB – <4 MiB\s+3$/m);
    assert.match(text, /^\s+2\s+8 MiB – <16 MiB\s+1$/m);
    assert.match(text, /^\s+9\s+1 GiB – <2 GiB\s+1$/m);
    assert.doesNotMatch(text, /^\s+1\s+4 MiB/m, "orders without runs are left out");
  });

  test("the kernel's buddy zones with a column per order >= 9", () => {
    assert.match(text, /kernel \/proc\/buddyinfo/);
    assert.match(text, /^\s+node\s+zone\s+order 9\s+order 10\s+free$/m);
    assert.match(text, /^\s+0\s+Normal\s+120\s+30\s+360 MiB$/m);
  });

  test("a map with no arenas and no zones says so", () => {
    const empty = renderFragHeatmap({ ...sampleMap([]), kernelBuddyZones: [] }, PLAIN_HEATMAP);
    assert.match(empty, /^no arenas in the map$/m);
    assert.match(empty, /^\s+no zone reported$/m);
  });
});

describe("renderArenaGrid: rows and scaling", () => {
  test("rows of cellsPerRow cells labelled with their first unit", () => {
    const arena = { ...EVERY_STATE_ARENA, arenaId: "a", unitCount: 20, runs: [{ firstUnit: 0, unitCount: 20, state: "free" as const, leaseId: "" }] };
    const lines = renderArenaGrid(arena, { color: false, cellsPerRow: 8, maxRows: 16 }).trimEnd().split("\n");
    assert.deepEqual(lines.slice(1), ["   0 ........", "   8 ........", "  16 ...."]);
  });

  test("a wide arena is scaled to at most maxRows rows, and the heading gives the scale", () => {
    const text = renderArenaGrid(WIDE_ARENA, PLAIN_HEATMAP);
    const lines = text.trimEnd().split("\n");
    assert.match(lines[0]!, /1 cell = 2 units \(4 MiB\)$/);
    assert.equal(lines.length - 1, 16);
    const cells = lines.slice(1).map((line) => line.slice(line.lastIndexOf(" ") + 1)).join("");
    assert.equal(cells.length, 1024);
    assert.equal(cells.slice(0, 500), "#".repeat(500));
    assert.equal(cells[500], "%");
    assert.equal(cells.slice(501), ".".repeat(523));
    assert.match(lines[2]!, /^\s+128 /, "the second row starts at unit 64 cells x 2 units");
  });
});

describe("renderFragHeatmap, colour", () => {
  const plain = renderFragHeatmap(sampleMap(), PLAIN_HEATMAP);
  const colored = renderFragHeatmap(sampleMap(), { ...PLAIN_HEATMAP, color: true });

  test("colours the cells with SGR sequences and resets after each stretch", () => {
    assert.ok(colored.includes(`${ESC}[44;97m##${ESC}[0m`), "two leased cells share one sequence");
    assert.ok(colored.includes(`${ESC}[41;97m%${ESC}[0m`));
  });

  test("is the plain text once the colours are taken out", () => {
    assert.equal(stripAnsi(colored), plain);
  });
});
