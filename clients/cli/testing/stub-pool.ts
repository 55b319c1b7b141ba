/**
 * A `Pool` whose methods are the ones a test gives; any other call rejects naming the method,
 * so a test fails loudly when a command asks for more than the test expected. Records the
 * requests it was given and whether it was closed.
 */
import type { Pool } from "../../node/src/pool.ts";

export interface StubPool {
  readonly pool: Pool;
  /** Method name and arguments of every call, in order. */
  readonly calls: { readonly method: string; readonly args: readonly unknown[] }[];
  readonly closed: () => boolean;
}

export function stubPool(methods: Partial<Pool>): StubPool {
  const calls: { method: string; args: readonly unknown[] }[] = [];
  let closed = false;
  const given = methods as Record<string, ((...args: unknown[]) => unknown) | undefined>;
  const pool = new Proxy(
    {},
    {
      get: (_target, name) => {
        // Not a thenable: `await connect()` must resolve to the pool itself.
        if (typeof name !== "string" || name === "then") return undefined;
        if (name === "close") {
          return () => {
            closed = true;
          };
        }
        return (...args: unknown[]) => {
          calls.push({ method: name, args });
          const method = given[name];
          if (method === undefined) return Promise.reject(new Error(`stub pool: ${name} was not expected`));
          return method(...args);
        };
      },
    },
  ) as Pool;
  return { pool, calls, closed: () => closed };
}
