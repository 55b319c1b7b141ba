import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError, DEFAULT_CONFIG, loadConfig, parseConfig, policyUpdateOf } from "./config.ts";

/** Each value of `key` in `[section]` is refused with a ConfigError matching its pattern. */
function assertRefused(section: string, key: string, cases: readonly [string, RegExp][]): void {
  for (const [value, pattern] of cases) {
    assert.throws(() => parseConfig(`[${section}]\n${key} = ${value}`), (e: unknown) => e instanceof ConfigError && pattern.test(e.message), value);
  }
}

describe("configuration", () => {
  test("an empty file is the embedded default", () => {
    assert.deepEqual(parseConfig(""), DEFAULT_CONFIG);
  });

  test("every section parses, with sizes and durations in words", () => {
    const config = parseConfig(`
[pool]
capacity = "64GiB"
reserve = "hugetlb"
max_step_units = 32

[policy]
discard = "zero"
punch_granularity = "1GiB"
deferred_cap = "256MiB"
deferred_overflow = "zero"
fit = "best-fit"

[admin]
uids = [0, 997]
gids = [996]

[paths]
runtime_dir = "/run/gmempool"
journal_dir = "/var/lib/gmempool/journal"

[limits]
arenas_per_process = 8
watch_streams = 4
watch_buffer_events = 128
request_id_retention = "30m"
request_id_entries = 1000
kernel_parallelism = 16
conversion_retries = 3

[journal]
compact_after_records = 100
fsync = false
`);
    assert.equal(config.pool.capacityUnits, 32768);
    assert.equal(config.pool.reserve, "hugetlb");
    assert.equal(config.policy.punchGranularityBytes, 1024 ** 3);
    assert.equal(config.policy.deferredCapBytes, 256 * 1024 ** 2);
    assert.deepEqual(config.admin, { uids: [0, 997], gids: [996] });
    assert.equal(config.paths.journalDir, "/var/lib/gmempool/journal");
    assert.equal(config.limits.requestIdRetentionMs, 30 * 60 * 1000);
    assert.equal(config.journal.fsync, false);
    assert.deepEqual(policyUpdateOf(config), { discardPolicy: "zero", punchGranularityBytes: 1024n ** 3n, deferredCapBytes: 256n * 1024n ** 2n, deferredOverflowPolicy: "zero" });
  });

  test("errors name the key", () => {
    const cases: [string, RegExp][] = [
      ['[pool]\ncapacity = "3MiB"', /^pool\.capacity: .*multiple of 2 MiB/],
      ['[pool]\nreserve = "gmemm"', /^pool\.reserve: must be one of "auto", "gmem", "hugetlb", "none", got "gmemm"/],
      ['[pool]\ncapacty = "1GiB"', /^pool\.capacty: unknown key/],
      ['[policy]\npunch_granularity = "3MiB"', /^policy\.punch_granularity: /],
      ['[policy]\ndeferred_cap = 100', /^policy\.deferred_cap: .*4 KiB/],
      ["[admin]\nuids = [-1]", /^admin\.uids: /],
      ['[limits]\nrequest_id_retention = "1m"', /^limits\.request_id_retention: .*minimum/],
      ["[limits]\nkernel_parallelism = 0", /^limits\.kernel_parallelism: 0 is outside 1\.\.256/],
      ["[journal]\nfsync = 1", /^journal\.fsync: must be true or false/],
      ["pool = 3", /^pool: must be a table/],
      ["[pool\n", /^config: TOML syntax error at line/],
    ];
    for (const [text, pattern] of cases) {
      assert.throws(() => parseConfig(text), (e: unknown) => e instanceof ConfigError && pattern.test(e.message), text);
    }
  });

  test("metrics.address: an IPv4 or [IPv6] literal and a port, else an error naming the key and the value", () => {
    assert.equal(DEFAULT_CONFIG.metrics.address, undefined);
    assert.deepEqual(parseConfig('[metrics]\naddress = "127.0.0.1:9464"').metrics.address, { host: "127.0.0.1", port: 9464 });
    assert.deepEqual(parseConfig('[metrics]\naddress = "[::1]:9464"').metrics.address, { host: "::1", port: 9464 });
    assert.deepEqual(parseConfig('[metrics]\naddress = "0.0.0.0:65535"').metrics.address, { host: "0.0.0.0", port: 65535 });
    const cases: [string, RegExp][] = [
      ["9464", /^metrics\.address: must be "IP:port" .*got 9464$/],
      ['"127.0.0.1"', /^metrics\.address: must be "IP:port" .*got "127\.0\.0\.1"$/],
      ['"::1:9464"', /^metrics\.address: must be "IP:port" .*got "::1:9464"$/],
      ['"localhost:9464"', /^metrics\.address: "localhost" in "localhost:9464" is not an IPv4 literal \(host names are not resolved\)/],
      ['"[127.0.0.1]:9464"', /^metrics\.address: "127\.0\.0\.1" in "\[127\.0\.0\.1\]:9464" is not an IPv6 literal/],
      ['"127.0.0.1:http"', /^metrics\.address: port "http" in "127\.0\.0\.1:http" is not a number in 1\.\.65535$/],
      ['"127.0.0.1:0"', /^metrics\.address: port "0" in "127\.0\.0\.1:0" is not a number in 1\.\.65535$/],
      ['"[::1]:65536"', /^metrics\.address: port "65536" in "\[::1\]:65536" is not a number in 1\.\.65535$/],
      ['"127.0.0.1:"', /^metrics\.address: port "" in "127\.0\.0\.1:" is not a number/],
    ];
    assertRefused("metrics", "address", cases);
  });

  test("metrics.event_loop_resolution: a duration of 1 ms to 1 s (default 10 ms), else an error naming the key and the value", () => {
    assert.equal(DEFAULT_CONFIG.metrics.eventLoopResolutionMs, 10);
    assert.equal(parseConfig('[metrics]\nevent_loop_resolution = "1ms"').metrics.eventLoopResolutionMs, 1);
    assert.equal(parseConfig("[metrics]\nevent_loop_resolution = 1").metrics.eventLoopResolutionMs, 1000);
    const cases: [string, RegExp][] = [
      ['"0ms"', /^metrics\.event_loop_resolution: 0 ms is below the minimum of 1 ms$/],
      ['"2s"', /^metrics\.event_loop_resolution: 2000 ms is above the maximum of 1000 ms$/],
      ['"1us"', /^metrics\.event_loop_resolution: must be seconds or a duration like .*got "1us"$/],
      ["0.5", /^metrics\.event_loop_resolution: must be seconds or a duration like .*got 0\.5$/],
    ];
    assertRefused("metrics", "event_loop_resolution", cases);
  });

  test("limits.streams_per_connection: default 32, and above limits.watch_streams_per_uid so a connection at its Watch limit can still call", () => {
    assert.equal(DEFAULT_CONFIG.limits.streamsPerConnection, 32);
    assert.equal(parseConfig("[limits]\nstreams_per_connection = 17").limits.streamsPerConnection, 17);
    assert.equal(parseConfig("[limits]\nstreams_per_connection = 4\nwatch_streams_per_uid = 3").limits.streamsPerConnection, 4);
    const cases: [string, RegExp][] = [
      ["streams_per_connection = 16", /^limits\.streams_per_connection: 16 is not above limits\.watch_streams_per_uid \(16\)/],
      ["streams_per_connection = 1", /^limits\.streams_per_connection: 1 is outside 2\.\.1000000$/],
      ['streams_per_connection = "32"', /^limits\.streams_per_connection: must be an integer, got "32"$/],
    ];
    for (const [text, pattern] of cases) {
      assert.throws(() => parseConfig(`[limits]\n${text}`), (e: unknown) => e instanceof ConfigError && pattern.test(e.message), text);
    }
  });

  test("the example deploy/gmempool.toml parses, with metrics on loopback TCP and no per-arena series", async () => {
    const config = await loadConfig(new URL("../../deploy/gmempool.toml", import.meta.url).pathname);
    assert.deepEqual(config.metrics, { perArena: false, address: { host: "127.0.0.1", port: 9464 }, eventLoopResolutionMs: 10 });
  });
});
