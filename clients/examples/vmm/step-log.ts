/**
 * What the example VMM prints: numbered steps, notes under them, and checks — claims the VMM
 * verified (a pattern read back through its mapping, pages the daemon populated or punched)
 * that pass or fail. A failed check does not stop the run; it makes the exit status 1.
 *
 *   [3] allocate boot: 16 units (32 MiB) at offset 0x0
 *       lease 01J...: units [0, 16)
 *       check boot-populated: ok — 8192 of 8192 pages resident (the daemon populated them)
 */

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export class StepLog {
  readonly #write: (line: string) => void;
  readonly #checks: CheckResult[] = [];
  #step = 0;

  /** `write` gets one line at a time, without its newline. */
  constructor(write: (line: string) => void) {
    this.#write = write;
  }

  step(title: string): void {
    this.#step += 1;
    this.#write(`[${this.#step}] ${title}`);
  }

  note(text: string): void {
    this.#write(`    ${text}`);
  }

  /** Records and prints a check; returns `ok`. */
  check(name: string, ok: boolean, detail: string): boolean {
    this.#checks.push({ name, ok, detail });
    this.#write(`    check ${name}: ${ok ? "ok" : "FAILED"} — ${detail}`);
    return ok;
  }

  get checks(): readonly CheckResult[] {
    return this.#checks;
  }

  get allChecksPassed(): boolean {
    return this.#checks.every((c) => c.ok);
  }
}
