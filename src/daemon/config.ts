/**
 * The daemon's configuration: a TOML file (parsed by smol-toml), every key optional, with the
 * defaults below (docs/daemon.md, "Configuration reference"). `parseConfig` validates
 * everything and throws a `ConfigError` that names the offending key ("pool.capacity: ...");
 * unknown keys are errors too, so that a typo never silently falls back to a default.
 *
 * Sizes are written either as integers (bytes) or as strings with a binary suffix ("64GiB",
 * "2MiB", "4KiB"); durations as integers (seconds) or strings ("10m", "30s", "500ms").
 */
import { readFile } from "node:fs/promises";
import { isIPv4, isIPv6 } from "node:net";
import { parse, TomlError } from "smol-toml";
import { PAGE_BYTES, UNIT_BYTES } from "../pool/index.ts";
import type { DeferredOverflowPolicy, DiscardPolicy, PolicyUpdate } from "./pool-service.ts";

/**
 * One `[[quotas]]` entry: what the processes of one uid (or of one primary gid, as SO_PEERCRED
 * reports it) may hold together. A caller is bound by every quota that names its uid or its
 * gid; the admin by none.
 */
export interface TenantQuota {
  readonly subject: "uid" | "gid";
  readonly id: number;
  /** Units leased in all of the subject's arenas together (`memory`, a multiple of 2 MiB); undefined: no limit. */
  readonly units: number | undefined;
  /** Arenas the subject's processes hold together (`arenas`); undefined: no limit. */
  readonly arenas: number | undefined;
}

export type ReserveModeSetting = "auto" | "gmem" | "hugetlb" | "none";
export type FitSetting = "first-fit" | "best-fit";

/** A TCP address to listen on: an IP literal (IPv6 without its brackets) and a port. */
export interface TcpListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface DaemonConfig {
  readonly pool: {
    /** Pool size in units (config: `capacity`, bytes, a multiple of 2 MiB). */
    readonly capacityUnits: number;
    /** `auto`: gmem when root with /dev/kvm and guest_memfd, else none. */
    readonly reserve: ReserveModeSetting;
    /** Largest kernel step, in units (parallelism granule of large allocations). */
    readonly maxStepUnits: number;
    /**
     * gmem reserve: punch a handed-out unit's reserve slot after the call returns
     * ("background", deferred-reserve-punch.ts) or within it ("inline").
     */
    readonly reservePunch: "background" | "inline";
  };
  /** The pool-wide policy; SIGHUP re-applies it. */
  readonly policy: {
    readonly discard: DiscardPolicy;
    readonly punchGranularityBytes: number;
    readonly deferredCapBytes: number;
    readonly deferredOverflow: DeferredOverflowPolicy;
    readonly fit: FitSetting;
  };
  readonly admin: {
    readonly uids: readonly number[];
    readonly gids: readonly number[];
  };
  readonly paths: {
    /** undefined: the command line / environment / default decides (src/main). */
    readonly runtimeDir: string | undefined;
    /** undefined: `<runtime dir>/journal`. */
    readonly journalDir: string | undefined;
    /**
     * The VMMs' group (a numeric gid): the runtime directory and its sockets are group-owned by
     * it (DESIGN.md §6), so its members connect without being the daemon's user. undefined: the
     * daemon's own group.
     */
    readonly socketGroup: number | undefined;
  };
  readonly limits: {
    readonly arenasPerProcess: number;
    readonly watchStreams: number;
    /** Watch streams one uid may hold open (the admin's are not counted). */
    readonly watchStreamsPerUid: number;
    /** API connections open at once, in all (the last 4 kept for the admin). */
    readonly connections: number;
    /** API connections one uid may hold open (the admin's are not counted). */
    readonly connectionsPerUid: number;
    /** Events a Watch consumer may fall behind before its stream is ended. */
    readonly watchBufferEvents: number;
    readonly requestIdRetentionMs: number;
    /** Most idempotency records kept (per daemon, all identities). */
    readonly requestIdEntries: number;
    /** Most idempotency records kept for one identity (one process): its churn evicts only its own. */
    readonly requestIdEntriesPerIdentity: number;
    /** How long a memfd arena DETACHED by a restart waits to be reattached before its file counts as lost. */
    readonly detachedMemfdGraceMs: number;
    /** fd-channel tokens one connection may hold unused at once. */
    readonly fdTokensPerConnection: number;
    /** fd-channel tokens one uid may hold unused at once, over all its connections (the admin's are not counted). */
    readonly fdTokensPerUid: number;
    /**
     * HTTP/2 streams (calls) one API connection may have open at once: SETTINGS_MAX_CONCURRENT_STREAMS.
     * It bounds the calls one socket read can start in one event-loop task.
     */
    readonly streamsPerConnection: number;
    /** Kernel steps of one plan in flight at once. */
    readonly kernelParallelism: number;
    /** KVM_SET_MEMORY_ATTRIBUTES2 EAGAIN retries before giving up (with doubling backoff). */
    readonly conversionRetries: number;
  };
  readonly metrics: {
    /** Series per arena, labelled with arena ids and owner identities: only for a trusted reader. */
    readonly perArena: boolean;
    /**
     * Also serve GET /metrics over HTTP on this TCP address (for Prometheus, which cannot scrape
     * a unix socket); undefined: metrics.sock only. Whoever reaches it reads the pool's figures.
     */
    readonly address: TcpListenAddress | undefined;
    /** Timer resolution of the event-loop delay monitor (gmempool_nodejs_eventloop_lag_*), ms: it reads no delay below it. */
    readonly eventLoopResolutionMs: number;
  };
  /** Per-uid / per-gid quotas (`[[quotas]]`), at most one per subject. */
  readonly quotas: readonly TenantQuota[];
  readonly journal: {
    /** Compact (snapshot + new log segment) after this many records. */
    readonly compactAfterRecords: number;
    /** fdatasync every group commit (off only for tests and benchmarks on tmpfs). */
    readonly fsync: boolean;
  };
}

