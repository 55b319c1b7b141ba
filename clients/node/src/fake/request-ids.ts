/**
 * Idempotency as the daemon keeps it (pool.proto, Pool service comment): a successful mutating
 * call with a request id is recorded under (caller, RPC, request id) with a fingerprint of its
 * fields; a retry with the same id and fields gets the first result back, the same id with other
 * fields is invalid-argument. Failures are not recorded. The fake keeps records forever (the
 * daemon keeps them at least 10 minutes) and across simulated restarts (the daemon journals them).
 */
import { InvalidArgumentError } from "../pool-errors.ts";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

interface Recorded {
  readonly fingerprint: string;
  readonly result: unknown;
}

export class RequestIdRecords {
  readonly #records = new Map<string, Recorded>();

  /** Throws for a malformed id; "" means "no idempotency". */
  static validate(requestId: string): void {
    if (requestId !== "" && !REQUEST_ID.test(requestId)) {
      throw new InvalidArgumentError(`request_id ${JSON.stringify(requestId.slice(0, 140))} must be 1 to 128 bytes of [A-Za-z0-9._:-]`);
    }
  }

  static fingerprint(rpc: string, fields: object): string {
    return JSON.stringify({ rpc, ...fields }, (_key, value: unknown) => (typeof value === "bigint" ? `${value}n` : value));
  }

  /** The first result of this call, or undefined when there is none yet. */
  lookup(key: string, fingerprint: string, rpc: string, requestId: string): unknown {
    const recorded = this.#records.get(key);
    if (recorded === undefined) return undefined;
    if (recorded.fingerprint !== fingerprint) throw new InvalidArgumentError(`request_id "${requestId}" was already used for a different ${rpc} request`);
    return recorded.result;
  }

  record(key: string, fingerprint: string, result: unknown): void {
    this.#records.set(key, { fingerprint, result });
  }
}
