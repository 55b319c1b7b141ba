/**
 * Where things are in the example guest's physical memory.
 *
 * Guest physical addresses equal offsets in the arena's guest_memfd: each lease gets a memslot
 * at GPA = its offset in the file, so the boot lease (offset 0) is GPA 0 and a hot-plugged lease
 * at offset 32 MiB is GPA 32 MiB. The boot memory holds the code, the page tables and two
 * pattern regions; each hot-plugged lease gets two pattern regions of its own.
 */

/** The guest program (guest-program.ts); the vCPU starts here. */
export const CODE_GPA = 0x1000n;
/** rsp at entry. The program pushes nothing, but a vCPU should never start without a stack. */
export const STACK_TOP_GPA = 0x7000n;
/** The 4-level page tables (page-tables.ts): one page each. */
export const PML4_GPA = 0x8000n;
export const PDPT_GPA = 0x9000n;
export const PD_GPA = 0xa000n;
/** The page tables identity-map guest physical [0, 1 GiB) with 2 MiB pages (one PD page). */
export const IDENTITY_MAP_BYTES = 1n << 30n;

/** Bytes of each pattern region. */
export const PATTERN_BYTES = 4096;
/** Inside a region of guest memory (the boot lease from its start, a hot-plugged lease from its
 * start): where the guest writes its pattern, and where the host writes the one the guest checks. */
export const GUEST_PATTERN_OFFSET = 0x10000n;
export const HOST_PATTERN_OFFSET = 0x20000n;
/** The boot lease must hold everything above: its first unit does. */
export const BOOT_LAYOUT_END = HOST_PATTERN_OFFSET + BigInt(PATTERN_BYTES);

/** The I/O port the program reports its result on (OUT imm8, eax). */
export const RESULT_PORT = 0x10;
