/**
 * One VMM-like session on ANY `Pool`, recorded as a normalised transcript, so that two
 * implementations can be held to the same behaviour: pool-parity.test.ts runs it on
 * `FakePoolClient` and on `PoolClient` against the real daemon and requires equal transcripts.
 *
 * The pool must be fresh, with the daemon's test setup: 128 units (SpawnedDaemon's testConfig),
 * reserve "none", memfd arenas only (no guest_memfd on the host), the default policy, and the
 * caller the admin identity. The scenario leaves it as it found it (every arena deleted, every
 * memfd it received closed).
 *
 * Normalisation keeps everything a VMM can rely on and drops what legitimately differs:
 * - ids become "arena#1", "lease#2" in order of first appearance (also inside messages);
 * - times become "<time>", the caller's identity "<caller>", event sequence numbers are checked
 *   to increase and then dropped (the daemon numbers events it does not send on this stream);
 * - pool-status Watch events after the first are dropped (the daemon sends them on a 1 s timer);
 * - lists ordered by id (arenas, leases, overrides) are sorted by normalised id, since the
 *   daemon's ids are random;
 * - keys whose value is undefined are dropped;
 * - errors become their class, kind, operation and message (`details`).
 */
import { closeSync, fstatSync, readlinkSync } from "node:fs";
import { isCloexec } from "@gmempool/sys";
import { PoolError } from "../pool-errors.ts";
import type { Pool, WatchStream } from "../pool.ts";
import type { Identity, PoolEvent } from "../resources.ts";

const KIB = 1024n;
const MIB = 1024n * KIB;
const UNIT = 2n * MIB;
const PAGE = 4n * KIB;

/** One step: what was asked, and the normalised result or error. */
export interface ScenarioStep {
  readonly step: string;
  readonly outcome: unknown;
}

export interface ScenarioOptions {
  /** Steps to leave out (by name prefix), e.g. those of a known, reported discrepancy. */
  readonly skip?: readonly string[];
}

const ID = /\b(arena|lease)-[0-9a-f]{12}\b/g;

/** Turns raw results into comparable data (see the header). */
export class TranscriptNormaliser {
  readonly #ids = new Map<string, string>();
  readonly #counts = { arena: 0, lease: 0 };
  #caller: Identity | undefined;

  setCaller(caller: Identity): void {
    this.#caller = caller;
  }

  id(raw: string): string {
    return raw.replace(ID, (match, kind: "arena" | "lease") => {
      let name = this.#ids.get(match);
      if (name === undefined) {
        name = `${kind}#${++this.#counts[kind]}`;
        this.#ids.set(match, name);
      }
      return name;
    });
  }

  value(value: unknown): unknown {
    if (typeof value === "string") return this.id(value);
    if (value instanceof Date) return "<time>";
    if (Array.isArray(value)) return value.map((v) => this.value(v));
    if (value instanceof PoolError) return this.error(value);
    if (value !== null && typeof value === "object") {
      if (isIdentity(value)) return this.#isCaller(value) ? "<caller>" : { uid: value.uid, gid: value.gid, pid: value.pid };
      const out: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(value)) {
        if (v === undefined || key === "lastEventSequence") continue;
        out[key] = this.value(v);
      }
      return out;
    }
    return value;
  }

  error(error: unknown): unknown {
    if (error instanceof PoolError) return { error: error.name, kind: error.kind, operation: error.operation, details: this.id(error.details) };
    return { error: "unexpected", message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }

  #isCaller(identity: Identity): boolean {
    const c = this.#caller;
    return c !== undefined && c.uid === identity.uid && c.gid === identity.gid && c.pid === identity.pid && c.startTimeTicks === identity.startTimeTicks;
  }
}

function isIdentity(value: object): value is Identity {
  return "uid" in value && "gid" in value && "pid" in value && "startTimeTicks" in value;
}

