#!/usr/bin/env bash
# Runs a command as on a machine without /dev/kvm (root only): in a private mount namespace
# whose /dev is a fresh tmpfs holding the usual nodes but no kvm. Nothing changes outside the
# namespace. Used to run the suite both ways on one machine, e.g.
#   sudo scripts/without-kvm.sh env CI=true bash .ci/run
set -euo pipefail
if [ "$(id -u)" != 0 ]; then echo "without-kvm: needs root (unshare -m)" >&2; exit 2; fi
exec unshare -m --propagation private bash -c '
  set -euo pipefail
  keep=$(mktemp -d)
  for n in null zero full random urandom tty; do touch "$keep/$n"; mount --bind "/dev/$n" "$keep/$n"; done
  mount -t tmpfs -o mode=755 tmpfs /dev
  for n in null zero full random urandom tty; do touch "/dev/$n"; mount --bind "$keep/$n" "/dev/$n"; umount "$keep/$n"; done
  rm -r "$keep"
  mkdir /dev/pts /dev/shm
  mount -t devpts devpts /dev/pts -o newinstance,ptmxmode=0666
  ln -s pts/ptmx /dev/ptmx
  mount -t tmpfs tmpfs /dev/shm
  ln -s /proc/self/fd /dev/fd
  ln -s /proc/self/fd/0 /dev/stdin; ln -s /proc/self/fd/1 /dev/stdout; ln -s /proc/self/fd/2 /dev/stderr
  if [ -e /dev/kvm ]; then echo "without-kvm: /dev/kvm is still there" >&2; exit 1; fi
  exec "$@"
' without-kvm "$@"
