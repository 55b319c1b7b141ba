/**
 * `npm run bench -- flood [--daemon BIN] [--node-arg FLAG]... [--steps 1,3,5]`: one hostile
 * tenant against the real daemon (issue 12, items 1–3 and 8), and what it costs the daemon: its
 * open fds and RSS after each flood and once the flooder is gone, how long another tenant's
 * GetPoolStatus waits meanwhile (p50 / p99 / max of a probe every 5 ms), and the daemon's own
 * event-loop delay, max and p99 (prom-client's nodejs_eventloop_lag_{max,p99}_seconds, reset at
 * every scrape), at the 1 ms resolution the config sets (metrics.event_loop_resolution; an idle
 * loop reads ~1 ms): the two side by side show whether the daemon or this process was busy. The
 * loop delay also counts time the daemon's thread waited for a CPU (this process and the
 * flood's share the host's 2 cores); the daemon's busy stretches
 * (gmempool_event_loop_busy_{max_,}seconds, src/server/loop-busy-monitor.ts) count only the
 * time it ran: their max per step, and how many exceeded 10 ms. A stretch may hold many calls
 * (every task of one loop turn, grpc-js's own work too); each call's own part is checked by the
 * daemon, which logs a call whose start or answer held the loop over 10 ms
 * (CALL_LOOP_HOLD_WARN_MS): "calls > 10 ms" counts those log lines per step.
 *
 * `--daemon BIN` runs another checkout's src/main/gmempool-bin.mjs (before/after in one session;
 * default this one's); `--node-arg` passes node flags to it (`--cpu-prof`,
 * `--cpu-prof-dir=DIR`, `--trace-gc`: its lines are printed after the table); `--steps` runs
 * only the floods named.
 *
 * The daemon (reserve none, a pool of 2^24 units = 32 TiB of accounting, so the largest arena
 * a tenant may make is that large) has admin uid 65534 only: this process, root, is an ordinary
 * tenant, bound by every per-uid limit. The floods, in order:
 * 1. 1,268 SEND_FD datagrams carrying 40 fds each (more than the receive buffer takes);
 * 2. 1,500 idle connections to api.sock;
 * 3. 64 Watch streams nobody reads;
 * 4. 2,400 RECEIVE_FD tokens left pending, over 40 fd-channel connections;
 * 5. a sparse memfd arena of 2^24 units and 20 GetFragmentationMap of it (and a 2^28-unit one,
 *    refused).
 * Each flood's answers are counted by status.
 */
import * as grpc from "@grpc/grpc-js";
import { connect, type Socket } from "node:net";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FD_MESSAGE_KIND } from "@gmempool/contract";
import { closeFd, connectSeqpacket, IncomingMessageBuffers, OutgoingMessage, recvSeqpacket, sendSeqpacket, type Fd } from "@gmempool/sys";
import { LinuxKernel } from "../src/kvm/linux-kernel.ts";
import { encodeFdMessage, readFdMessageHeader } from "../src/server/fd-channel/fd-message.ts";
import { DaemonProcess } from "../src/main/testing/daemon-process.ts";
import { FdChannelClient, isCallFailure, TestClient } from "../src/main/testing/test-client.ts";
import { sampleValue, scrapeMetrics } from "../src/server/testing/scrape-metrics.ts";
import { CALL_LOOP_HOLD_MESSAGE } from "../src/server/grpc/handler-context.ts";
import { flagValues, formatTable, median, percentile, type Bench, type BenchResult } from "./bench.ts";
import { nodeWrapper } from "./node-wrapper.ts";

const POOL_UNITS = 1 << 24;
const UNIT = 2n * 1024n * 1024n;

const THIS_BIN = fileURLToPath(new URL("../src/main/gmempool-bin.mjs", import.meta.url));

const CONFIG = ["[pool]", `capacity = "${POOL_UNITS * 2}MiB"`, 'reserve = "none"', "[admin]", "uids = [65534]", "[journal]", "fsync = false", "[metrics]", 'event_loop_resolution = "1ms"'].join("\n");

interface Arguments {
  readonly bin: string;
  readonly nodeArgs: readonly string[];
  readonly steps: ReadonlySet<number>;
}

function parse(args: readonly string[]): Arguments {
  const steps = flagValues(args, "--steps").flatMap((v) => v.split(",")).map(Number);
  return { bin: flagValues(args, "--daemon").at(-1) ?? THIS_BIN, nodeArgs: flagValues(args, "--node-arg"), steps: new Set(steps.length > 0 ? steps : [1, 2, 3, 4, 5]) };
}

