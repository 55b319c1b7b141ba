/**
 * The example VMM with KVM: what a production VMM does with gmempool.
 *
 *  1. create its VM (type 0) and a guest_memfd (MMAP | INIT_SHARED) — only the VM's creator may
 *     do either (KERNEL.md §3) — and hand the guest_memfd to the daemon (RegisterGuestMemfdArena);
 *  2. map the guest_memfd; allocate the boot lease, which the daemon populates in the file;
 *  3. bind it as memslot 0 with userspace_addr = the mapping of the SAME range (KERNEL.md §4);
 *  4. load page tables and a program, run a vCPU in long mode: the guest writes a pattern and
 *     checks one the VMM wrote; the VMM checks the guest's through its mapping;
 *  5. hot-plug a second lease as memslot 1 and run the guest on it;
 *  6. give memory back (Discard: a sub-unit range, a whole unit) and convert pages (notify);
 *  7. tear down: memslots deleted before their leases are released, the arena deleted, the
 *     fds closed (cleanup-stack.ts).
 *
 * Guest physical addresses equal offsets in the guest_memfd (guest-layout.ts), so "write at GPA
 * X" is "write at offset X of the mapping".
 */
import type { Lease } from "../../node/src/resources.ts";
import { formatBytes } from "../../node/src/units.ts";
import { BOOT_LAYOUT_END, CODE_GPA, GUEST_PATTERN_OFFSET, HOST_PATTERN_OFFSET, IDENTITY_MAP_BYTES, PATTERN_BYTES } from "./guest/guest-layout.ts";
import { GUEST_PROGRAM, guestRegisters, type GuestTask } from "./guest/guest-program.ts";
import { enterLongMode } from "./guest/long-mode.ts";
import { identityPageTables } from "./guest/page-tables.ts";
import { runUntilHalt } from "./guest/run-until-halt.ts";
import { HostMapping } from "./host-mapping.ts";
import { KvmDevice } from "./kvm/kvm-device.ts";
import {
  check,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_CAP_GUEST_MEMFD,
  KVM_CAP_GUEST_MEMFD_FLAGS,
  KVM_CAP_MEMORY_ATTRIBUTES,
  KVM_CAP_USER_MEMORY2,
  KVM_MEM_GUEST_MEMFD,
  KVM_X86_DEFAULT_VM,
  libc,
  Vcpu,
} from "@gmempool/sys";
import type { KvmVm, MemoryRegion2 } from "./kvm/kvm-vm.ts";
import type { MemoryPlan } from "./memory-plan.ts";
import { describeMismatch, firstMismatch, patternBytes } from "./pattern.ts";
import { convertRoundTrip } from "./notify-conversion.ts";
import { allocateLease, askCapabilities, discardRanges } from "./pool-steps.ts";
import { hex, type VmmContext } from "./vmm-context.ts";

const GMEM_FLAGS = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;

/** Refuses, before anything is created, a plan whose hot-plugged memory the guest could not reach. */
export function checkGuestReach(plan: MemoryPlan): void {
  const reach = plan.hotplug.offsetBytes + BOOT_LAYOUT_END;
  if (reach > IDENTITY_MAP_BYTES) {
    throw new RangeError(`KVM mode: the guest's page tables map guest physical [0, ${formatBytes(IDENTITY_MAP_BYTES)}), but the hot-plugged lease starts at ${formatBytes(plan.hotplug.offsetBytes)}; use a smaller --memory`);
  }
}

