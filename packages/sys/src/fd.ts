/**
 * A file descriptor number, branded so that it cannot be confused with a count, a slot id or a
 * byte offset. Only the koffi layer (this package and the daemon's kernel port) mints them
 * (`asFd`), from what a syscall returned. The client library's API takes and returns plain
 * numbers (its callers' fds); an `Fd` is a number, so one passes where a number is asked.
 *
 * Ownership is stated by every function that takes or returns one (STYLE.md rule 7): "caller
 * owns" means the caller must close it; "borrowed" means the callee neither closes nor keeps it.
 */
export type Fd = number & { readonly __brand: "Fd" };

/** Brands a syscall result as an fd; throws on anything that is not a non-negative int32. */
export function asFd(value: number): Fd {
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) throw new RangeError(`not an fd: ${value}`);
  return value as Fd;
}
