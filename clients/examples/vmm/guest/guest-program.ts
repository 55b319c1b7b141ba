/**
 * The example guest: 35 bytes of x86-64 machine code, position independent, run at CPL 0 in
 * long mode (long-mode.ts). It writes a pattern, checks another one the host wrote, reports the
 * number of mismatching bytes on an I/O port and halts:
 *
 *   fill:  mov [rdi], bl ; inc bl ; inc rdi ; dec rcx ; jne fill     -- pattern (bl + i) at rdi
 *          xor eax, eax
 *   check: cmp [rsi], r8b ; je next ; inc eax                         -- count bytes != (r8b + i)
 *   next:  inc r8b ; inc rsi ; dec rdx ; jne check
 *          out 0x10, eax ; hlt                                        -- report, then HLT exit
 *
 * Its inputs are registers the VMM sets with KVM_SET_REGS (`guestRegisters`), so one program
 * serves the boot memory and every hot-plugged memslot. The listing keeps each instruction's
 * bytes next to its disassembly (objdump -M intel spelling); guest-program.test.ts checks the
 * bytes against objdump when it is installed and runs the program in a tiny interpreter of
 * exactly these instructions, so the code is tested on machines without /dev/kvm too.
 */
import type { KvmRegister } from "@gmempool/sys";
import { CODE_GPA, RESULT_PORT, STACK_TOP_GPA } from "./guest-layout.ts";
import { LONG_MODE_RFLAGS } from "./long-mode.ts";

export interface Instruction {
  readonly bytes: readonly number[];
  /** As `objdump -d -M intel` prints it, with single spaces; jump targets are program offsets. */
  readonly asm: string;
}

export const GUEST_LISTING: readonly Instruction[] = [
  { bytes: [0x88, 0x1f], asm: "mov BYTE PTR [rdi],bl" }, // 0x00 fill
  { bytes: [0xfe, 0xc3], asm: "inc bl" },
  { bytes: [0x48, 0xff, 0xc7], asm: "inc rdi" },
  { bytes: [0x48, 0xff, 0xc9], asm: "dec rcx" },
  { bytes: [0x75, 0xf4], asm: "jne 0x0" }, // -12: back to fill
  { bytes: [0x31, 0xc0], asm: "xor eax,eax" },
  { bytes: [0x44, 0x38, 0x06], asm: "cmp BYTE PTR [rsi],r8b" }, // 0x0e check
  { bytes: [0x74, 0x02], asm: "je 0x15" }, // +2: over inc eax
  { bytes: [0xff, 0xc0], asm: "inc eax" },
  { bytes: [0x41, 0xfe, 0xc0], asm: "inc r8b" }, // 0x15 next
  { bytes: [0x48, 0xff, 0xc6], asm: "inc rsi" },
  { bytes: [0x48, 0xff, 0xca], asm: "dec rdx" },
  { bytes: [0x75, 0xee], asm: "jne 0xe" }, // -18: back to check
  { bytes: [0xe7, RESULT_PORT], asm: `out 0x${RESULT_PORT.toString(16)},eax` },
  { bytes: [0xf4], asm: "hlt" },
];

export const GUEST_PROGRAM: Uint8Array = Uint8Array.from(GUEST_LISTING.flatMap((instruction) => instruction.bytes));

export interface GuestTask {
  /** Where the guest writes `fillBytes` bytes of the pattern with seed `fillSeed`. */
  readonly fillGpa: bigint;
  readonly fillSeed: number;
  readonly fillBytes: number;
  /** Where the guest checks `checkBytes` bytes of the host's pattern with seed `checkSeed`. */
  readonly checkGpa: bigint;
  readonly checkSeed: number;
  readonly checkBytes: number;
}

/**
 * The registers that start the program on `task` (KVM_SET_REGS; the rest are zero). Both lengths
 * must be at least 1: the loops test their counter after the first iteration.
 */
export function guestRegisters(task: GuestTask): Partial<Record<KvmRegister, bigint>> {
  for (const [name, length] of [["fillBytes", task.fillBytes], ["checkBytes", task.checkBytes]] as const) {
    if (!Number.isInteger(length) || length < 1) throw new RangeError(`${name} must be a positive integer, got ${length}`);
  }
  return {
    rip: CODE_GPA,
    rsp: STACK_TOP_GPA,
    rflags: LONG_MODE_RFLAGS,
    rdi: task.fillGpa,
    rbx: BigInt(task.fillSeed & 0xff),
    rcx: BigInt(task.fillBytes),
    rsi: task.checkGpa,
    r8: BigInt(task.checkSeed & 0xff),
    rdx: BigInt(task.checkBytes),
  };
}
