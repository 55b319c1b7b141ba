#!/usr/bin/env bash
# Debian's kernel for the QEMU boot test (clients/cli/run/qemu-boot.e2e.test.ts), extracted from
# its .deb without installing it: `apt-get download` of the package linux-image-amd64 depends on,
# then `dpkg-deb --fsys-tarfile` | tar of ./boot/vmlinuz-* only. Idempotent: a kernel already in
# the directory is kept. The directory is $GMEMPOOL_GUEST_KERNEL_DIR, by default
# ${XDG_CACHE_HOME:-$HOME/.cache}/gmempool/guest-kernel — where the test looks.
set -euo pipefail
dir="${GMEMPOOL_GUEST_KERNEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gmempool/guest-kernel}"
mkdir -p "$dir"
if compgen -G "$dir/vmlinuz-*" > /dev/null; then
  echo "guest kernel: $(ls "$dir"/vmlinuz-* | head -1) (kept)"
  exit 0
fi
package="$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')"
if [ -z "$package" ]; then
  echo "fetch-guest-kernel: apt-cache names no linux-image-N for linux-image-amd64 (apt-get update?)" >&2
  exit 1
fi
work="$(mktemp -d)"
chmod 755 "$work" # apt-get download drops to user _apt, who must write here
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download "$package" > /dev/null)
dpkg-deb --fsys-tarfile "$work"/"$package"_*.deb | tar -x -C "$work" --wildcards './boot/vmlinuz-*'
mv "$work"/boot/vmlinuz-* "$dir"/
echo "guest kernel: $(ls "$dir"/vmlinuz-* | head -1) (from $package)"
