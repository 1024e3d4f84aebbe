#!/usr/bin/env bash
# ceph-rgw.sh — Slipway's test object store: a throw-away single-node Ceph (1 mon, 1 in-memory "memstore" OSD, no mgr)
# plus radosgw (the Ceph S3 gateway) on 127.0.0.1, started as plain background
# processes (no systemd, no containers). For CI integration tests of S3 clients.
# Debian 12 (bookworm) packages: ceph-mon ceph-osd radosgw 16.2.15 (Pacific). Run as root.
#
#   ceph-rgw.sh install   # apt-get install the three packages (≈20 s on a fresh box)
#   ceph-rgw.sh start     # (installs if needed) start mon+osd+rgw, create S3 user (≈14 s)
#                         # prints `export S3_ENDPOINT=... AWS_ACCESS_KEY_ID=...` lines on stdout
#   ceph-rgw.sh env       # print those export lines again
#   ceph-rgw.sh status    # pids + `ceph -s`
#   ceph-rgw.sh stop      # stop rgw, osd, mon (SIGTERM by pid file, SIGKILL after 15 s)
#   ceph-rgw.sh clean     # stop (2 s grace, then SIGKILL) + delete $CEPH_DIR (data is disposable)
#
# Typical CI use:
#   eval "$(./ceph-rgw.sh start)"      # sets S3_ENDPOINT, AWS_ACCESS_KEY_ID, ...
#   trap './ceph-rgw.sh clean' EXIT
#   run-the-tests
#
# Env knobs: CEPH_DIR (/tmp/ceph-rgw)  RGW_PORT (7480)  MON_PORT (6789)
#   S3_ACCESS_KEY / S3_SECRET_KEY (fixed test credentials, below)
#   MEMSTORE_BYTES (1 GiB; the OSD keeps every object in RAM, this is its capacity)
#   RGW_TLS=1 → also serve HTTPS on RGW_TLS_PORT (7443) with a self-signed cert
#   ($CEPH_DIR/rgw.crt; point the client's CA bundle at it)
set -euo pipefail

CEPH_DIR=${CEPH_DIR:-/tmp/ceph-rgw}
RGW_PORT=${RGW_PORT:-7480}
RGW_TLS=${RGW_TLS:-0}
RGW_TLS_PORT=${RGW_TLS_PORT:-7443}
MON_PORT=${MON_PORT:-6789}
S3_ACCESS_KEY=${S3_ACCESS_KEY:-TESTACCESSKEY0000001}
S3_SECRET_KEY=${S3_SECRET_KEY:-testsecretkey0000000000000000000000000001}
S3_REGION=${S3_REGION:-us-east-1}
MEMSTORE_BYTES=${MEMSTORE_BYTES:-1073741824}
CONF=$CEPH_DIR/ceph.conf
DAEMONS="client.rgw.a osd.0 mon.a"

log() { echo "[ceph-rgw $(date +%T)] $*" >&2; }
ceph_() { ceph -c "$CONF" --connect-timeout 10 "$@"; }

do_install() {
  if command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null &&
     command -v radosgw >/dev/null && command -v uuidgen >/dev/null && command -v curl >/dev/null; then
    return 0
  fi
  log "installing ceph-mon ceph-osd radosgw (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # uuid-runtime (uuidgen) and curl are normally present; listed to be safe on minimal images.
  apt-get install -y -qq --no-install-recommends ceph-mon ceph-osd radosgw uuid-runtime curl openssl >/dev/null
}

write_conf() {
  local fsid=$1 frontends="beast endpoint=127.0.0.1:$RGW_PORT"
  if [ "$RGW_TLS" = 1 ]; then
    frontends="$frontends ssl_endpoint=127.0.0.1:$RGW_TLS_PORT ssl_certificate=$CEPH_DIR/rgw.pem"
  fi
  cat > "$CONF" <<EOF
[global]
fsid = $fsid
mon initial members = a
mon host = v1:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr2 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $CEPH_DIR/keyring
run dir = $CEPH_DIR/run
admin socket = $CEPH_DIR/run/\$name.asok
log file = $CEPH_DIR/log/\$name.log
pid file = $CEPH_DIR/run/\$name.pid
# one OSD: replica size 1, few PGs, no crush host separation
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
# never refuse to start because the CI disk is nearly full
mon data avail warn = 1
mon data avail crit = 0
# in-memory object store: nothing touches a block device, data vanishes on stop
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
osd data = $CEPH_DIR/\$name
mon data = $CEPH_DIR/\$name
rgw data = $CEPH_DIR/\$name

[osd]
keyring = $CEPH_DIR/\$name/keyring

[client.rgw.a]
rgw frontends = $frontends
rgw dns name = localhost
keyring = $CEPH_DIR/rgw.keyring
EOF
}