export async function runKvmVmm(ctx: VmmContext): Promise<void> {
  const { pool, log, plan, summary, cleanup } = ctx;
  checkGuestReach(plan);
  const capabilities = await askCapabilities(ctx);
  if (!capabilities.arenaKinds.includes("guest_memfd")) {
    throw new Error(`the daemon serves arena kinds [${capabilities.arenaKinds.join(", ")}], not guest_memfd (it probes KVM_CAP_GUEST_MEMFD itself at start-up): run it where it can use /dev/kvm, or run this VMM with --no-kvm`);
  }

  log.step("open /dev/kvm and create the VM (type 0, KVM_X86_DEFAULT_VM)");
  const kvm = KvmDevice.open();
  cleanup.push("close /dev/kvm", () => {
    kvm.close();
  });
  const vm = kvm.createVm(KVM_X86_DEFAULT_VM);
  cleanup.push("close the VM", () => {
    vm.close();
  });
  // The VM's own answers: they depend on its type (kvm_gmem_get_supported_flags offers
  // INIT_SHARED only to VMs without private memory).
  requireCapability(vm, "KVM_CAP_GUEST_MEMFD", KVM_CAP_GUEST_MEMFD);
  requireCapability(vm, "KVM_CAP_USER_MEMORY2", KVM_CAP_USER_MEMORY2);
  const gmemFlags = BigInt(vm.checkExtension(KVM_CAP_GUEST_MEMFD_FLAGS));
  if ((gmemFlags & GMEM_FLAGS) !== GMEM_FLAGS) throw new Error(`KVM_CAP_GUEST_MEMFD_FLAGS = ${gmemFlags}: this kernel cannot create a mappable, shared guest_memfd (needs ${GMEM_FLAGS}, Linux 6.18)`);
  vm.setTssAddr();
  log.note(`VM fd ${vm.fd}; KVM_CAP_GUEST_MEMFD_FLAGS = ${gmemFlags}`);

  log.step(`create a guest_memfd of ${formatBytes(plan.arenaBytes)} (GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED)`);
  const gmem = vm.createGuestMemfd(plan.arenaBytes, GMEM_FLAGS);
  cleanup.push("close the guest_memfd", () => {
    check(libc.close(gmem), "close(guest_memfd)");
  });
  log.note(`guest_memfd fd ${gmem} (close-on-exec)`);

  log.step("hand the guest_memfd to the daemon (RegisterGuestMemfdArena): from now on it populates and punches it");
  const arena = await pool.registerGuestMemfdArena(gmem, { sizeBytes: plan.arenaBytes, initialVisibility: "shared", name: ctx.name });
  cleanup.push(`delete arena ${arena.arenaId}`, async () => {
    const deleted = await pool.deleteArena(arena.arenaId, { releaseLeases: true });
    log.note(`arena ${arena.arenaId} deleted (${deleted.releasedLeaseCount} leases were left); the daemon closed its copy of the guest_memfd`);
  });
  summary.arena = { arenaId: arena.arenaId, kind: arena.kind, sizeBytes: arena.sizeBytes };
  log.note(`arena ${arena.arenaId}: ${arena.kind}, ${arena.unitCount} units`);

  log.step("map the guest_memfd: the VMM's view of guest memory, and its memslots' userspace_addr");
  const mapping = HostMapping.map(gmem, plan.arenaBytes);
  cleanup.push("unmap the guest_memfd", () => {
    mapping.unmap();
  });
  log.note("a guest_memfd does not report what is allocated in it (st_blocks is always 0): the VMM relies on the daemon's record");

  const boot = await allocateLease(ctx, arena, plan.boot);
  bindMemslot(ctx, vm, gmem, mapping, 0, boot);

  log.step("load the guest into boot memory (page tables, program) and create vCPU 0 in 64-bit mode");
  for (const page of identityPageTables()) mapping.write(page.gpa, page.bytes);
  mapping.write(CODE_GPA, GUEST_PROGRAM);
  const vcpu = Vcpu.create(vm.fd, 0, kvm.vcpuMmapSize());
  cleanup.push("close vCPU 0", () => {
    vcpu.close();
  });
  const sregs = vcpu.getSregs();
  enterLongMode(sregs);
  vcpu.setSregs(sregs);
  log.note(`program: ${GUEST_PROGRAM.length} bytes at GPA ${hex(CODE_GPA)}; page tables identity-map [0, ${formatBytes(IDENTITY_MAP_BYTES)})`);

  runGuest(ctx, vcpu, mapping, boot, 0x21, 0x5a);

  const hotplug = await allocateLease(ctx, arena, plan.hotplug);
  bindMemslot(ctx, vm, gmem, mapping, 1, hotplug);
  runGuest(ctx, vcpu, mapping, hotplug, 0x93, 0xc4);

  await discardRanges(ctx, arena, mapping);
  // The VM's own answer: whether its type has private memory (never type 0).
  await convertRoundTrip(ctx, capabilities, arena, boot, vm.checkExtension(KVM_CAP_MEMORY_ATTRIBUTES));
}

