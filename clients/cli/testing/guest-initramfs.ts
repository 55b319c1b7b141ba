/**
 * The initramfs of the QEMU boot test: Debian's busybox-static as /bin/busybox, /dev/console
 * (the kernel opens it for init before anything is mounted), and an /init that
 *   1. prints GUEST_BOOTED to the serial console;
 *   2. fills PATTERN_BYTES of a tmpfs file with the line `patternLine` — the guest's page cache,
 *      i.e. guest RAM, i.e. the arena's memfd, where the host test counts the lines;
 *   3. prints `GUEST_PATTERN_WRITTEN <md5 of the file>`;
 *   4. answers lines on the console: `check` with `GUEST_CHECK <md5 now>` (the guest reads its
 *      memory back), `poweroff` (or 60 s of silence) powers off (`poweroff -f`; QEMU runs with
 *      -no-reboot, so it exits).
 * The script names the pattern once; the test looks for the many copies the guest made.
 */
import { readFileSync } from "node:fs";
import { cpioNewc } from "./cpio-newc.ts";

export const GUEST_BOOTED = "GMEMPOOL-GUEST-BOOTED";
export const GUEST_PATTERN_WRITTEN = "GMEMPOOL-PATTERN-WRITTEN";
export const GUEST_CHECK = "GMEMPOOL-CHECK";
/** What the guest writes: 16 MiB, many units of the arena. */
export const PATTERN_BYTES = 16 * 1024 * 1024;

function initScript(patternLine: string): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t tmpfs -o size=64m tmpfs /mnt
echo ${GUEST_BOOTED}
yes ${patternLine} | head -c ${PATTERN_BYTES} > /mnt/pattern
echo "${GUEST_PATTERN_WRITTEN} $(md5sum < /mnt/pattern)"
while read -t 60 line; do
  case "$line" in
    check) echo "${GUEST_CHECK} $(md5sum < /mnt/pattern)" ;;
    poweroff) break ;;
  esac
done
poweroff -f
`;
}

/** The initramfs (uncompressed cpio newc) with `busybox` (a static binary's path). */
export function guestInitramfs(busybox: string, patternLine: string): Buffer {
  return cpioNewc([
    { name: "bin", mode: 0o040755 },
    { name: "bin/busybox", mode: 0o100755, data: readFileSync(busybox) },
    { name: "dev", mode: 0o040755 },
    { name: "dev/console", mode: 0o020600, rdev: [5, 1] },
    { name: "proc", mode: 0o040755 },
    { name: "mnt", mode: 0o040755 },
    { name: "init", mode: 0o100755, data: Buffer.from(initScript(patternLine)) },
  ]);
}
