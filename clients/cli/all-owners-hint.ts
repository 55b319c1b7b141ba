/**
 * The hint after an empty listing: arenas and leases belong to the process that made them
 * (docs/api.md "Identity"), and the CLI is a process of its own that owns none, so without
 * --all (or a named arena) an operator's listing is always empty. Written on stderr, so that
 * stdout stays the data.
 */
import type { CommandContext } from "./command-context.ts";

export function hintAllOwners(context: CommandContext, options: { readonly all?: boolean | undefined; readonly arena?: string | undefined }, empty: boolean): void {
  if (empty && options.all !== true && options.arena === undefined) {
    context.io.stderr.write("(only this process's arenas are shown, and it owns none; --all shows every owner's, for the admin)\n");
  }
}
