#!/usr/bin/env bash
# postgres.sh — Slipway's test database: a throw-away PostgreSQL 15 cluster
# from Debian's packages on 127.0.0.1, started as a plain background process
# (no systemd) in its own directory, as the `postgres` user (initdb refuses
# root). Its data is disposable: fsync is off. Run as root.
#
#   postgres.sh install   # apt-get install postgresql when it is missing
#   postgres.sh start     # (installs if needed) initdb, start, create the test database;
#                         # prints `export SLIPWAY_TEST_DATABASE_URL=...` lines on stdout
#   postgres.sh env       # print those lines again
#   postgres.sh status    # the server's pid and whether it answers
#   postgres.sh restart   # a fast restart of the running cluster (same port and data)
#   postgres.sh stop      # fast shutdown, by the cluster's own pid file
#   postgres.sh clean     # stop, then delete $PG_DIR
#
# Typical use:
#   eval "$(scripts/postgres.sh start)"
#   trap 'scripts/postgres.sh clean' EXIT
#
# With PG_TLS=1 the server also accepts TLS (a self-signed certificate in
# $PG_DIR/server.crt), and SLIPWAY_TEST_DATABASE_CA names it.
#
# Env knobs: PG_DIR (/tmp/slipway-postgres)  PG_PORT (15432)  PG_TLS (0)
set -euo pipefail

PG_DIR=${PG_DIR:-/tmp/slipway-postgres}
PG_PORT=${PG_PORT:-15432}
PG_TLS=${PG_TLS:-0}
DATA=$PG_DIR/data
DATABASE=slipway_test
USER_NAME=slipway

log() { echo "[postgres $(date +%T)] $*" >&2; }

pg_bin() {
  local bin
  # Debian keeps initdb and pg_ctl out of the PATH, one directory per major version.
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$bin" ] && [ -x "$bin/initdb" ] && echo "$bin"
}

do_install() {
  if pg_bin >/dev/null; then return 0; fi
  log "installing postgresql (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql openssl >/dev/null
  pg_bin >/dev/null || { log "postgresql was installed but initdb is not under /usr/lib/postgresql"; exit 1; }
}

print_env() {
  echo "export SLIPWAY_TEST_DATABASE_URL=postgres://$USER_NAME@127.0.0.1:$PG_PORT/$DATABASE"
  if [ -f "$PG_DIR/server.crt" ]; then
    echo "export SLIPWAY_TEST_DATABASE_CA=$PG_DIR/server.crt"
  fi
  echo "export SLIPWAY_TEST_DATABASE_DIR=$PG_DIR"
}

running_pid() {
  [ -f "$DATA/postmaster.pid" ] || return 1
  local pid
  pid=$(head -1 "$DATA/postmaster.pid")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# Runs pg_ctl with only stdin, stdout and stderr: the server it starts must
# not keep descriptors its caller inherited to this script (a test runner's
# pipe or socket would then never see its end while the server runs).
pg_ctl_detached() {
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec runuser -u postgres -- "$(pg_bin)/pg_ctl" "$@"
  )
}

do_start() {
  do_install
  local bin
  bin=$(pg_bin)
  if running_pid >/dev/null; then
    log "already running (pid $(running_pid)) on 127.0.0.1:$PG_PORT"
    print_env
    return 0
  fi
  rm -rf "$PG_DIR"
  mkdir -p "$PG_DIR"
  chown postgres:postgres "$PG_DIR"
  chmod 0755 "$PG_DIR"
  runuser -u postgres -- "$bin/initdb" -D "$DATA" --username="$USER_NAME" --auth=trust \
    --encoding=UTF8 --no-locale --no-sync >"$PG_DIR/initdb.log" 2>&1 \
    || { log "initdb failed:"; cat "$PG_DIR/initdb.log" >&2; exit 1; }
  local options="-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c synchronous_commit=off"
  options="$options -c full_page_writes=off -c max_connections=300"
  if [ "$PG_TLS" = 1 ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=127.0.0.1" \
      -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
      -keyout "$PG_DIR/server.key" -out "$PG_DIR/server.crt" >/dev/null 2>&1
    chown postgres:postgres "$PG_DIR/server.key" "$PG_DIR/server.crt"
    chmod 0600 "$PG_DIR/server.key"
    chmod 0644 "$PG_DIR/server.crt"
    options="$options -c ssl=on -c ssl_cert_file=$PG_DIR/server.crt -c ssl_key_file=$PG_DIR/server.key"
  fi
  echo "$options" >"$PG_DIR/options"
  log "starting PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT ($PG_DIR)"
  pg_ctl_detached -D "$DATA" -l "$PG_DIR/server.log" -w -t 60 -o "$options" start >/dev/null \
    || { log "the server did not start:"; tail -20 "$PG_DIR/server.log" >&2; exit 1; }
  "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$USER_NAME" "$DATABASE"
  print_env
}

do_restart() {
  local bin
  bin=$(pg_bin)
  running_pid >/dev/null || { log "not running"; exit 1; }
  pg_ctl_detached -D "$DATA" -l "$PG_DIR/server.log" -w -t 60 -m fast \
    -o "$(cat "$PG_DIR/options")" restart >/dev/null
}

do_stop() {
  local pid bin i
  pid=$(running_pid) || { log "not running"; return 0; }
  bin=$(pg_bin)
  runuser -u postgres -- "$bin/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { log "stopped"; return 0; }
    sleep 0.2
  done
  log "still running after 10 s, sending SIGKILL to $pid"
  kill -9 "$pid" 2>/dev/null || true
}

case "${1:-}" in
  install) do_install ;;
  start) do_start ;;
  env) print_env ;;
  status)
    if pid=$(running_pid); then
      echo "running (pid $pid) on 127.0.0.1:$PG_PORT"
    else
      echo "not running"
      exit 1
    fi
    ;;
  restart) do_restart ;;
  stop) do_stop ;;
  clean) do_stop; rm -rf "$PG_DIR" ;;
  *) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
