/**
 * The VMM's teardown, built as it sets up: every step that takes something (an fd, a mapping, an
 * arena, a lease, a memslot) pushes how to give it back, and `unwind` gives everything back in
 * reverse order — on the normal path and after an error alike, so the two cannot drift apart.
 * The order matters: a memslot is deleted before its lease is released (the guest must not
 * fault punched pages back in), leases are released before the arena is deleted, and the
 * guest_memfd is closed only after the daemon dropped its dup (DeleteArena).
 */

export type Undo = () => void | Promise<void>;

export class CleanupStack {
  readonly #entries: { readonly name: string; readonly undo: Undo }[] = [];

  push(name: string, undo: Undo): void {
    this.#entries.push({ name, undo });
  }

  get size(): number {
    return this.#entries.length;
  }

  /**
   * Runs every undo, last pushed first, each awaited. A failing undo does not stop the others:
   * `onError` hears about it. The stack is empty afterwards.
   */
  async unwind(onError: (name: string, error: unknown) => void): Promise<void> {
    for (let entry = this.#entries.pop(); entry !== undefined; entry = this.#entries.pop()) {
      try {
        await entry.undo();
      } catch (error) {
        onError(entry.name, error);
      }
    }
  }
}
