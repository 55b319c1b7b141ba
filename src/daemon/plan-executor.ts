/**
 * Runs the kernel steps of a pool plan (DESIGN.md §5: claim -> kernel -> commit / abort).
 *
 * The pool has already claimed every unit and reserve slot the plan touches; this file does the
 * kernel calls, at most `parallelism` steps at once, each off the event-loop thread where it is
 * slow (the port's fallocate is async). It reports, per step, whether the kernel did it, so that
 * the manager commits exactly that. A step either happened completely or not at all: when a
 * call fails part-way, the step's own kernel effects are undone before it is reported failed.
 *
 * Per step:
 * - populate: the arena range (fallocate KEEP_SIZE) and the reserve slots (punch), in the
 *   reserve backend's hand-out order (reserve-backend.ts); with `pool.reserve_punch =
 *   "background"` the reserve punch of an arena-first reserve is queued instead
 *   (deferred-reserve-punch.ts) and the step is done once the arena holds the unit. Undo of a partial arena populate
 *   punches only the pages the pool's record says were NOT populated before the step (a
 *   populate block may include units that already held pages, with a 4 KiB granularity).
 * - punch: the arena range (PUNCH_HOLE|KEEP_SIZE), then the reserve slots (populate). If the
 *   reserve cannot take the unit back, the arena range is re-populated (its pages as recorded)
 *   and the step fails: the unit stays leased rather than vanishing.
 * - zero (policy `zero`, shared pages): zeroes are written through a MAP_SHARED mapping of the
 *   enclosing units (memfds, and guest_memfds created with GUEST_MEMFD_FLAG_MMAP): the pages
 *   stay allocated, as `zero` promises, and nothing can be half done. A guest_memfd without
 *   MMAP cannot be mapped (ENODEV); its 4 KiB pages are punched and repopulated instead, which
 *   reads back as zeroes just the same (KERNEL.md §4: zeroed lazily at first fault).
 * - set-attributes: KVM_SET_MEMORY_ATTRIBUTES2 on the guest_memfd, retried on EAGAIN (a pinned
 *   page, KERNEL.md §5) with doubling backoff; the final error names error_offset.
 *
 * An undo that itself fails leaves the kernel out of step with the pool's record: that is
 * logged as an error and counted (`driftCount`); the record is still exact about units, and
 * the next reattach (or the arena's deletion) reconciles the kernel with it.
 */
import type { Logger } from "pino";
import { FALLOCATE_POPULATE, FALLOCATE_PUNCH, type Fd, KernelError, KVM_MEMORY_ATTRIBUTE_PRIVATE } from "@gmempool/sys";
import { UNIT_BYTES } from "@gmempool/contract";
import type { KernelPort } from "../kvm/kernel-port.ts";
import type { FileKind, KernelStep, Plan, PopulateStep, PunchStep, SetAttributesStep, Side, ZeroStep } from "../pool/index.ts";
import { toGmempoolError, type KernelContext } from "./error-classification.ts";
import type { KernelTimer } from "./kernel-timer.ts";
import type { GmempoolError } from "../pool/errors.ts";
import type { DeferredReservePunch } from "./deferred-reserve-punch.ts";
import type { ReserveBackend } from "./reserve-backend.ts";

/** An arena file as the executor needs it (borrowed fd). */
export interface ArenaFileRef {
  readonly fd: Fd;
  readonly kind: FileKind;
}

/** What the executor asks the manager about the plan's arena. */
export interface StepEnvironment {
  /**
   * The file of `side`, or "skip" when the arena's file is gone for good (its owner exited
   * and the daemon holds no fd): arena work is moot, only the reserve side runs.
   */
  file(side: Side): ArenaFileRef | "skip";
  /** Populated byte runs [start, end) of `side` inside [start, end), per the pool's record. */
  populatedRuns(side: Side, start: number, end: number): readonly (readonly [number, number])[];
}

export interface StepFailure {
  readonly index: number;
  readonly step: KernelStep;
  readonly error: GmempoolError;
}

export interface ExecutionResult {
  readonly failed: readonly number[];
  readonly failures: readonly StepFailure[];
}

export interface PlanExecutorOptions {
  readonly parallelism: number;
  /** Background reserve punches (arena-first reserves only); inline when absent. */
  readonly deferredPunch?: DeferredReservePunch;
  readonly conversionRetries: number;
  /** First EAGAIN backoff; doubles per retry. */
  readonly conversionBackoffMs?: number;
}

