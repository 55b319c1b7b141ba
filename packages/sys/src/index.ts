/**
 * @gmempool/sys: the one koffi binding of the Linux calls gmempool makes, shared by the daemon's
 * kernel port (src/kvm), the client library's fd channel (clients/node) and the example VMM
 * (clients/examples/vmm), in the manner of rust-vmm's kvm-bindings + kvm-ioctls: libc bound once
 * in the kernel's spelling, errno by name, one error type for a failed call, the KVM ioctl
 * numbers computed from the struct layouts, SOCK_SEQPACKET with SCM_RIGHTS, fd flags, a vCPU.
 * What only the daemon needs (the KernelPort, LinuxKernel, its fakes, async calls on the libuv
 * threadpool, SO_PEERCRED) stays in src/kvm.
 *
 * This package imports only node_modules (the lint layer rule): neither the daemon nor the
 * clients, nor the other workspace packages, so everyone can depend on it. Its test support (the
 * real-kernel test gate) is the subpath `@gmempool/sys/testing`.
 */
export * from "./close-fd.ts";
export * from "./errno-names.ts";
export * from "./fd.ts";
export * from "./fd-flags.ts";
export * from "./fd-poller.ts";
export * from "./ioctl-numbers.ts";
export * from "./kernel-constants.ts";
export * from "./kernel-error.ts";
export * from "./kvm-run-exit.ts";
export * from "./kvm-unavailable-reason.ts";
export * from "./libc.ts";
export * from "./scm-rights.ts";
export * from "./seqpacket.ts";
export * from "./structs.ts";
export * from "./syscall-check.ts";
export * from "./thread-cpu-clock.ts";
export * from "./vcpu.ts";
