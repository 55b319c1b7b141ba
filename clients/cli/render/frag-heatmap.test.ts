import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { heatmapOptionsFor } from "../commands/frag.ts";
import { memoryIo } from "../testing/memory-io.ts";
import { busyPool, EVERY_STATE_ARENA, EVERY_STATE_LINE, sampleMap, WIDE_ARENA } from "../testing/sample-maps.ts";
import { fragLabels } from "./frag-labels.ts";
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
    const lines = text.trimEnd().split("\n").filter((line) => !line.startsWith("  lease "));
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

describe("renderFragHeatmap fitted to a screen, a busy pool", () => {
  const { map, labels } = busyPool();
  const visible = (text: string): string[] => stripAnsi(text).trimEnd().split("\n");

  for (const [what, options] of [
    ["piped, 80x24", heatmapOptionsFor(memoryIo())],
    ["a coloured 80x24 terminal", heatmapOptionsFor(memoryIo({ isTTY: true, columns: 80, rows: 24 }))],
    ["a 100x40 terminal", heatmapOptionsFor(memoryIo({ isTTY: true, columns: 100, rows: 40 }))],
    ["--screen 50x12", heatmapOptionsFor(memoryIo(), { screen: { columns: 50, rows: 12 } })],
  ] as const) {
    test(`${what}: fits with a line left for the prompt, title and legend first`, () => {
      const lines = visible(renderFragHeatmap(map, options, labels));
      const screen = options.screen!;
      assert.ok(lines.length <= screen.rows - 1, `${lines.length} lines on a screen of ${screen.rows}`);
      for (const line of lines) assert.ok(line.length <= screen.columns, `${line.length} columns: ${line}`);
      assert.match(lines[0]!, /^fragmentation map at 2025-01-02T03:04:05\.000Z/);
      assert.match(lines[1]!, /^legend: \. free {2}# leased/);
      assert.match(lines.at(-2)!, /^reserve \(gmem\): 700 units free/);
      assert.match(lines.at(-1)!, /^buddyinfo, order 9 up: 0\/DMA32 4 1/);
    });
  }

  test("says how many arenas are below the screen and how to see them; with them, every arena is counted once", () => {
    const lines = visible(renderFragHeatmap(map, heatmapOptionsFor(memoryIo()), labels));
    const shown = lines.filter((line) => /^a-\d{4} /.test(line)).length;
    const omitted = lines.map((line) => /^… (\d+) more arenas \(a-(\d{4}) on\) below the screen: --arena ID for one, --full for all$/.exec(line)).find((m) => m !== null);
    assert.ok(omitted !== undefined, lines.join("\n"));
    assert.ok(shown >= 3);
    assert.equal(shown + Number(omitted[1]), map.arenas.length);
    assert.equal(Number(omitted[2]), shown + 1, "the first one left out follows the last one shown");
  });

  test("arena headings carry name, kind with backing and owner; lease lines carry labels and count the rest", () => {
    const text = stripAnsi(renderFragHeatmap(map, heatmapOptionsFor(memoryIo()), labels));
    assert.match(text, /^a-0001 "vm-web-1" pair guest_memfd\+shmem, pid 4000 uid 1000: 8 GiB, 128 MiB\/cell$/m);
    assert.match(text, /^a-0003 "vm-cache-3" memfd hugetlb, pid 4002 uid 1002: 2 GiB, 32 MiB\/cell$/m);
    assert.match(text, /^a-0002 "vm-db-2" guest_memfd, pid 4001 uid 1001: /m);
    assert.match(text, /^ {2}leases: l-1-0 "boot" 0–39, l-1-1 "ram-1" 40–79, .*\+\d+ more$/m);
  });

  test("a long name is shortened before id, kind, owner and scale", () => {
    const arena = labels.arenas.get("a-0001")!;
    const long = fragLabels([{ ...arena, name: "x".repeat(64) }], []);
    const heading = stripAnsi(renderFragHeatmap(sampleMap([map.arenas[0]!]), heatmapOptionsFor(memoryIo()), long)).split("\n")[2]!;
    assert.ok(heading.length <= 80, heading);
    assert.match(heading, /^a-0001 "x+…" pair guest_memfd\+shmem, pid 4000 uid 1000: 8 GiB, \d+ MiB\/cell$/, "one arena gets the spare rows");
  });

  test("--full shows every arena and every lease on its own line, with its label", () => {
    const text = renderFragHeatmap(map, heatmapOptionsFor(memoryIo(), { full: true }), labels);
    for (const arena of map.arenas) assert.match(text, new RegExp(`^arena ${arena.arenaId} "`, "m"));
    assert.equal(text.split("\n").filter((line) => line.startsWith("  lease ")).length, labels.leases.size);
    assert.match(text, /^ {2}lease l-9-0 "boot" 0–39$/m);
    assert.doesNotMatch(text, /below the screen/);
  });
});