const ZEROES = new Uint8Array(Number(UNIT_BYTES));

export class PlanExecutor {
  readonly #kernel: KernelPort;
  readonly #reserve: ReserveBackend;
  readonly #timer: KernelTimer;
  readonly #logger: Logger;
  readonly #options: PlanExecutorOptions;
  #drift = 0;

  constructor(kernel: KernelPort, reserve: ReserveBackend, timer: KernelTimer, logger: Logger, options: PlanExecutorOptions) {
    this.#kernel = kernel;
    this.#reserve = reserve;
    this.#timer = timer;
    this.#logger = logger;
    this.#options = options;
  }

  /** Undo failures so far: times the kernel was left out of step with the record. */
  get driftCount(): number {
    return this.#drift;
  }

  async execute(plan: Plan, env: StepEnvironment): Promise<ExecutionResult> {
    const failures: StepFailure[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < plan.steps.length) {
        const index = next++;
        const step = plan.steps[index]!;
        try {
          await this.#step(step, env);
        } catch (error) {
          failures.push({ index, step, error: toGmempoolError(error, contextOf(step)) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#options.parallelism, plan.steps.length) }, worker));
    failures.sort((a, b) => a.index - b.index);
    return { failed: failures.map((f) => f.index), failures };
  }

  #step(step: KernelStep, env: StepEnvironment): Promise<void> {
    switch (step.op) {
      case "populate":
        return this.#populate(step, env);
      case "punch":
        return this.#punch(step, env);
      case "zero":
        return this.#zero(step, env);
      case "set-attributes":
        return this.#setAttributes(step, env);
    }
  }

  async #populate(step: PopulateStep, env: StepEnvironment): Promise<void> {
    const file = env.file(step.side);
    const before = env.populatedRuns(step.side, step.bytes.start, step.bytes.end);
    const arena = async (): Promise<void> => {
      if (file === "skip") return;
      try {
        await this.#fallocate(file.fd, FALLOCATE_POPULATE, step.bytes.start, step.bytes.end);
      } catch (error) {
        // The kernel may have populated a prefix (kvm_gmem_allocate stops at the failing page).
        await this.#undo("punch the pages a failed populate added", () => this.#punchExcept(file.fd, step.bytes.start, step.bytes.end, before));
        throw error;
      }
    };
    const unArena = (): Promise<void> => (file === "skip" ? Promise.resolve() : this.#punchExcept(file.fd, step.bytes.start, step.bytes.end, before));
    if (step.reserveSlots.length === 0) return arena();
    if (this.#reserve.handOutOrder === "reserve-first") {
      try {
        await this.#reserve.punchSlots(step.reserveSlots);
      } catch (error) {
        await this.#undo("re-populate reserve slots after a failed punch", () => this.#reserve.populateSlots(step.reserveSlots));
        throw error;
      }
      try {
        await arena();
      } catch (error) {
        await this.#undo("re-populate reserve slots after a failed arena populate", () => this.#reserve.populateSlots(step.reserveSlots));
        throw error;
      }
      return;
    }
    await arena();
    const deferred = this.#options.deferredPunch;
    if (deferred !== undefined) {
      // The lease is real now; the reserve's copy is given back right after, off the critical path.
      deferred.schedule(step.reserveSlots);
      return;
    }
    try {
      await this.#reserve.punchSlots(step.reserveSlots);
    } catch (error) {
      await this.#undo("punch the arena after a failed reserve punch", unArena);
      await this.#undo("re-populate reserve slots after a failed punch", () => this.#reserve.populateSlots(step.reserveSlots));
      throw error;
    }
  }

  async #punch(step: PunchStep, env: StepEnvironment): Promise<void> {
    const file = env.file(step.side);
    const before = env.populatedRuns(step.side, step.bytes.start, step.bytes.end);
    const repopulate = async (fd: Fd): Promise<void> => {
      for (const [s, e] of before) await this.#fallocate(fd, FALLOCATE_POPULATE, s, e);
    };
    if (file !== "skip") {
      try {
        await this.#fallocate(file.fd, FALLOCATE_PUNCH, step.bytes.start, step.bytes.end);
      } catch (error) {
        await this.#undo("re-populate arena pages after a failed punch", () => repopulate(file.fd));
        throw error;
      }
    }
    if (step.reserveSlots.length === 0) return;
    // A slot whose background punch has not run yet still holds its memory.
    await this.#options.deferredPunch?.claim(step.reserveSlots);
    try {
      await this.#reserve.populateSlots(step.reserveSlots);
    } catch (error) {
      // The reserve cannot hold the units: keep them in the arena instead (still leased).
      await this.#undo("punch partially populated reserve slots", () => this.#reserve.punchSlots(step.reserveSlots));
      if (file !== "skip") await this.#undo("re-populate arena pages after a failed reserve populate", () => repopulate(file.fd));
      throw error;
    }
  }

  async #zero(step: ZeroStep, env: StepEnvironment): Promise<void> {
    const file = env.file(step.side);
    if (file === "skip") return;
    const start: number = step.bytes.start;
    const end: number = step.bytes.end;
    // Map the enclosing whole units: hugetlbfs maps 2 MiB-aligned offsets only.
    const unit = Number(UNIT_BYTES);
    const mapStart = Math.floor(start / unit) * unit;
    const mapEnd = Math.ceil(end / unit) * unit;
    let mapping;
    try {
      mapping = this.#kernel.mmap(file.fd, BigInt(mapStart), BigInt(mapEnd - mapStart), "read-write");
    } catch (error) {
      // A guest_memfd created without GUEST_MEMFD_FLAG_MMAP (kvm_gmem_mmap: ENODEV): punch and
      // repopulate its 4 KiB pages instead, which reads back as zeroes just the same.
      if (!(error instanceof KernelError) || error.errno !== "ENODEV" || file.kind !== "guest_memfd") throw error;
      await this.#fallocate(file.fd, FALLOCATE_PUNCH, start, end);
      try {
        await this.#fallocate(file.fd, FALLOCATE_POPULATE, start, end);
      } catch (populateError) {
        // The pages are gone and could not come back: retry once, else report the drift.
        await this.#undo("repopulate zeroed pages", () => this.#fallocate(file.fd, FALLOCATE_POPULATE, start, end));
        throw populateError;
      }
      return;
    }
    try {
      await this.#timer.time("zero(write)", () => {
        for (let at = start; at < end; at += unit) {
          const n = Math.min(unit, end - at);
          this.#kernel.writeMapped(mapping, BigInt(at - mapStart), n === unit ? ZEROES : ZEROES.subarray(0, n));
        }
      });
    } finally {
      this.#kernel.munmap(mapping);
    }
  }

  async #setAttributes(step: SetAttributesStep, env: StepEnvironment): Promise<void> {
    const file = env.file(0);
    if (file === "skip") return;
    const request = { offset: BigInt(step.bytes.start), size: BigInt(step.bytes.end - step.bytes.start), attributes: step.private ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0n };
    let backoff = this.#options.conversionBackoffMs ?? 1;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#timer.time("ioctl(KVM_SET_MEMORY_ATTRIBUTES2)", () => this.#kernel.setMemoryAttributes2(file.fd, request));
        return;
      } catch (error) {
        if (!(error instanceof KernelError) || error.errno !== "EAGAIN" || attempt >= this.#options.conversionRetries) throw error;
        await new Promise((resolve) => setTimeout(resolve, backoff));
        backoff *= 2;
      }
    }
  }

  #fallocate(fd: Fd, mode: number, start: number, end: number): Promise<void> {
    const call = mode === FALLOCATE_PUNCH ? "fallocate(PUNCH_HOLE)" : "fallocate(KEEP_SIZE)";
    return this.#timer.time(call, () => this.#kernel.fallocate(fd, mode, BigInt(start), BigInt(end - start)));
  }

  /** Punches [start, end) except the runs in `keep` (pages populated before the step). */
  async #punchExcept(fd: Fd, start: number, end: number, keep: readonly (readonly [number, number])[]): Promise<void> {
    let cursor = start;
    for (const [s, e] of [...keep, [end, end] as const]) {
      if (s > cursor) await this.#fallocate(fd, FALLOCATE_PUNCH, cursor, Math.min(s, end));
      cursor = Math.max(cursor, e);
    }
  }

  async #undo(what: string, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (error) {
      this.#drift++;
      this.#logger.error({ err: error }, `kernel state drift: could not ${what}; the record stays exact, the next reattach or delete reconciles the kernel`);
    }
  }
}

function contextOf(step: KernelStep): KernelContext {
  const what = step.op === "set-attributes" ? `convert to ${step.private ? "private" : "shared"} in arena "${step.arenaId}"` : `${step.op} arena "${step.arenaId}" side ${step.side}`;
  return { what, offset: BigInt(step.bytes.start), length: BigInt(step.bytes.end - step.bytes.start) };
}