wait_for() { # wait_for DAEMON SECONDS DESCRIPTION CMD...   (fails fast if DAEMON died)
  local d=$1 t=$2 what=$3 i; shift 3
  for ((i = 0; i < t * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [ $((i % 5)) = 4 ] && ! pid_alive "$d"; then log "$d exited while waiting for $what"; return 1; fi
    sleep 0.2
  done
  log "timeout after ${t}s waiting for $what"; return 1
}

on_start_error() {
  trap - EXIT
  log "start FAILED; last log lines:"
  for f in "$CEPH_DIR"/log/*.log; do
    [ -f "$f" ] || continue
    echo "----- $f" >&2; tail -n 15 "$f" >&2
  done
  do_stop || true
  exit 1
}

pid_alive() { local f=$CEPH_DIR/run/$1.pid; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

do_start() {
  do_install
  if pid_alive client.rgw.a; then log "already running"; do_env; return 0; fi
  for p in "$RGW_PORT" "$MON_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then log "port $p on 127.0.0.1 is already in use"; exit 1; fi
  done
  case $MEMSTORE_BYTES in ''|*[!0-9]*) log "MEMSTORE_BYTES must be a number of bytes"; exit 1 ;; esac
  trap on_start_error EXIT   # any failure below (set -e/-u) → dump logs, stop what started
  do_stop >/dev/null 2>&1 || true
  rm -rf "$CEPH_DIR"
  mkdir -p "$CEPH_DIR"/{run,log,mon.a,osd.0,client.rgw.a}
  local fsid osd_uuid osd_id
  fsid=$(uuidgen)
  write_conf "$fsid"
  if [ "$RGW_TLS" = 1 ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$CEPH_DIR/rgw.key" -out "$CEPH_DIR/rgw.crt" 2>/dev/null
    cat "$CEPH_DIR/rgw.crt" "$CEPH_DIR/rgw.key" > "$CEPH_DIR/rgw.pem"
  fi

  log "mon: keys + monmap + mkfs"
  ceph-authtool --create-keyring "$CEPH_DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$CEPH_DIR/keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v1:127.0.0.1:$MON_PORT]" "$CEPH_DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$CEPH_DIR/monmap" --keyring "$CEPH_DIR/keyring" >>"$CEPH_DIR/log/setup.log" 2>&1
  ceph-mon -c "$CONF" -i a >>"$CEPH_DIR/log/setup.log" 2>&1
  wait_for mon.a 30 "mon" ceph_ mon stat

  log "osd.0 (memstore, $((MEMSTORE_BYTES / 1048576)) MiB)"
  osd_uuid=$(uuidgen)
  osd_id=$(ceph_ osd new "$osd_uuid")
  [ "$osd_id" = 0 ] || { log "unexpected osd id '$osd_id'"; false; }
  ceph-osd -c "$CONF" -i 0 --mkfs --mkkey --no-mon-config --osd-uuid "$osd_uuid" >>"$CEPH_DIR/log/setup.log" 2>&1
  ceph_ auth add osd.0 osd 'allow *' mon 'allow profile osd' -i "$CEPH_DIR/osd.0/keyring" >>"$CEPH_DIR/log/setup.log" 2>&1
  ceph-osd -c "$CONF" -i 0 >>"$CEPH_DIR/log/setup.log" 2>&1
  wait_for osd.0 60 "osd.0 up" bash -c "ceph -c '$CONF' osd dump 2>/dev/null | grep -q '^osd.0 up'"

  log "radosgw on 127.0.0.1:$RGW_PORT (creates its pools on first start)"
  ceph_ auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' -o "$CEPH_DIR/rgw.keyring" >>"$CEPH_DIR/log/setup.log" 2>&1
  radosgw -c "$CONF" -n client.rgw.a >>"$CEPH_DIR/log/setup.log" 2>&1
  wait_for client.rgw.a 120 "radosgw HTTP" curl -sf -o /dev/null "http://127.0.0.1:$RGW_PORT/"

  log "S3 user testuser / $S3_ACCESS_KEY"
  radosgw-admin -c "$CONF" user create --uid=testuser --display-name="Test User" \
    --access-key="$S3_ACCESS_KEY" --secret-key="$S3_SECRET_KEY" >"$CEPH_DIR/log/user.json" 2>>"$CEPH_DIR/log/setup.log"
  trap - EXIT
  log "ready: http://127.0.0.1:$RGW_PORT$([ "$RGW_TLS" = 1 ] && echo " and https://127.0.0.1:$RGW_TLS_PORT (CA: $CEPH_DIR/rgw.crt)")"
  do_env
}

do_env() {
  cat <<EOF
export S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
export AWS_DEFAULT_REGION=$S3_REGION
export AWS_REGION=$S3_REGION
EOF
  if [ "$RGW_TLS" = 1 ]; then
    echo "export S3_ENDPOINT_TLS=https://127.0.0.1:$RGW_TLS_PORT"
    echo "export S3_CA_BUNDLE=$CEPH_DIR/rgw.crt"
  fi
}

do_status() {
  local n
  for n in $DAEMONS; do
    if pid_alive "$n"; then echo "$n running (pid $(cat "$CEPH_DIR/run/$n.pid"))"; else echo "$n not running"; fi
  done
  pid_alive mon.a && ceph_ -s 2>/dev/null || true
}

do_stop() { # do_stop [GRACE_SECONDS]  (SIGKILL after that; default 15)
  [ -d "$CEPH_DIR/run" ] || return 0
  local grace=${1:-15} n pids="" p i
  for n in $DAEMONS; do   # SIGTERM all at once: memstore data is thrown away anyway
    if pid_alive "$n"; then p=$(cat "$CEPH_DIR/run/$n.pid"); kill "$p" 2>/dev/null || true; pids="$pids $p"; fi
  done
  alive() { local q; for q in $pids; do kill -0 "$q" 2>/dev/null && return 0; done; return 1; }
  for ((i = 0; i < grace * 10; i++)); do alive || break; sleep 0.1; done
  if alive; then
    log "still running after ${grace}s, sending SIGKILL"
    for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
    for ((i = 0; i < 50; i++)); do alive || break; sleep 0.1; done
  fi
  rm -f "$CEPH_DIR"/run/*.pid
  log "stopped"
}

case "${1:-}" in
  install) do_install ;;
  start) do_start ;;
  env) do_env ;;
  status) do_status ;;
  stop) do_stop ;;
  clean) do_stop 2; rm -rf "$CEPH_DIR" ;;   # data is disposable: short grace, then SIGKILL
  *) echo "usage: $0 install|start|env|status|stop|clean" >&2; exit 2 ;;
esac