export const DEFAULT_CONFIG: DaemonConfig = {
  pool: { capacityUnits: 512, reserve: "auto", maxStepUnits: 64, reservePunch: "background" },
  policy: { discard: "defer", punchGranularityBytes: UNIT_BYTES, deferredCapBytes: 1024 * 1024 * 1024, deferredOverflow: "reject", fit: "first-fit" },
  admin: { uids: [0], gids: [] },
  paths: { runtimeDir: undefined, journalDir: undefined, socketGroup: undefined },
  limits: {
    arenasPerProcess: 64,
    watchStreams: 64,
    watchStreamsPerUid: 16,
    connections: 1024,
    connectionsPerUid: 64,
    watchBufferEvents: 4096,
    requestIdRetentionMs: 15 * 60 * 1000,
    requestIdEntries: 100_000,
    requestIdEntriesPerIdentity: 4096,
    detachedMemfdGraceMs: 5 * 60 * 1000,
    fdTokensPerConnection: 16,
    fdTokensPerUid: 64,
    streamsPerConnection: 32,
    kernelParallelism: 8,
    conversionRetries: 8,
  },
  // 10 ms: prom-client's own default resolution.
  metrics: { perArena: false, address: undefined, eventLoopResolutionMs: 10 },
  quotas: [],
  journal: { compactAfterRecords: 4096, fsync: true },
};

/** A configuration problem; the message starts with the key (or the file for syntax errors). */
export class ConfigError extends Error {
  readonly key: string;
  constructor(key: string, message: string) {
    super(`${key}: ${message}`);
    this.name = "ConfigError";
    this.key = key;
  }
}

/** Reads and validates a config file. */
export async function loadConfig(path: string): Promise<DaemonConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ConfigError(path, `cannot read the configuration file: ${(error as Error).message}`);
  }
  return parseConfig(text, path);
}

/** The pool policy of a config, as the update `PoolDaemon.reloadPolicy` applies. */
export function policyUpdateOf(config: DaemonConfig): PolicyUpdate {
  return {
    discardPolicy: config.policy.discard,
    punchGranularityBytes: BigInt(config.policy.punchGranularityBytes),
    deferredCapBytes: BigInt(config.policy.deferredCapBytes),
    deferredOverflowPolicy: config.policy.deferredOverflow,
  };
}

type Table = Record<string, unknown>;

