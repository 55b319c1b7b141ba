/**
 * An optional, debug-only record of how long each phase of an RPC takes inside the daemon, for
 * `npm run bench -- allocate-breakdown` (bench/allocate-breakdown.ts), which reads it.
 *
 * Off unless the environment variable GMEMPOOL_PHASE_TIMES names a file. Zero-cost when off:
 * `phaseTimer` is then undefined and every hook is written `phaseTimer?.…` (or tests it
 * first), so no clock is read and nothing is allocated. On, each hook adds one sample
 * (milliseconds) under "RPC/phase", and the samples are written to the file as JSON
 * (`{ "Allocate/kernel": [0.41, ...], ... }`) when the process exits.
 *
 * Which RPC a transaction belongs to: the handler names it in `rpc` while it runs synchronously
 * (unaryHandler), and the transaction runner reads it in its own synchronous start (the claim),
 * which the handler's call reaches without an await. Work not started by a handler (an owner's
 * exit) is recorded under "-".
 *
 * The hooks: handler-context.ts (decode = request deserialize + the handler's codec, up to the
 * service call; server = handler entry to the response handed to grpc-js; encode = response
 * serialize), transaction-runner.ts (claim, kernel, commit, journal append, journal durable,
 * publish).
 */
import { writeFileSync } from "node:fs";

export class PhaseTimer {
  readonly #samples = new Map<string, number[]>();
  /** The RPC whose handler is running synchronously right now (see the file comment). */
  rpc = "-";

  constructor(path: string) {
    process.once("exit", () => writeFileSync(path, JSON.stringify(Object.fromEntries(this.#samples))));
  }

  /** The clock the samples are taken with (ms). */
  now(): number {
    return performance.now();
  }

  /** One sample of `phase` of `rpc`: the time since `start` (a `now()`). */
  record(rpc: string, phase: string, start: number): void {
    const key = `${rpc}/${phase}`;
    let samples = this.#samples.get(key);
    if (samples === undefined) this.#samples.set(key, (samples = []));
    samples.push(performance.now() - start);
  }
}

const path = process.env["GMEMPOOL_PHASE_TIMES"];
export const phaseTimer: PhaseTimer | undefined = path === undefined || path === "" ? undefined : new PhaseTimer(path);