/** Sorts normalised list entries by their (normalised) arena id, then offset. */
function byArenaThenOffset(list: unknown): unknown {
  if (!Array.isArray(list)) return list;
  const key = (e: unknown): string => {
    const o = e as { arenaId?: string; offsetBytes?: bigint };
    return `${o.arenaId ?? ""}/${(o.offsetBytes ?? 0n).toString().padStart(24, "0")}`;
  };
  return [...(list as unknown[])].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Collects a Watch stream's events in the background until it ends or is cancelled. */
class WatchRecorder {
  readonly events: PoolEvent[] = [];
  readonly done: Promise<unknown>;
  readonly #stream: WatchStream;

  constructor(stream: WatchStream) {
    this.#stream = stream;
    this.done = (async () => {
      try {
        for await (const event of stream) this.events.push(event);
        return "ended";
      } catch (error) {
        return error;
      }
    })();
  }

  /** Resolves once `count` events have arrived (polling; the events come within milliseconds). */
  async waitFor(count: number, timeoutMs = 10_000): Promise<void> {
    const start = Date.now();
    while (this.events.length < count) {
      if (Date.now() - start > timeoutMs) throw new Error(`Watch: ${this.events.length} of ${count} events after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Ends the stream and returns how it ended plus its events (pool-status after the first dropped). */
  async finish(normaliser: TranscriptNormaliser): Promise<unknown> {
    this.#stream.cancel();
    const ending = await this.done;
    const sequences = this.events.map((e) => e.sequence);
    const increasing = sequences.every((s, i) => i === 0 || s > sequences[i - 1]!);
    const kept = this.events.filter((e, i) => i === 0 || e.kind !== "pool-status");
    return {
      ending: ending === "ended" ? "ended" : normaliser.error(ending),
      sequencesIncrease: increasing,
      events: kept.map((e) => {
        const { sequence: _sequence, time: _time, ...body } = e;
        return normaliser.value(body);
      }),
    };
  }
}

/**
 * Runs the scenario on `pool` and returns its transcript. Throws only for a failure of the
 * scenario itself (a step whose result it needs to go on failed).
 */
export async function runPoolScenario(pool: Pool, options: ScenarioOptions = {}): Promise<ScenarioStep[]> {
  const transcript: ScenarioStep[] = [];
  const n = new TranscriptNormaliser();
  const memfds: number[] = [];
  const skipped = (name: string): boolean => options.skip?.some((prefix) => name.startsWith(prefix)) === true;

  /** Runs one step; records its normalised result or error. Returns the raw result (or undefined). */
  async function step<T>(name: string, run: () => Promise<T>, shape: (value: T) => unknown = (v) => n.value(v)): Promise<T | undefined> {
    if (skipped(name)) return undefined;
    try {
      const value = await run();
      transcript.push({ step: name, outcome: shape(value) });
      return value;
    } catch (error) {
      transcript.push({ step: name, outcome: n.error(error) });
      return undefined;
    }
  }

  /** A step whose result the rest of the scenario needs. */
  async function must<T>(name: string, run: () => Promise<T>, shape?: (value: T) => unknown): Promise<T> {
    const value = await step(name, run, shape);
    if (value === undefined) throw new Error(`scenario step "${name}" failed: ${JSON.stringify(transcript[transcript.length - 1]?.outcome, bigintJson)}`);
    return value;
  }

  const watchOf = (stream: WatchStream): WatchRecorder => new WatchRecorder(stream);

  try {
    // ------------------------------------------------------------------ who, what, how much
    await must("getCapabilities", () => pool.getCapabilities(), (c) => {
      n.setCaller(c.caller);
      return n.value({ unitBytes: c.unitBytes, pageBytes: c.pageBytes, reserveMode: c.reserveMode, arenaKinds: c.arenaKinds, memfdBackings: c.memfdBackings, conversionModes: c.conversionModes, caller: c.caller, callerIsAdmin: c.callerIsAdmin });
    });
    await step("getPoolStatus: fresh", () => pool.getPoolStatus());
    await step("getPolicy: defaults", () => pool.getPolicy());
    const watch = watchOf(pool.watch());
    await watch.waitFor(1);

    // ------------------------------------------------------------------ arenas
    const a = await must("createMemfdArena A 64 MiB", () => pool.createMemfdArena({ sizeBytes: 32n * UNIT, name: "vm-a" }), (r) => {
      memfds.push(r.memfd);
      const stat = fstatSync(r.memfd, { bigint: true });
      return n.value({ arena: r.arena, memfd: { sizeBytes: stat.size, cloexec: isCloexec(r.memfd), namedAfterArena: readlinkSync(`/proc/self/fd/${r.memfd}`).startsWith(`/memfd:gmempool:${r.arena.arenaId}`) } });
    });
    const A = a.arena.arenaId;
    await step("createMemfdArena: size 0", () => pool.createMemfdArena({ sizeBytes: 0n }));
    await step("createMemfdArena: size 3 MiB", () => pool.createMemfdArena({ sizeBytes: 3n * MIB }));
    await step("createMemfdArena: hugetlb backing without a hugetlb reserve", () => pool.createMemfdArena({ sizeBytes: UNIT, backing: "hugetlb" }));
    await step("createMemfdArena: name of 65 bytes", () => pool.createMemfdArena({ sizeBytes: UNIT, name: "n".repeat(65) }));
    await step("registerGuestMemfdArena: a memfd is not a guest_memfd", () => pool.registerGuestMemfdArena(a.memfd, { sizeBytes: 32n * UNIT, initialVisibility: "shared" }));
    await step("registerGuestMemfdArena: a closed fd", () => pool.registerGuestMemfdArena(987_654, { sizeBytes: 32n * UNIT, initialVisibility: "shared" }));
    await step("getArena A", () => pool.getArena(A));

    // ------------------------------------------------------------------ leases
    const boot = await must("allocate A 4 units (boot)", () => pool.allocate(A, { unitCount: 4, label: "boot" }));
    const hotplug = await must("allocate A 2 units at 16 MiB (hotplug-1)", () => pool.allocate(A, { unitCount: 2, offsetBytes: 16n * MIB, label: "hotplug-1" }));
    const fill = await must("allocate A 4 units: the lowest free run", () => pool.allocate(A, { unitCount: 4 }));
    await step("allocate: offset 3 MiB", () => pool.allocate(A, { unitCount: 1, offsetBytes: 3n * MIB }));
    await step("allocate: placement overlaps a lease", () => pool.allocate(A, { unitCount: 2, offsetBytes: 2n * UNIT }));
    await step("allocate: 0 units", () => pool.allocate(A, { unitCount: 0 }));
    await step("allocate: more units than the arena", () => pool.allocate(A, { unitCount: 33 }));
    await step("allocate: placement past the arena's end", () => pool.allocate(A, { unitCount: 4, offsetBytes: 30n * UNIT }));
    await step("allocate: no free run big enough", () => pool.allocate(A, { unitCount: 23 }));
    await step("allocate: label of 65 bytes", () => pool.allocate(A, { unitCount: 1, label: "l".repeat(65) }));
    await step("allocate: unknown arena", () => pool.allocate("arena-0123456789ab", { unitCount: 1 }));
    await step("allocate: empty arena id", () => pool.allocate("", { unitCount: 1 }));
    await step("createMemfdArena: larger than the pool", () => pool.createMemfdArena({ sizeBytes: 129n * UNIT, name: "too-big" }));
    const b = await must("createMemfdArena B 256 MiB (the whole pool)", () => pool.createMemfdArena({ sizeBytes: 128n * UNIT, name: "vm-b" }), (r) => {
      memfds.push(r.memfd);
      return n.value(r.arena);
    });
    const B = b.arena.arenaId;
    await step("allocate B: more units than the pool has free", () => pool.allocate(B, { unitCount: 119 }));
    const big = await must("allocate B 100 units", () => pool.allocate(B, { unitCount: 100 }));
    await step("getPoolStatus: 110 units leased", () => pool.getPoolStatus());
    await step("getLease boot", () => pool.getLease(boot.leaseId));
    await step("listLeases A", () => pool.listLeases({ arenaId: A }), (l) => byArenaThenOffset(n.value(l)));
    await step("listLeases all", () => pool.listLeases(), (l) => byArenaThenOffset(n.value(l)));
    await step("listArenas", () => pool.listArenas(), (l) => byArenaThenOffset(n.value(l)));

    // ------------------------------------------------------------------ discard and populate (policy defer)
    await step("discard one page: deferred", () => pool.discard(A, { offsetBytes: 0n, lengthBytes: PAGE }));
    await step("discard: offset not page-aligned", () => pool.discard(A, { offsetBytes: 100n, lengthBytes: PAGE }));
    await step("discard: length 0", () => pool.discard(A, { offsetBytes: 0n, lengthBytes: 0n }));
    await step("discard: past the arena's end", () => pool.discard(A, { offsetBytes: 62n * MIB, lengthBytes: 4n * MIB }));
    await step("discard: range not leased", () => pool.discard(A, { offsetBytes: 20n * MIB, lengthBytes: PAGE }));
    await step("discard a whole unit: punched", () => pool.discard(A, { offsetBytes: UNIT, lengthBytes: UNIT }));
    await step("discard completing a deferred unit", () => pool.discard(A, { offsetBytes: PAGE, lengthBytes: UNIT - PAGE }));
    await step("discard across two leases", () => pool.discard(A, { offsetBytes: 6n * MIB, lengthBytes: 4n * MIB }));
    await step("discard a page already discarded", () => pool.discard(A, { offsetBytes: UNIT, lengthBytes: PAGE }));
    await step("getLease boot after discards", () => pool.getLease(boot.leaseId));
    await step("getPoolStatus after discards", () => pool.getPoolStatus());
    await step("getFragmentationMap A after discards", () => pool.getFragmentationMap({ arenaId: A }), (m) => n.value({ arenas: m.arenas, reserve: m.reserve }));
    await step("populate boot and its neighbour", () => pool.populate(A, { offsetBytes: 0n, lengthBytes: 10n * MIB }));
    await step("populate: range not leased", () => pool.populate(A, { offsetBytes: 20n * MIB, lengthBytes: UNIT }));

    // ------------------------------------------------------------------ policies
    await step("setPolicy A: reject", () => pool.setPolicy({ arenaId: A, discardPolicy: "reject" }));
    await step("discard under reject: sub-unit", () => pool.discard(A, { offsetBytes: PAGE, lengthBytes: 2n * PAGE }));
    await step("discard under reject: head page and a whole unit", () => pool.discard(A, { offsetBytes: UNIT - PAGE, lengthBytes: UNIT + PAGE }));
    await step("discard under reject: a whole unit", () => pool.discard(A, { offsetBytes: 0n, lengthBytes: UNIT }));
    await step("setPolicy A: zero", () => pool.setPolicy({ arenaId: A, discardPolicy: "zero" }));
    await step("discard under zero", () => pool.discard(A, { offsetBytes: 16n * MIB + 2n * PAGE, lengthBytes: 2n * PAGE }));
    await step("getPolicy with an override", () => pool.getPolicy(), (v) => n.value({ poolPolicy: v.poolPolicy, arenaOverrides: byArenaThenOffset(n.value(v.arenaOverrides)) }));
    await step("setPolicy A: clear the override", () => pool.setPolicy({ arenaId: A, clearArenaOverride: true }));
    await step("setPolicy: deferred cap 8 KiB", () => pool.setPolicy({ deferredCapBytes: 8n * KIB }));
    await step("discard past the deferred cap (overflow reject)", () => pool.discard(A, { offsetBytes: 16n * MIB + 64n * KIB, lengthBytes: 3n * PAGE }));
    await step("discard within the cap", () => pool.discard(A, { offsetBytes: 16n * MIB + 64n * KIB, lengthBytes: PAGE }));
    await step("discard reaching the cap", () => pool.discard(A, { offsetBytes: 16n * MIB + 68n * KIB, lengthBytes: PAGE }));
    await step("setPolicy: overflow zero", () => pool.setPolicy({ deferredOverflowPolicy: "zero" }));
    await step("discard past the cap (overflow zero)", () => pool.discard(A, { offsetBytes: 16n * MIB + 72n * KIB, lengthBytes: PAGE }));
    await step("setPolicy: cap 1 GiB, overflow reject", () => pool.setPolicy({ deferredCapBytes: 1024n * MIB, deferredOverflowPolicy: "reject" }));
    await step("setPolicy: granularity 3 MiB", () => pool.setPolicy({ punchGranularityBytes: 3n * MIB }));
    await step("setPolicy: deferred cap on an arena", () => pool.setPolicy({ arenaId: A, deferredCapBytes: 0n }));
    await step("setPolicy: overflow policy defer", () => pool.setPolicy({ deferredOverflowPolicy: "defer" }));
    await step("setPolicy: clear without an arena", () => pool.setPolicy({ clearArenaOverride: true }));
    await step("setPolicy: unknown arena", () => pool.setPolicy({ arenaId: "arena-0123456789ab", discardPolicy: "zero" }));
    const odd = await must("allocate A 1 unit", () => pool.allocate(A, { unitCount: 1 }));
    await step("setPolicy: granularity 4 MiB does not fit a lease", () => pool.setPolicy({ punchGranularityBytes: 4n * MIB }));
    await step("release the 1-unit lease", () => pool.release(odd.leaseId));
    await step("getPolicy after the changes", () => pool.getPolicy());

    // ------------------------------------------------------------------ conversions
    await step("convert a memfd arena (notify)", () => pool.convert(A, { offsetBytes: 0n, lengthBytes: PAGE, toVisibility: "private", mode: "notify" }));
    await step("convert a memfd arena (in-place)", () => pool.convert(A, { offsetBytes: 0n, lengthBytes: PAGE, toVisibility: "private", mode: "in-place" }));
    await step("convert: offset not page-aligned", () => pool.convert(A, { offsetBytes: 1n, lengthBytes: PAGE, toVisibility: "shared", mode: "notify" }));

    // ------------------------------------------------------------------ admin take-back, release
    await step("forceRelease hotplug-1", () => pool.forceRelease({ leaseId: hotplug.leaseId }));
    await step("release a force-released lease", () => pool.release(hotplug.leaseId));
    await step("forceRelease: unknown lease", () => pool.forceRelease({ leaseId: "lease-0123456789ab" }));
    await step("forceRelease: a pid with no arena", () => pool.forceRelease({ ownerPid: 2 ** 22 + 1 }));
    await step("forceRelease arena B", () => pool.forceRelease({ arenaId: B }));
    await step("getLease of B's lease", () => pool.getLease(big.leaseId));
    await step("release fill", () => pool.release(fill.leaseId));
    await step("release fill again", () => pool.release(fill.leaseId));
    await step("release: empty lease id", () => pool.release(""));

    // ------------------------------------------------------------------ idempotency
    await step("allocate with request id", () => pool.allocate(A, { unitCount: 2 }, { requestId: "parity-allocate-1" }));
    await step("allocate with the same request id", () => pool.allocate(A, { unitCount: 2 }, { requestId: "parity-allocate-1" }));
    await step("allocate: request id reused for other fields", () => pool.allocate(A, { unitCount: 3 }, { requestId: "parity-allocate-1" }));
    await step("allocate: malformed request id", () => pool.allocate(A, { unitCount: 1 }, { requestId: "bad id!" }));

    // ------------------------------------------------------------------ watch filters, deletion
    await step("watch: unknown arena", async () => {
      const stream = pool.watch({ arenaId: "arena-0123456789ab" });
      try {
        return await stream.next();
      } finally {
        stream.cancel();
      }
    });
    const aOnly = watchOf(pool.watch({ arenaId: A, kinds: ["arena-state-changed", "lease-released", "arena-deleted"] }));
    await aOnly.waitFor(1);
    await step("deleteArena A with leases", () => pool.deleteArena(A));
    await step("deleteArena A releasing its leases", () => pool.deleteArena(A, { releaseLeases: true }));
    await step("watch A only: until A is deleted", async () => {
      await aOnly.done;
      return aOnly.finish(n);
    }, (v) => v);
    await step("deleteArena A again", () => pool.deleteArena(A));
    await step("getArena A after deletion", () => pool.getArena(A));
    await step("listArenas at the end", () => pool.listArenas());
    await step("getPoolStatus at the end", () => pool.getPoolStatus());
    await step("getFragmentationMap at the end", () => pool.getFragmentationMap(), (m) => n.value({ arenas: m.arenas, reserve: m.reserve }));
    await step("watch: every event of the session", () => watch.finish(n), (v) => v);
  } finally {
    for (const fd of memfds) closeSync(fd);
  }
  return transcript;
}

/** JSON.stringify replacer that prints bigints. */
export function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? `${value}n` : value;
}