/** Parses TOML text (`source` names it in errors) into a validated config. */
export function parseConfig(text: string, source = "config"): DaemonConfig {
  let raw: Table;
  try {
    raw = parse(text);
  } catch (error) {
    if (error instanceof TomlError) throw new ConfigError(source, `TOML syntax error at line ${error.line}, column ${error.column}: ${error.message.split("\n")[0] ?? ""}`);
    throw error;
  }
  const top = new Reader(raw, "");
  const pool = top.table("pool");
  const policy = top.table("policy");
  const admin = top.table("admin");
  const paths = top.table("paths");
  const limits = top.table("limits");
  const journal = top.table("journal");
  const metrics = top.table("metrics");
  const quotas = top.tables("quotas");
  top.done();
  const d = DEFAULT_CONFIG;

  const capacityBytes = pool.size("capacity", d.pool.capacityUnits * UNIT_BYTES);
  if (capacityBytes === 0 || capacityBytes % UNIT_BYTES !== 0) throw new ConfigError("pool.capacity", `${capacityBytes} bytes is not a positive multiple of 2 MiB`);
  const config: DaemonConfig = {
    pool: {
      capacityUnits: capacityBytes / UNIT_BYTES,
      reserve: pool.oneOf("reserve", ["auto", "gmem", "hugetlb", "none"], d.pool.reserve),
      maxStepUnits: pool.integer("max_step_units", d.pool.maxStepUnits, 1, 512),
      reservePunch: pool.oneOf("reserve_punch", ["background", "inline"], d.pool.reservePunch),
    },
    policy: {
      discard: policy.oneOf("discard", ["reject", "zero", "defer"], d.policy.discard),
      punchGranularityBytes: granularity(policy.size("punch_granularity", d.policy.punchGranularityBytes)),
      deferredCapBytes: policy.size("deferred_cap", d.policy.deferredCapBytes),
      deferredOverflow: policy.oneOf("deferred_overflow", ["reject", "zero"], d.policy.deferredOverflow),
      fit: policy.oneOf("fit", ["first-fit", "best-fit"], d.policy.fit),
    },
    admin: { uids: admin.ids("uids", d.admin.uids), gids: admin.ids("gids", d.admin.gids) },
    paths: { runtimeDir: paths.path("runtime_dir"), journalDir: paths.path("journal_dir"), socketGroup: paths.optionalId("socket_group") },
    limits: {
      arenasPerProcess: limits.integer("arenas_per_process", d.limits.arenasPerProcess, 1, 1_000_000),
      watchStreams: limits.integer("watch_streams", d.limits.watchStreams, 1, 100_000),
      watchStreamsPerUid: limits.integer("watch_streams_per_uid", d.limits.watchStreamsPerUid, 1, 100_000),
      connections: limits.integer("connections", d.limits.connections, 8, 1_000_000),
      connectionsPerUid: limits.integer("connections_per_uid", d.limits.connectionsPerUid, 1, 1_000_000),
      watchBufferEvents: limits.integer("watch_buffer_events", d.limits.watchBufferEvents, 16, 10_000_000),
      requestIdRetentionMs: limits.duration("request_id_retention", d.limits.requestIdRetentionMs, 10 * 60 * 1000),
      requestIdEntries: limits.integer("request_id_entries", d.limits.requestIdEntries, 1, 100_000_000),
      requestIdEntriesPerIdentity: limits.integer("request_id_entries_per_identity", d.limits.requestIdEntriesPerIdentity, 1, 100_000_000),
      detachedMemfdGraceMs: limits.duration("detached_memfd_grace", d.limits.detachedMemfdGraceMs, 1000),
      fdTokensPerConnection: limits.integer("fd_tokens_per_connection", d.limits.fdTokensPerConnection, 1, 100_000),
      fdTokensPerUid: limits.integer("fd_tokens_per_uid", d.limits.fdTokensPerUid, 1, 1_000_000),
      streamsPerConnection: limits.integer("streams_per_connection", d.limits.streamsPerConnection, 2, 1_000_000),
      kernelParallelism: limits.integer("kernel_parallelism", d.limits.kernelParallelism, 1, 256),
      conversionRetries: limits.integer("conversion_retries", d.limits.conversionRetries, 0, 64),
    },
    metrics: {
      perArena: metrics.boolean("per_arena", d.metrics.perArena),
      address: metrics.tcpAddress("address"),
      eventLoopResolutionMs: metrics.duration("event_loop_resolution", d.metrics.eventLoopResolutionMs, 1, 1000),
    },
    quotas: quotas.map(quotaOf),
    journal: {
      compactAfterRecords: journal.integer("compact_after_records", d.journal.compactAfterRecords, 1, 100_000_000),
      fsync: journal.boolean("fsync", d.journal.fsync),
    },
  };
  if (config.policy.deferredCapBytes % PAGE_BYTES !== 0) throw new ConfigError("policy.deferred_cap", `${config.policy.deferredCapBytes} bytes is not a multiple of 4 KiB`);
  for (const reader of [pool, policy, admin, paths, limits, metrics, journal, ...quotas]) reader.done();
  const subjects = new Set<string>();
  config.quotas.forEach((q, i) => {
    const subject = `${q.subject} = ${q.id}`;
    if (subjects.has(subject)) throw new ConfigError(`quotas[${i}]`, `a second quota for ${subject}; one per uid or gid`);
    subjects.add(subject);
  });
  // A client queues the calls past a connection's stream limit (nghttp2 honours the setting):
  // one holding its uid's Watch streams on one connection must still have streams for calls.
  if (config.limits.streamsPerConnection <= config.limits.watchStreamsPerUid) throw new ConfigError("limits.streams_per_connection", `${config.limits.streamsPerConnection} is not above limits.watch_streams_per_uid (${config.limits.watchStreamsPerUid}): a connection holding that many Watch streams would have none left for calls`);
  if (config.limits.fdTokensPerUid < config.limits.fdTokensPerConnection) throw new ConfigError("limits.fd_tokens_per_uid", `${config.limits.fdTokensPerUid} is below limits.fd_tokens_per_connection (${config.limits.fdTokensPerConnection})`);
  return config;

  function quotaOf(entry: Reader, i: number): TenantQuota {
    const uid = entry.optionalId("uid");
    const gid = entry.optionalId("gid");
    if ((uid === undefined) === (gid === undefined)) throw new ConfigError(`quotas[${i}]`, "names exactly one of uid or gid");
    const memory = entry.size("memory", -1);
    if (memory !== -1 && memory % UNIT_BYTES !== 0) throw new ConfigError(`quotas[${i}].memory`, `${memory} bytes is not a multiple of 2 MiB`);
    const arenas = entry.integer("arenas", -1, 0, 1_000_000);
    if (memory === -1 && arenas === -1) throw new ConfigError(`quotas[${i}]`, "sets neither memory nor arenas");
    return { subject: uid === undefined ? "gid" : "uid", id: uid ?? gid!, units: memory === -1 ? undefined : memory / UNIT_BYTES, arenas: arenas === -1 ? undefined : arenas };
  }

  function granularity(bytes: number): number {
    const ok = bytes === PAGE_BYTES || (bytes >= UNIT_BYTES && bytes <= 1024 * 1024 * 1024 && bytes % UNIT_BYTES === 0 && isPowerOfTwo(bytes / UNIT_BYTES));
    if (!ok) throw new ConfigError("policy.punch_granularity", `${bytes} bytes must be 4KiB or a power-of-two multiple of 2MiB up to 1GiB`);
    return bytes;
  }
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

const SIZE_SUFFIXES: Record<string, number> = { "": 1, B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };
const DURATION_SUFFIXES: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Reads the keys of one table, remembering which it used so that `done()` can reject the rest. */
class Reader {
  readonly #table: Table;
  readonly #prefix: string;
  readonly #used = new Set<string>();

  constructor(table: Table, prefix: string) {
    this.#table = table;
    this.#prefix = prefix;
  }

  #key(name: string): string {
    return this.#prefix === "" ? name : `${this.#prefix}.${name}`;
  }

  #get(name: string): unknown {
    this.#used.add(name);
    return this.#table[name];
  }

  table(name: string): Reader {
    const value = this.#get(name);
    if (value === undefined) return new Reader({}, this.#key(name));
    if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Date) throw new ConfigError(this.#key(name), "must be a table");
    return new Reader(value as Table, this.#key(name));
  }

  /** An array of tables (`[[name]]`), each read by its own Reader (`name[i]` in errors). */
  tables(name: string): Reader[] {
    const value = this.#get(name);
    if (value === undefined) return [];
    const key = this.#key(name);
    if (!Array.isArray(value)) throw new ConfigError(key, `must be an array of tables ([[${key}]])`);
    return value.map((entry: unknown, i) => {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry) || entry instanceof Date) throw new ConfigError(`${key}[${i}]`, "must be a table");
      return new Reader(entry as Table, `${key}[${i}]`);
    });
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const value = this.#get(name);
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new ConfigError(this.#key(name), `must be an integer, got ${JSON.stringify(value)}`);
    if (value < min || value > max) throw new ConfigError(this.#key(name), `${value} is outside ${min}..${max}`);
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.#get(name);
    if (value === undefined) return fallback;
    if (typeof value !== "boolean") throw new ConfigError(this.#key(name), `must be true or false, got ${JSON.stringify(value)}`);
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.#get(name);
    if (value === undefined) return fallback;
    if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) throw new ConfigError(this.#key(name), `must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${JSON.stringify(value)}`);
    return value as T;
  }

  size(name: string, fallback: number): number {
    const value = this.#get(name);
    if (value === undefined) return fallback;
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value) || value < 0) throw new ConfigError(this.#key(name), `must be a non-negative integer of bytes, got ${value}`);
      return value;
    }
    const match = typeof value === "string" ? /^\s*(\d+)\s*([KMGT]iB|B)?\s*$/.exec(value) : null;
    if (match === null) throw new ConfigError(this.#key(name), `must be bytes or a size like "2MiB", "64GiB", got ${JSON.stringify(value)}`);
    const bytes = Number(match[1]) * SIZE_SUFFIXES[match[2] ?? ""]!;
    if (!Number.isSafeInteger(bytes)) throw new ConfigError(this.#key(name), `${JSON.stringify(value)} is too large`);
    return bytes;
  }

  duration(name: string, fallbackMs: number, minMs: number, maxMs = Number.MAX_SAFE_INTEGER): number {
    const value = this.#get(name);
    if (value === undefined) return fallbackMs;
    let ms: number;
    if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) ms = value * 1000;
    else {
      const match = typeof value === "string" ? /^\s*(\d+)\s*(ms|s|m|h)\s*$/.exec(value) : null;
      if (match === null) throw new ConfigError(this.#key(name), `must be seconds or a duration like "10m", "30s", got ${JSON.stringify(value)}`);
      ms = Number(match[1]) * DURATION_SUFFIXES[match[2]!]!;
    }
    if (ms < minMs) throw new ConfigError(this.#key(name), `${ms} ms is below the minimum of ${minMs} ms`);
    if (ms > maxMs) throw new ConfigError(this.#key(name), `${ms} ms is above the maximum of ${maxMs} ms`);
    return ms;
  }

  ids(name: string, fallback: readonly number[]): readonly number[] {
    const value = this.#get(name);
    if (value === undefined) return fallback;
    if (!Array.isArray(value) || !value.every((v) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= 0xffffffff)) {
      throw new ConfigError(this.#key(name), `must be an array of numeric ids, got ${JSON.stringify(value)}`);
    }
    return value as number[];
  }

  /** A numeric uid or gid, or undefined when absent. */
  optionalId(name: string): number | undefined {
    const value = this.#get(name);
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 || value > 0xfffffffe) throw new ConfigError(this.#key(name), `must be a numeric id (e.g. \`getent group kvm\`'s third field), got ${JSON.stringify(value)}`);
    return value;
  }

  /**
   * "IPv4:port" or "[IPv6]:port", or undefined when absent. IP literals only: a host name would
   * be resolved once at start, to whichever address the resolver gave first.
   */
  tcpAddress(name: string): TcpListenAddress | undefined {
    const value = this.#get(name);
    if (value === undefined) return undefined;
    const form = 'must be "IP:port" with an IPv4 or [IPv6] literal, e.g. "127.0.0.1:9464" or "[::1]:9464"';
    const match = typeof value === "string" ? /^(?:\[([^\]]*)\]|([^:[\]]*)):([^:]*)$/.exec(value) : null;
    if (match === null) throw new ConfigError(this.#key(name), `${form}, got ${JSON.stringify(value)}`);
    const v6 = match[1];
    const host = v6 ?? match[2]!;
    if (v6 === undefined ? !isIPv4(host) : !isIPv6(host)) throw new ConfigError(this.#key(name), `${JSON.stringify(host)} in ${JSON.stringify(value)} is not an ${v6 === undefined ? "IPv4" : "IPv6"} literal (host names are not resolved); ${form}`);
    const portText = match[3]!;
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) throw new ConfigError(this.#key(name), `port ${JSON.stringify(portText)} in ${JSON.stringify(value)} is not a number in 1..65535`);
    return { host, port };
  }

  path(name: string): string | undefined {
    const value = this.#get(name);
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value.length === 0) throw new ConfigError(this.#key(name), `must be a non-empty path string, got ${JSON.stringify(value)}`);
    return value;
  }

  /** Rejects keys nobody asked for (typos). */
  done(): void {
    for (const key of Object.keys(this.#table)) {
      if (!this.#used.has(key)) throw new ConfigError(this.#key(key), "unknown key");
    }
  }
}
