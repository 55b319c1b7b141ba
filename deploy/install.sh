#!/bin/sh
# Installs gmempool from this checkout so that deploy/systemd/gmempool.service runs as shipped:
#
#   /usr/lib/gmempool/                 the tree the daemon runs (sources, package.json, README,
#                                      production node_modules, and the daemon's and CLI's
#                                      esbuild bundles in node_modules/.cache/gmempool)
#   /usr/bin/gmempool                  -> ../lib/gmempool/src/main/gmempool-bin.mjs (the unit's ExecStart)
#   the unit, its drop-in and the example config            deploy/install-unit.sh
#
# Usage (as root, after `npm ci` in the checkout): deploy/install.sh
# then: systemctl daemon-reload && systemctl enable --now gmempool
#
# DESTDIR=/some/root stages everything below that root instead (packaging; the suite's
# src/main/systemd-unit.test.ts). SYSTEMD_VERSION=N overrides the version read from `systemctl
# --version` (install-unit.sh). Node >= 20.19 must be /usr/bin/node or on systemd's PATH (the bin's shebang is `/usr/bin/env node`; Debian 12's own nodejs is 18).
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
root=${DESTDIR:-}
lib="$root/usr/lib/gmempool"

if [ ! -d "$src/node_modules/tsx" ]; then
  echo "install.sh: $src/node_modules is not installed: run \`npm ci\` in $src first" >&2
  exit 1
fi

if [ "$(realpath -m "$lib")" = "$src" ]; then
  echo "install.sh: $src is the install target itself; run it from a checkout elsewhere" >&2
  exit 1
fi

# The tree, replaced whole so that no file of an older version stays behind.
rm -rf "$lib"
mkdir -p "$lib"
for item in package.json package-lock.json tsconfig.json README.md LICENSE src packages clients; do
  if [ -e "$src/$item" ]; then cp -a "$src/$item" "$lib/"; fi
done
find "$lib/src" "$lib/packages" "$lib/clients" -name '*.test.ts' -delete
# The production dependencies only, as npm resolved them in the checkout: the lock's entries
# not marked "dev" (no download, no npm run: `npm prune --omit=dev` on a copy took 8 s here).
# Sorted, a package comes before the packages nested in it, so that a copied directory is never
# copied into again. The workspace links (node_modules/@gmempool/*) are relative
# (../../packages/sys), so they resolve in the copy too.
mkdir -p "$lib/node_modules"
node -e '
  const lock = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path.startsWith("node_modules/") && entry.dev !== true) console.log(path);
  }' "$src/package-lock.json" | sort | while read -r rel; do
  if [ -e "$lib/$rel" ] || [ -L "$lib/$rel" ]; then continue; fi
  # An optional dependency for another platform is in the lock but not installed.
  if [ ! -e "$src/$rel" ] && [ ! -L "$src/$rel" ]; then continue; fi
  mkdir -p "$lib/$(dirname "$rel")"
  cp -a "$src/$rel" "$lib/$rel"
done

# The daemon's and the CLI's bundles (src/main/entry-bundle.mjs), built now so that the
# installed tree need not be writable at run time (the unit's ProtectSystem=strict).
node "$lib/src/main/entry-bundle.mjs"

mkdir -p "$root/usr/bin"
ln -sfn ../lib/gmempool/src/main/gmempool-bin.mjs "$root/usr/bin/gmempool"

DESTDIR="$root" "$src/deploy/install-unit.sh"
echo "gmempool installed in ${root:-/}: /usr/bin/gmempool -> /usr/lib/gmempool/src/main/gmempool-bin.mjs"
