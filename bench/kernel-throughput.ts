/**
 * kernel-throughput: how fast the kernel port populates and punches 1 GiB of guest_memfd, shmem
 * memfd and hugetlb memfd — one call, 2 MiB chunks one after another, and 2 MiB chunks in
 * parallel — and the event loop's worst stall meanwhile (every call runs off the loop).
 *
 *   npm run bench -- kernel-throughput [--json] [--reps N] [--gib N] [--parallel N]
 *
 * Needs root for hugetlb (nr_hugepages is raised for the run and restored after) and /dev/kvm for
 * guest_memfd; without /dev/kvm the guest_memfd figures are null and the reason is printed.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { DEFAULT_CHUNK_PARALLELISM, fallocateChunked } from "../src/kvm/fallocate-chunked.ts";
import { errnoName, FALLOCATE_POPULATE, FALLOCATE_PUNCH, type Fd, HUGETLB_PAGE_BYTES, lastErrno, libc } from "@gmempool/sys";
import { UNIT_BYTES } from "@gmempool/contract";
import { LinuxKernel } from "../src/kvm/linux-kernel.ts";
import { formatTable, median, type Bench, type BenchResult } from "./bench.ts";

type Mode = "one call" | "2 MiB chunks" | "2 MiB chunks, parallel";

/** Worst and p99 event-loop delay over a phase: Node's delay histogram plus a 1 ms timer's lateness. */
class StallMeter {
  readonly #histogram = monitorEventLoopDelay({ resolution: 1 });
  #timer: NodeJS.Timeout | undefined;
  #last = 0;
  #late = 0;

