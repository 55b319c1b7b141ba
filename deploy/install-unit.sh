#!/bin/sh
# Installs the systemd side of gmempool (deploy/install.sh runs it after the tree):
#
#   /lib/systemd/system/gmempool.service
#   /lib/systemd/system/gmempool.service.d/fd-store-preserve.conf   only where systemd >= 254
#   /etc/gmempool/gmempool.toml        the example config, only if there is none yet
#
# DESTDIR=/some/root stages them below that root. SYSTEMD_VERSION=N overrides the version read
# from `systemctl --version` (a package built on one host for another).
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
root=${DESTDIR:-}
unitdir="$root/lib/systemd/system"

mkdir -p "$unitdir"
install -m 0644 "$src/deploy/systemd/gmempool.service" "$unitdir/gmempool.service"
# FileDescriptorStorePreserve= is systemd >= 254; 252 (Debian 12) would warn "Unknown key" on
# every load, so the key lives in a drop-in installed only where it is understood.
version=${SYSTEMD_VERSION:-$(systemctl --version 2>/dev/null | sed -n '1s/^systemd \([0-9]*\).*/\1/p')}
if [ -n "$version" ] && [ "$version" -ge 254 ]; then
  mkdir -p "$unitdir/gmempool.service.d"
  install -m 0644 "$src/deploy/systemd/fd-store-preserve.conf" "$unitdir/gmempool.service.d/fd-store-preserve.conf"
else
  rm -f "$unitdir/gmempool.service.d/fd-store-preserve.conf"
fi

if [ ! -e "$root/etc/gmempool/gmempool.toml" ]; then
  mkdir -p "$root/etc/gmempool"
  install -m 0644 "$src/deploy/gmempool.toml" "$root/etc/gmempool/gmempool.toml"
fi
