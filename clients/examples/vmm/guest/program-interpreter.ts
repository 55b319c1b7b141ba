/**
 * A test stand-in for a vCPU: runs the guest program (guest-program.ts) over a JS memory by
 * interpreting exactly the encodings its listing uses, and stops on any other byte. It lets the
 * program's logic (loop bounds, seeds, the mismatch count, the OUT and the HLT) be tested where
 * /dev/kvm is missing; the KVM test runs the same bytes on a real vCPU.
 */
import type { KvmRegister } from "@gmempool/sys";

export interface GuestMemoryAccess {
  read(gpa: bigint): number;
  write(gpa: bigint, byte: number): void;
}

export interface InterpretedRun {
  /** Each OUT: the port and the bytes written. */
  readonly outs: { readonly port: number; readonly data: Uint8Array }[];
  readonly halted: boolean;
  readonly steps: number;
  readonly registers: Map<KvmRegister, bigint>;
}

const MASK64 = (1n << 64n) - 1n;
const MASK32 = (1n << 32n) - 1n;

type Step = (cpu: { reg: Map<KvmRegister, bigint>; zf: boolean; memory: GuestMemoryAccess; outs: InterpretedRun["outs"] }, imm: number) => number | "hlt" | undefined;

interface Encoding {
  readonly bytes: readonly number[];
  /** Bytes after `bytes` (an imm8 or rel8). */
  readonly immediate: 0 | 1;
  readonly step: Step;
}

const get = (cpu: Parameters<Step>[0], r: KvmRegister): bigint => cpu.reg.get(r) ?? 0n;
/** inc on the low byte of `r` (bl, r8b): the upper bytes stay. */
const inc8 = (r: KvmRegister): Step => (cpu) => {
  const value = (Number(get(cpu, r) & 0xffn) + 1) & 0xff;
  cpu.reg.set(r, (get(cpu, r) & ~0xffn) | BigInt(value));
  cpu.zf = value === 0;
  return undefined;
};
const add64 = (r: KvmRegister, delta: bigint): Step => (cpu) => {
  const value = (get(cpu, r) + delta) & MASK64;
  cpu.reg.set(r, value);
  cpu.zf = value === 0n;
  return undefined;
};
const signed8 = (imm: number): number => (imm << 24) >> 24;

const ENCODINGS: readonly Encoding[] = [
  {
    bytes: [0x88, 0x1f],
    immediate: 0,
    step: (cpu) => {
      cpu.memory.write(get(cpu, "rdi"), Number(get(cpu, "rbx") & 0xffn));
      return undefined;
    },
  },
  { bytes: [0xfe, 0xc3], immediate: 0, step: inc8("rbx") },
  { bytes: [0x48, 0xff, 0xc7], immediate: 0, step: add64("rdi", 1n) },
  { bytes: [0x48, 0xff, 0xc9], immediate: 0, step: add64("rcx", MASK64) },
  { bytes: [0x48, 0xff, 0xc6], immediate: 0, step: add64("rsi", 1n) },
  { bytes: [0x48, 0xff, 0xca], immediate: 0, step: add64("rdx", MASK64) },
  { bytes: [0x75], immediate: 1, step: (cpu, rel) => (cpu.zf ? undefined : signed8(rel)) },
  { bytes: [0x74], immediate: 1, step: (cpu, rel) => (cpu.zf ? signed8(rel) : undefined) },
  {
    bytes: [0x31, 0xc0],
    immediate: 0,
    step: (cpu) => {
      cpu.reg.set("rax", 0n);
      cpu.zf = true;
      return undefined;
    },
  },
  {
    bytes: [0x44, 0x38, 0x06],
    immediate: 0,
    step: (cpu) => {
      cpu.zf = cpu.memory.read(get(cpu, "rsi")) === Number(get(cpu, "r8") & 0xffn);
      return undefined;
    },
  },
  {
    bytes: [0xff, 0xc0],
    immediate: 0,
    step: (cpu) => {
      // A 32-bit destination zero-extends into rax.
      const value = ((get(cpu, "rax") & MASK32) + 1n) & MASK32;
      cpu.reg.set("rax", value);
      cpu.zf = value === 0n;
      return undefined;
    },
  },
  { bytes: [0x41, 0xfe, 0xc0], immediate: 0, step: inc8("r8") },
  {
    bytes: [0xe7],
    immediate: 1,
    step: (cpu, port) => {
      const data = new Uint8Array(4);
      new DataView(data.buffer).setUint32(0, Number(get(cpu, "rax") & MASK32), true);
      cpu.outs.push({ port, data });
      return undefined;
    },
  },
  { bytes: [0xf4], immediate: 0, step: () => "hlt" },
];

const matches = (code: Uint8Array, at: number, bytes: readonly number[]): boolean => bytes.every((b, i) => code[at + i] === b);

/**
 * Runs `code` (loaded at `codeGpa`, whose bytes are read from `code`, not from memory) from its
 * first byte with `registers`, until HLT or `maxSteps` instructions.
 */
export function interpret(code: Uint8Array, registers: Partial<Record<KvmRegister, bigint>>, memory: GuestMemoryAccess, maxSteps = 1_000_000): InterpretedRun {
  const cpu = { reg: new Map(Object.entries(registers) as [KvmRegister, bigint][]), zf: false, memory, outs: [] as InterpretedRun["outs"] };
  let ip = 0;
  for (let steps = 1; steps <= maxSteps; steps++) {
    const encoding = ENCODINGS.find((e) => matches(code, ip, e.bytes));
    if (encoding === undefined) throw new Error(`no encoding known at offset 0x${ip.toString(16)}: 0x${(code[ip] ?? 0).toString(16)}`);
    const imm = code[ip + encoding.bytes.length] ?? 0;
    ip += encoding.bytes.length + encoding.immediate;
    const outcome = encoding.step(cpu, imm);
    if (outcome === "hlt") return { outs: cpu.outs, halted: true, steps, registers: cpu.reg };
    if (outcome !== undefined) ip += outcome;
    if (ip < 0 || ip >= code.length) throw new Error(`jumped outside the program, to offset ${ip}`);
  }
  return { outs: cpu.outs, halted: false, steps: maxSteps, registers: cpu.reg };
}