interface Sample {
  readonly step: string;
  readonly fds: number;
  readonly rssMiB: number;
  readonly loopMaxMs: number;
  readonly loopP99Ms: number;
  readonly busyMaxMs: number;
  /** Busy stretches over 10 ms during the step (from the busy histogram's counts). */
  readonly busyOver10Ms: number;
  /** The daemon's CALL_LOOP_HOLD_MESSAGE warnings during the step: count, and the longest. */
  readonly slowCalls: string;
  readonly probeP50Ms: number;
  readonly probeP99Ms: number;
  readonly probeMaxMs: number;
  readonly answers: string;
  /** When the step ended (CLOCK_MONOTONIC, µs: the clock of a V8 CPU profile's timestamps, so a profile's tasks can be matched to the steps). */
  readonly endMonotonicUs: number;
}

function daemonFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function daemonRssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(/(\d+)/.exec(line ?? "")?.[1] ?? 0) / 1024;
}

interface LoopFigures {
  /** Event-loop delay maximum and p99 since the last scrape (ms); the scrape resets them. */
  readonly max: number;
  readonly p99: number;
  /** Longest busy stretch since the last scrape (ms), reset likewise. */
  readonly busyMax: number;
  /** Busy stretches over 10 ms since the daemon started (a histogram's cumulative count). */
  readonly busyOver10: number;
}

async function loopFigures(metricsSocket: string): Promise<LoopFigures> {
  const { text } = await scrapeMetrics({ socketPath: metricsSocket });
  const busy = "gmempool_event_loop_busy_seconds";
  return {
    max: 1000 * sampleValue(text, "gmempool_nodejs_eventloop_lag_max_seconds"),
    p99: 1000 * sampleValue(text, "gmempool_nodejs_eventloop_lag_p99_seconds"),
    busyMax: 1000 * sampleValue(text, "gmempool_event_loop_busy_max_seconds"),
    busyOver10: sampleValue(text, `${busy}_count`) - sampleValue(text, `${busy}_bucket{le="0.01"}`),
  };
}

