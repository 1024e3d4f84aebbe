#!/usr/bin/env bash
# docker-test-image.sh — the build image Slipway's builder tests run in.
#
# There is no registry on a test machine, so the image is assembled locally
# and loaded with `docker import`: a root filesystem holding busybox (Debian
# `busybox-static`, with its applet links, `/bin/sh` and `/usr/bin/env`
# among them), the host's `node` binary with the libraries `ldd` lists, npm
# (with its `npm`/`npx` links), a writable /tmp and /home. Node only: the
# test fixtures build with `npm run build` and download nothing.
#
#   docker-test-image.sh [IMAGE]          # build IMAGE unless it exists; prints its name
#   docker-test-image.sh --force [IMAGE]  # rebuild it even when it exists
#
# IMAGE defaults to $SLIPWAY_TEST_BUILD_IMAGE, else slipway-test-node:20.
# Needs a running engine (scripts/docker-engine.sh start), node and npm on
# the host, and busybox-static (installed when missing). Run as root.
set -euo pipefail

log() { echo "[docker-test-image $(date +%T)] $*" >&2; }

force=false
if [ "${1:-}" = --force ]; then force=true; shift; fi
image=${1:-${SLIPWAY_TEST_BUILD_IMAGE:-slipway-test-node:20}}

if ! command -v docker >/dev/null; then
  log "the docker client is missing; run scripts/docker-engine.sh install"
  exit 1
fi
if [ "$force" = false ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

if [ ! -x /bin/busybox ] || ! /bin/busybox --list-full >/dev/null 2>&1; then
  log "installing busybox-static (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends busybox-static >/dev/null
fi
node_path=$(command -v node || true)
npm_path=$(command -v npm || true)
if [ -z "$node_path" ] || [ -z "$npm_path" ]; then
  log "node and npm must be installed on the host; the image copies them"
  exit 1
fi
node_path=$(readlink -f "$node_path")
npm_cli=$(readlink -f "$npm_path")             # …/node_modules/npm/bin/npm-cli.js
npm_root=$(cd "$(dirname "$npm_cli")/.." && pwd)  # …/node_modules/npm

rootfs=$(mktemp -d /tmp/slipway-test-image.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
log "assembling $image in $rootfs (node $("$node_path" --version), npm $("$npm_path" --version))"

mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,usr/lib/node_modules,etc,home,root,tmp,var/tmp,dev,proc,sys}
chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
chmod 0755 "$rootfs/home"

# busybox and every applet as a link (`bin/sh`, `usr/bin/env`, …).
cp /bin/busybox "$rootfs/bin/busybox"
/bin/busybox --list-full | while read -r applet; do
  [ -e "$rootfs/$applet" ] && continue
  mkdir -p "$rootfs/$(dirname "$applet")"
  ln -s /bin/busybox "$rootfs/$applet"
done

# node and the shared libraries it loads, at the same paths as on the host.
install -m 0755 "$node_path" "$rootfs/usr/bin/node"
ldd "$node_path" | awk '/=> \// { print $3 } /^\t\// { print $1 }' | while read -r library; do
  mkdir -p "$rootfs/$(dirname "$library")"
  cp -L "$library" "$rootfs/$library"
done

# npm, with the links npm's own install makes.
cp -a "$npm_root" "$rootfs/usr/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/bin/npx"

cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF

tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/sh"]' \
  - "$image" >/dev/null
log "imported $image"
echo "$image"
