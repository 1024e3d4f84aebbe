#!/usr/bin/env bash
# docker-engine.sh — the Docker engine Slipway's builder tests run against:
# Debian's `docker.io` dockerd started as a plain background process (no
# systemd), answering the Engine API on a unix socket. Run as root.
#
#   docker-engine.sh install   # apt-get install docker.io (dockerd, containerd, runc) when missing
#   docker-engine.sh start     # (installs if needed) start dockerd unless the socket already answers;
#                              # exit 0 once /_ping answers. Prints `started` when this call started
#                              # it, `running` when an engine was already up.
#   docker-engine.sh running   # exit 0 when the engine answers on the socket
#   docker-engine.sh status    # pid and engine version
#   docker-engine.sh stop      # stop the dockerd this script started (SIGTERM by pid file, SIGKILL after 20 s)
#
# Env knobs: DOCKER_ENGINE_DIR (/tmp/slipway-docker: pid file and log)
#   DOCKER_SOCKET (/var/run/docker.sock)
#   DOCKER_DATA_ROOT (/var/lib/docker)
set -euo pipefail

DOCKER_ENGINE_DIR=${DOCKER_ENGINE_DIR:-/tmp/slipway-docker}
DOCKER_SOCKET=${DOCKER_SOCKET:-/var/run/docker.sock}
DOCKER_DATA_ROOT=${DOCKER_DATA_ROOT:-/var/lib/docker}
PID_FILE=$DOCKER_ENGINE_DIR/dockerd.pid
LOG_FILE=$DOCKER_ENGINE_DIR/dockerd.log

log() { echo "[docker-engine $(date +%T)] $*" >&2; }

do_install() {
  if command -v dockerd >/dev/null && command -v containerd >/dev/null && command -v runc >/dev/null &&
     command -v curl >/dev/null; then
    return 0
  fi
  log "installing docker.io (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io curl >/dev/null
}

engine_answers() {
  [ -S "$DOCKER_SOCKET" ] && curl -sf --max-time 3 --unix-socket "$DOCKER_SOCKET" -o /dev/null http://localhost/_ping
}

pid_alive() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

do_start() {
  if engine_answers; then echo running; return 0; fi
  do_install
  if pid_alive; then
    log "dockerd (pid $(cat "$PID_FILE")) is running but does not answer on $DOCKER_SOCKET yet"
  else
    mkdir -p "$DOCKER_ENGINE_DIR"
    log "starting dockerd (socket $DOCKER_SOCKET, log $LOG_FILE)"
    # setsid: dockerd must outlive the shell that started it and not get its signals.
    setsid dockerd --host "unix://$DOCKER_SOCKET" --data-root "$DOCKER_DATA_ROOT" \
      --pidfile "$DOCKER_ENGINE_DIR/dockerd.own.pid" >>"$LOG_FILE" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
  fi
  local i
  for ((i = 0; i < 300; i++)); do
    if engine_answers; then
      log "ready: unix://$DOCKER_SOCKET"
      echo started
      return 0
    fi
    if ! pid_alive; then break; fi
    sleep 0.2
  done
  log "dockerd did not come up; last log lines:"
  tail -n 20 "$LOG_FILE" >&2 || true
  do_stop || true
  return 1
}

do_status() {
  if pid_alive; then echo "dockerd running (pid $(cat "$PID_FILE"))"; else echo "no dockerd started by this script"; fi
  if engine_answers; then
    curl -sf --unix-socket "$DOCKER_SOCKET" http://localhost/version; echo
  else
    echo "no engine answers on $DOCKER_SOCKET"
  fi
}

do_stop() {
  pid_alive || { rm -f "$PID_FILE"; return 0; }
  local pid i
  pid=$(cat "$PID_FILE")
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "dockerd still running after 20 s, sending SIGKILL"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

case "${1:-}" in
  install) do_install ;;
  start) do_start ;;
  running) engine_answers ;;
  status) do_status ;;
  stop) do_stop ;;
  *) echo "usage: $0 install|start|running|status|stop" >&2; exit 2 ;;
esac