function requireCapability(vm: KvmVm, name: string, capability: number): void {
  if (vm.checkExtension(capability) <= 0) throw new Error(`this kernel lacks ${name} (KVM_CHECK_EXTENSION = 0): it cannot bind a guest_memfd`);
}

/** KVM_SET_USER_MEMORY_REGION2 for `lease` at GPA = its offset; the slot's deletion goes onto the teardown. */
function bindMemslot(ctx: VmmContext, vm: KvmVm, gmem: number, mapping: HostMapping, slot: number, lease: Lease): void {
  const { log } = ctx;
  log.step(`bind ${lease.label} as memslot ${slot}: GPA ${hex(lease.offsetBytes)}, ${formatBytes(lease.lengthBytes)} of the guest_memfd at offset ${hex(lease.offsetBytes)}`);
  const region: MemoryRegion2 = {
    slot,
    flags: KVM_MEM_GUEST_MEMFD,
    guestPhysAddr: lease.offsetBytes,
    memorySize: lease.lengthBytes,
    // The mapping of the same guest_memfd range: on a default VM, KVM's emulated accesses go
    // through userspace_addr (KERNEL.md §4).
    userspaceAddr: mapping.address + lease.offsetBytes,
    guestMemfd: gmem,
    guestMemfdOffset: lease.offsetBytes,
  };
  vm.setUserMemoryRegion2(region);
  // Deleted before the lease is released (it was pushed after it): a guest must not fault
  // released, punched pages back into the guest_memfd behind the daemon's back.
  ctx.cleanup.push(`delete memslot ${slot}`, () => {
    vm.deleteUserMemoryRegion2(region);
    log.note(`memslot ${slot} deleted`);
  });
}

/**
 * One run of the guest program on `lease`'s memory: the VMM writes a pattern for the guest to
 * check, the guest writes one for the VMM to check.
 */
function runGuest(ctx: VmmContext, vcpu: Vcpu, mapping: HostMapping, lease: Lease, fillSeed: number, checkSeed: number): void {
  const { log, summary } = ctx;
  const task: GuestTask = {
    fillGpa: lease.offsetBytes + GUEST_PATTERN_OFFSET,
    fillSeed,
    fillBytes: PATTERN_BYTES,
    checkGpa: lease.offsetBytes + HOST_PATTERN_OFFSET,
    checkSeed,
    checkBytes: PATTERN_BYTES,
  };
  log.step(`run the guest on ${lease.label}: it checks the VMM's pattern at GPA ${hex(task.checkGpa)} and writes its own at GPA ${hex(task.fillGpa)}`);
  mapping.write(task.checkGpa, patternBytes(checkSeed, PATTERN_BYTES));
  vcpu.setRegs(guestRegisters(task));
  const { results, exits } = runUntilHalt(vcpu);
  summary.guestRuns.push({ name: lease.label, exits, mismatches: results[0] ?? -1 });
  log.check(`${lease.label}-guest-check`, results.length === 1 && results[0] === 0, `the guest found ${results.join(", ")} wrong bytes in the VMM's pattern, then halted (${exits} exits)`);
  const written = mapping.read(task.fillGpa, PATTERN_BYTES);
  log.check(`${lease.label}-guest-pattern`, firstMismatch(written, fillSeed) === undefined, `the guest's pattern, read through the VMM's mapping: ${describeMismatch(written, fillSeed)}`);
}