/** Another tenant's GetPoolStatus every 5 ms while `work` runs: its latencies (ms). */
async function probed(probe: TestClient, work: () => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  const state = { running: true };
  const loop = (async () => {
    while (state.running) {
      const start = performance.now();
      await probe.call("GetPoolStatus", {});
      latencies.push(performance.now() - start);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  try {
    await work();
  } finally {
    state.running = false;
    await loop;
  }
  return latencies;
}

/** Counts outcomes by gRPC status name (or "OK"). */
class Answers {
  readonly #counts = new Map<string, number>();
  add(outcome: string): void {
    this.#counts.set(outcome, (this.#counts.get(outcome) ?? 0) + 1);
  }
  async of(call: Promise<unknown>): Promise<void> {
    try {
      await call;
      this.add("OK");
    } catch (error) {
      this.add(isCallFailure(error) ? grpc.status[error.code] : `error: ${String(error)}`);
    }
  }
  toString(): string {
    return [...this.#counts].map(([k, v]) => `${v} ${k}`).join(", ") || "-";
  }
}

async function run(args: readonly string[]): Promise<BenchResult> {
  const { bin, nodeArgs, steps } = parse(args);
  const kernel = new LinuxKernel();
  const scratch = mkdtempSync(join(tmpdir(), "gmempool-bench-flood-"));
  const executable = nodeArgs.length === 0 ? bin : nodeWrapper(scratch, nodeArgs, bin);
  const daemon = await DaemonProcess.start({ config: CONFIG, logLevel: "info", env: { GMEMPOOL_RUNTIME_DIR: "" }, executable });
  const pid = daemon.child.pid!;
  const samples: Sample[] = [];
  const probe = new TestClient({ apiSocket: daemon.paths.apiSocket });
  const tenant = new TestClient({ apiSocket: daemon.paths.apiSocket });
  const held: { sockets: Socket[]; channels: FdChannelClient[]; streams: grpc.ClientReadableStream<unknown>[]; fds: Fd[] } = { sockets: [], channels: [], streams: [], fds: [] };
  let busyOver10Before = 0;
  let logLinesBefore = 0;
  const slowCalls = (): string => {
    const held = daemon.log.slice(logLinesBefore).flatMap((line) => line.split("\n")).filter((line) => line.includes(`"${CALL_LOOP_HOLD_MESSAGE}"`)).map((line) => JSON.parse(line) as { method: string; part: string; heldMs: number });
    logLinesBefore = daemon.log.length;
    if (held.length === 0) return "0";
    const longest = held.reduce((a, b) => (b.heldMs > a.heldMs ? b : a));
    return `${held.length} (${longest.method} ${longest.part} ${longest.heldMs} ms)`;
  };
  const sample = async (step: string, latencies: number[], answers: Answers | string): Promise<void> => {
    const loop = await loopFigures(daemon.paths.metricsSocket);
    samples.push({
      step,
      fds: daemonFds(pid),
      rssMiB: daemonRssMiB(pid),
      loopMaxMs: loop.max,
      loopP99Ms: loop.p99,
      busyMaxMs: loop.busyMax,
      busyOver10Ms: loop.busyOver10 - busyOver10Before,
      slowCalls: slowCalls(),
      probeP50Ms: latencies.length === 0 ? NaN : median(latencies),
      probeP99Ms: latencies.length === 0 ? NaN : percentile(latencies, 99),
      probeMaxMs: latencies.length === 0 ? NaN : Math.max(...latencies),
      answers: String(answers),
      endMonotonicUs: Number(process.hrtime.bigint() / 1000n),
    });
    busyOver10Before = loop.busyOver10;
    process.stderr.write(`flood: ${step}: ${samples.at(-1)!.fds} fds, ${samples.at(-1)!.rssMiB.toFixed(0)} MiB\n`);
  };
  try {
    await tenant.call("GetPoolStatus", {});
    // The start-up's stretches (module load, recovery) are not a tenant's: the first step starts after them.
    busyOver10Before = (await loopFigures(daemon.paths.metricsSocket)).busyOver10;
    slowCalls();
    await sample("start", await probed(probe, () => new Promise((r) => setTimeout(r, 500))), "-");

    // 1. Truncated control messages: sent raw (the kernel port refuses more than 16 fds), the
    // daemon's replies read raw between batches.
    if (steps.has(1)) {
      const answers = new Answers();
      let peer = await connectSeqpacket(daemon.paths.fdSocket);
      let closed = false;
      const memfd = kernel.memfdCreate("gmempool-bench-flood", "shmem");
      const forty = Array.from({ length: 40 }, () => memfd);
      const replies = new IncomingMessageBuffers(4096, 4);
      const drain = async (want: number): Promise<void> => {
        for (let got = 0; got < want; ) {
          const reply = recvSeqpacket(peer, replies);
          if (reply.kind === "again") {
            await new Promise((r) => setTimeout(r, 1));
            continue;
          }
          got += 1;
          if (reply.kind !== "message") {
            answers.add(reply.kind === "end" ? "connection closed" : reply.kind);
            if (reply.kind === "end") {
              closed = true;
              return;
            }
            continue;
          }
          const status = readFdMessageHeader(reply.payload).status;
          answers.add(status === 0 ? "OK" : (grpc.status[status] ?? String(status)));
        }
      };
      const latencies = await probed(probe, async () => {
        for (let i = 0; i < 1268; i++) {
          try {
            sendSeqpacket(peer, new OutgoingMessage(encodeFdMessage({ kind: FD_MESSAGE_KIND.SEND_FD, sequence: BigInt(i + 1), fdType: 2 }), forty));
            await drain(1);
          } catch (error) {
            answers.add(String((error as { errno?: string }).errno ?? error));
            closed = true;
          }
          if (closed) {
            // The daemon closes a connection after a framing error: the flooder reconnects.
            closeFd(peer);
            peer = await connectSeqpacket(daemon.paths.fdSocket);
            closed = false;
          }
        }
      });
      closeFd(peer);
      kernel.close(memfd);
      await sample("1,268 SEND_FD x 40 fds", latencies, answers);
    }

    // 2. Idle connections.
    if (steps.has(2)) {
      const latencies = await probed(probe, async () => {
        for (let i = 0; i < 1500; i++) {
          const socket = connect(daemon.paths.apiSocket);
          socket.on("error", () => undefined);
          held.sockets.push(socket);
        }
        await new Promise((r) => setTimeout(r, 1500));
      });
      const open = held.sockets.filter((s) => !s.destroyed && s.readyState === "open").length;
      await sample("1,500 idle api.sock connections", latencies, `${open} still open after 1.5 s`);
    }

    // 3. Unread Watch streams.
    if (steps.has(3)) {
      const answers = new Answers();
      const latencies = await probed(probe, async () => {
        const ends = [];
        for (let i = 0; i < 64; i++) {
          const stream = tenant.pool.Watch({ arenaId: "", kinds: [], allOwners: false });
          stream.pause();
          held.streams.push(stream);
          ends.push(
            new Promise<void>((resolve) => {
              stream.on("error", (e: grpc.ServiceError) => {
                answers.add(grpc.status[e.code]);
                resolve();
              });
              setTimeout(resolve, 1000);
            }),
          );
        }
        await Promise.all(ends);
      });
      await sample("64 unread Watch streams", latencies, `${answers.toString()} (the rest open)`);
    }

    // 4. Pending fd tokens.
    if (steps.has(4)) {
      const answers = new Answers();
      const latencies = await probed(probe, async () => {
        for (let c = 0; c < 40; c++) {
          const channel = await FdChannelClient.connect(kernel, daemon.paths.fdSocket);
          held.channels.push(channel);
          for (let i = 0; i < 60; i++) {
            await channel.sendRaw(encodeFdMessage({ kind: FD_MESSAGE_KIND.RECEIVE_FD, sequence: BigInt(i + 1) }));
            const reply = await channel.receive();
            answers.add(reply.status === 0 ? "OK" : grpc.status[reply.status] ?? String(reply.status));
          }
        }
      });
      await sample("2,400 RECEIVE_FD tokens left pending", latencies, answers);
    }

    // 5. Sparse arenas as large as the pool, and their maps (the pending tokens given up first).
    for (const c of held.channels.splice(0)) c.close();
    if (steps.has(5)) {
      const answers = new Answers();
      const mapMs: number[] = [];
      const latencies = await probed(probe, async () => {
        const channel = await FdChannelClient.connect(kernel, daemon.paths.fdSocket);
        held.channels.push(channel);
        const token = await channel.receiveFdToken();
        const [created, delivery] = await Promise.all([tenant.call("CreateMemfdArena", { memfdFdToken: token, sizeBytes: String(BigInt(POOL_UNITS) * UNIT), backing: "MEMFD_BACKING_SHMEM", name: "sparse" }), channel.receive()]);
        held.fds.push(...delivery.fds);
        const arenaId = created.arena!.arenaId;
        await tenant.call("Allocate", { arenaId, unitCount: 2, offsetBytes: String(8n * UNIT), label: "" });
        for (let i = 0; i < 20; i++) {
          const start = performance.now();
          await answers.of(tenant.call("GetFragmentationMap", { arenaId, allOwners: false }));
          mapMs.push(performance.now() - start);
        }
        const token2 = await channel.receiveFdToken();
        await answers.of(tenant.call("CreateMemfdArena", { memfdFdToken: token2, sizeBytes: String((1n << 28n) * UNIT), backing: "MEMFD_BACKING_SHMEM", name: "huge" }));
      });
      await sample(`2^24-unit arena, 20 maps (map p50 ${median(mapMs).toFixed(1)} ms)`, latencies, answers);
    }

    // The flooder goes.
    for (const s of held.sockets) s.destroy();
    for (const s of held.streams) s.cancel();
    for (const c of held.channels) c.close();
    for (const fd of held.fds) kernel.close(fd);
    tenant.close();
    await new Promise((r) => setTimeout(r, 2000));
    await sample("flooder gone (+2 s)", await probed(probe, () => new Promise((r) => setTimeout(r, 500))), "-");
  } finally {
    probe.close();
    // SIGTERM, not kill -9: a daemon under --cpu-prof writes its profile at exit.
    if (nodeArgs.length === 0) await daemon.kill();
    else await daemon.stop();
    daemon.removeDir();
    rmSync(scratch, { recursive: true, force: true });
    kernel.release();
  }
  const rows = [
    ["step", "daemon fds", "RSS MiB", "loop max ms", "loop p99 ms", "busy max ms", "busy > 10 ms", "calls > 10 ms", "probe p50 ms", "probe p99 ms", "probe max ms", "answers"],
    ...samples.map((s) => [s.step, String(s.fds), s.rssMiB.toFixed(0), s.loopMaxMs.toFixed(1), s.loopP99Ms.toFixed(1), s.busyMaxMs.toFixed(1), String(s.busyOver10Ms), s.slowCalls, s.probeP50Ms.toFixed(2), s.probeP99Ms.toFixed(1), s.probeMaxMs.toFixed(1), s.answers]),
  ];
  const gcLines = daemon.log.filter((line) => line.startsWith("["));
  return {
    json: { daemon: bin, samples },
    table: [`one tenant's floods against the real daemon ${bin} (loop delay at 1 ms resolution; probe: another tenant's GetPoolStatus every 5 ms)`, ...formatTable(rows), ...(gcLines.length === 0 ? [] : ["", "daemon's --trace-gc:", ...gcLines])],
  };
}

export const bench: Bench = { name: "flood", summary: "a hostile tenant's floods: the daemon's fds, RSS, loop delay and another tenant's latency", run };