  start(): void {
    this.#histogram.reset();
    this.#histogram.enable();
    this.#late = 0;
    this.#last = performance.now();
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.#late = Math.max(this.#late, now - this.#last - 1);
      this.#last = now;
    }, 1);
  }

  stop(): { max: number; p99: number } {
    clearInterval(this.#timer);
    this.#histogram.disable();
    return { max: Math.max(this.#histogram.max / 1e6, this.#late), p99: this.#histogram.percentile(99) / 1e6 };
  }
}

interface Row {
  readonly backing: string;
  readonly mode: string;
  readonly populate: number;
  readonly punch: number;
  /** Worst event-loop stall (ms) while this row's calls ran. */
  readonly stall: number;
}

function option(args: readonly string[], name: string, fallback: number): number {
  const at = args.indexOf(name);
  const value = at >= 0 ? Number(args[at + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} needs a positive number`);
  return value;
}

const gibPerSecond = (bytes: bigint, ms: number): number => Number(bytes) / 2 ** 30 / (ms / 1000);
const fixed = (value: number): string => value.toFixed(2);

async function timed(action: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await action();
  return performance.now() - start;
}

async function fallocateAs(kernel: LinuxKernel, fd: Fd, mode: number, bytes: bigint, how: Mode, parallel: number): Promise<void> {
  if (how === "one call") await kernel.fallocate(fd, mode, 0n, bytes);
  else await fallocateChunked(kernel, fd, mode, { offset: 0n, length: bytes }, { chunkBytes: UNIT_BYTES, parallelism: how === "2 MiB chunks" ? 1 : parallel });
}

/** Median GiB/s of populate and of punch over `reps` rounds; the file is empty again after each. */
async function measure(kernel: LinuxKernel, fd: Fd, bytes: bigint, how: Mode, parallel: number, reps: number): Promise<{ populate: number; punch: number; stall: number }> {
  const populate: number[] = [];
  const punch: number[] = [];
  const meter = new StallMeter();
  meter.start();
  for (let rep = 0; rep < reps; rep++) {
    populate.push(gibPerSecond(bytes, await timed(() => fallocateAs(kernel, fd, FALLOCATE_POPULATE, bytes, how, parallel))));
    punch.push(gibPerSecond(bytes, await timed(() => fallocateAs(kernel, fd, FALLOCATE_PUNCH, bytes, how, parallel))));
  }
  return { populate: median(populate), punch: median(punch), stall: meter.stop().max };
}

/** The reference the target names: one synchronous 1 GiB call on the event-loop thread. */
async function synchronousPopulate(kernel: LinuxKernel, fd: Fd, bytes: bigint, reps: number, meter: StallMeter): Promise<{ populate: number; stall: number }> {
  const rates: number[] = [];
  const stalls: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    meter.start();
    const start = performance.now();
    const result = libc.fallocate(fd, FALLOCATE_POPULATE, 0n, bytes);
    const errno = result === -1 ? lastErrno() : 0;
    const ms = performance.now() - start;
    // Let the timer and the histogram see the blocked loop before stopping them.
    await new Promise((resolve) => setTimeout(resolve, 5));
    stalls.push(meter.stop().max);
    if (result !== 0) throw new Error(`synchronous fallocate failed: ${errnoName(errno)}`);
    rates.push(gibPerSecond(bytes, ms));
    await kernel.fallocate(fd, FALLOCATE_PUNCH, 0n, bytes);
  }
  return { populate: median(rates), stall: median(stalls) };
}

async function run(args: readonly string[]): Promise<BenchResult> {
  const reps = option(args, "--reps", 5);
  const parallel = option(args, "--parallel", DEFAULT_CHUNK_PARALLELISM);
  const bytes = BigInt(option(args, "--gib", 1)) << 30n;
  const modes: Mode[] = ["one call", "2 MiB chunks", "2 MiB chunks, parallel"];
  const kernel = new LinuxKernel({ maxInFlight: Math.max(16, parallel) });
  const rows: Row[] = [];
  const meter = new StallMeter();
  const progress = (line: string): void => {
    process.stderr.write(`kernel-throughput: ${line}\n`);
  };
  const label = (how: Mode, p = parallel): string => (how === "2 MiB chunks, parallel" ? `${how} (${p})` : `${how}, async`.replace("chunks, async", "chunks"));

  // The machine's own noise floor: the loop idle for a second (other work on the host shows here).
  meter.start();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const idle = meter.stop();

  const savedHugepages = kernel.hugetlbPool().nrHugepages;
  const fds: Fd[] = [];
  // The synchronous reference runs on guest_memfd where there is one, else on the shmem memfd.
  let sync: { backing: string; populate: number; stall: number } | undefined;
  let gmemUnavailable: string | undefined;
  try {
    let vm: Fd | undefined;
    try {
      vm = kernel.createVm(0);
    } catch (error) {
      // No /dev/kvm (or no permission): the memfd rows still say something; the gmem ones are null.
      gmemUnavailable = error instanceof Error ? error.message : String(error);
      progress(`guest_memfd skipped: ${gmemUnavailable}`);
    }
    if (vm !== undefined) {
      fds.push(vm);
      const gmem = kernel.createGuestMemfd(vm, bytes, 0n);
      fds.push(gmem);
      progress("guest_memfd, one synchronous call (blocks the event loop on purpose)");
      sync = { backing: "guest_memfd", ...(await synchronousPopulate(kernel, gmem, bytes, reps, meter)) };

      // From here on every kernel call is off the event-loop thread: each row's stall counts.
      for (const how of modes) {
        progress(`guest_memfd, ${label(how)}`);
        rows.push({ backing: "guest_memfd", mode: label(how), ...(await measure(kernel, gmem, bytes, how, parallel, reps)) });
      }
      for (const p of [2, 4, 8].filter((p) => p !== parallel)) {
        progress(`guest_memfd, ${label("2 MiB chunks, parallel", p)}`);
        rows.push({ backing: "guest_memfd", mode: label("2 MiB chunks, parallel", p), ...(await measure(kernel, gmem, bytes, "2 MiB chunks, parallel", p, reps)) });
      }
    }

    const memfd = kernel.memfdCreate("bench-shmem", "shmem");
    fds.push(memfd);
    kernel.ftruncate(memfd, bytes);
    if (sync === undefined) {
      progress("shmem memfd, one synchronous call (blocks the event loop on purpose)");
      sync = { backing: "shmem memfd", ...(await synchronousPopulate(kernel, memfd, bytes, reps, meter)) };
    }
    for (const how of modes) {
      progress(`shmem memfd, ${label(how)}`);
      rows.push({ backing: "shmem memfd", mode: label(how), ...(await measure(kernel, memfd, bytes, how, parallel, reps)) });
    }

    const pages = Number(bytes / HUGETLB_PAGE_BYTES);
    const got = await kernel.setNrHugepages(savedHugepages + pages);
    if (got - savedHugepages >= pages) {
      const huge = kernel.memfdCreate("bench-hugetlb", "hugetlb-2m");
      fds.push(huge);
      kernel.ftruncate(huge, bytes);
      for (const how of modes) {
        progress(`hugetlb memfd, ${label(how)}`);
        rows.push({ backing: "hugetlb memfd", mode: label(how), ...(await measure(kernel, huge, bytes, how, parallel, reps)) });
      }
    } else {
      progress(`hugetlb skipped: only ${got - savedHugepages} of ${pages} pages could be reserved`);
    }
  } finally {
    // Every file is empty here (each round punches what it populated), so closing is quick.
    for (const fd of fds.reverse()) kernel.close(fd);
    await kernel.setNrHugepages(savedHugepages);
    kernel.release();
  }

  const pick = (backing: string, mode: string, field: "populate" | "punch"): number | null => {
    const value = rows.find((r) => r.backing === backing && r.mode === mode)?.[field];
    return value === undefined ? null : Number(value.toFixed(3));
  };
  const parallelMode = label("2 MiB chunks, parallel");
  const worstStall = Math.max(...rows.map((r) => r.stall));
  const reference = sync;
  const json = {
    gmem_populate_gib_s_single: reference.backing === "guest_memfd" ? Number(reference.populate.toFixed(3)) : null,
    gmem_populate_gib_s_parallel: pick("guest_memfd", parallelMode, "populate"),
    gmem_punch_gib_s: pick("guest_memfd", parallelMode, "punch"),
    memfd_populate_gib_s: pick("shmem memfd", parallelMode, "populate"),
    hugetlb_populate_gib_s: pick("hugetlb memfd", parallelMode, "populate"),
    max_event_loop_stall_ms: Number(worstStall.toFixed(2)),
    ...(gmemUnavailable === undefined ? {} : { gmem_unavailable: gmemUnavailable }),
  };
  const table = [
    `kernel-throughput: ${bytes >> 30n} GiB, medians of ${reps} runs, GiB/s; nr_hugepages restored to ${savedHugepages}`,
    ...formatTable([
      ["backing", "mode", "populate", "punch", "worst stall ms"],
      [reference.backing, "one call, synchronous", fixed(reference.populate), "-", reference.stall.toFixed(1)],
      ...rows.map((r) => [r.backing, r.mode, fixed(r.populate), fixed(r.punch), r.stall.toFixed(1)]),
    ]),
    `event loop while the port works (all calls off the loop): worst stall ${worstStall.toFixed(2)} ms`,
    `event loop idle, before the run (the machine's noise floor): worst ${idle.max.toFixed(2)} ms, p99 ${idle.p99.toFixed(2)} ms`,
    `for comparison, one synchronous ${bytes >> 30n} GiB fallocate (${reference.backing}) on the loop stalls it ${reference.stall.toFixed(1)} ms`,
    ...(gmemUnavailable === undefined ? [] : [`guest_memfd not measured: ${gmemUnavailable}`]),
  ];
  return { json, table };
}

export const bench: Bench = {
  name: "kernel-throughput",
  summary: "populate / punch GiB/s of guest_memfd, shmem and hugetlb memfds through the kernel port; event-loop stalls",
  run,
};
