import assert from "node:assert/strict";
import { test } from "node:test";
import { CleanupStack } from "./cleanup-stack.ts";

test("unwind undoes in reverse order, awaits each, goes on past failures and reports them, and leaves the stack empty", async () => {
  const stack = new CleanupStack();
  const done: string[] = [];
  stack.push("close fd", () => void done.push("close fd"));
  stack.push("release lease", async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    done.push("release lease");
  });
  stack.push("delete memslot", () => {
    throw new Error("EINVAL");
  });
  stack.push("close vcpu", () => void done.push("close vcpu"));
  const errors: string[] = [];
  await stack.unwind((name, error) => errors.push(`${name}: ${(error as Error).message}`));
  assert.deepEqual(done, ["close vcpu", "release lease", "close fd"]);
  assert.deepEqual(errors, ["delete memslot: EINVAL"]);
  assert.equal(stack.size, 0);
  await stack.unwind(() => assert.fail("nothing left to undo"));
});
