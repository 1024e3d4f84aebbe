#!/usr/bin/env bash
# scripts/schemathesis.sh BASE_URL TOKEN — checks a running Slipway admin API
# against its own OpenAPI document (GET <BASE_URL>/api/openapi.json) with
# Schemathesis: generated valid and invalid requests to every operation, and
# every response checked against the documented status codes, content types
# and schemas; a 5xx anywhere fails the run.
#
#   scripts/schemathesis.sh http://127.0.0.1:8081 "$(cat /var/lib/slipway/admin-token)"
#
# Installs schemathesis from PyPI (pip install --user) when it is missing.
# Exit status: 0 when every check passed, 1 when one failed, 2 on a usage
# error, 3 when schemathesis cannot be installed.
#
# Knobs: SCHEMATHESIS_MAX_EXAMPLES (default 30 per operation),
# SCHEMATHESIS_SEED (reproduce a run), SCHEMATHESIS_REPORT_DIR (JUnit report).
#
# Point it at a disposable instance: it creates, changes and deletes
# deployments and queues builds of whatever repository URLs it generates, so
# run that instance with SLIPWAY_ROLES=admin (no build workers), as
# scripts/test does.
set -euo pipefail

if [ $# -ne 2 ] || [ -z "$1" ] || [ -z "$2" ]; then
  echo "usage: $0 BASE_URL TOKEN   (e.g. $0 http://127.0.0.1:8081 \"\$(cat <data-dir>/admin-token)\")" >&2
  exit 2
fi
base=${1%/}
token=$2
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-30}

log() { echo "[schemathesis $(date +%T)] $*" >&2; }

find_schemathesis() {
  if command -v schemathesis >/dev/null 2>&1; then
    command -v schemathesis
    return 0
  fi
  local user_bin
  user_bin=$(python3 -m site --user-base 2>/dev/null)/bin
  if [ -x "$user_bin/schemathesis" ]; then
    echo "$user_bin/schemathesis"
    return 0
  fi
  return 1
}

if ! st=$(find_schemathesis); then
  log "schemathesis is missing; installing it from PyPI"
  if ! command -v python3 >/dev/null 2>&1; then
    log "python3 is missing; install it (Debian: apt-get install python3 python3-pip) to run the API conformance check"
    exit 3
  fi
  # Debian's system Python refuses plain pip installs (PEP 668); a user
  # install with --break-system-packages touches nothing Debian manages.
  if ! python3 -m pip install --quiet --user schemathesis 2>/dev/null \
    && ! python3 -m pip install --quiet --user --break-system-packages schemathesis; then
    log "pip could not install schemathesis"
    exit 3
  fi
  if ! st=$(find_schemathesis); then
    log "schemathesis was installed but its command is not on PATH or in $(python3 -m site --user-base)/bin"
    exit 3
  fi
fi
log "$("$st" --version 2>&1 | head -n1) against $base"

# Per-operation exceptions, each a rule the document states in words but
# JSON Schema cannot express, so schema-valid data may rightly get 422:
# - createDeployment and updateDeployment, positive_data_acceptance: every
#   env name must appear once (JSON Schema has no "unique by field"), and
#   in an update a variable may leave out its value only when it is a secret
#   that is already stored (it depends on the deployment's current state).
# - addDomain, positive_data_acceptance: `primary` must be the name added
#   or its www/apex partner, and names under the apps domain (a setting)
#   are refused.
# - uploadDomainCertificate, positive_data_acceptance: the PEM chain and
#   key must parse, belong together, name the host and be valid now.
# - createUpload, positive_data_acceptance: paths are checked segment by
#   segment as bytes (no `..`, `.`, empty segment, `.git`, `.slipway/`),
#   each named once and never both a file and a directory, and the sizes
#   add up to at most SLIPWAY_BUILD_MAX_OUTPUT (a setting).
# - operations that name a build by id, ensure_resource_availability: the
#   stateful phase reuses a build id from an earlier create, but within the
#   same scenario the build may be gone for good reasons: its deployment was
#   deleted (DELETE /api/deployments/{slug}, and a later create may reuse the
#   slug), or retention (SLIPWAY_BUILD_KEEP) pruned it after newer builds; a
#   404 is then the correct answer, not a lost resource.
config=$(mktemp "${TMPDIR:-/tmp}/slipway-schemathesis.XXXXXX.toml")
trap 'rm -f "$config"' EXIT
cat >"$config" <<'TOML'
[[operations]]
include-operation-id = ["createDeployment", "updateDeployment", "addDomain", "uploadDomainCertificate", "createUpload"]
checks.positive_data_acceptance.enabled = false

[[operations]]
include-operation-id = ["rollback", "getBuild", "cancelBuild", "buildLogs"]
checks.ensure_resource_availability.enabled = false
TOML

report_dir=${SCHEMATHESIS_REPORT_DIR:-${TMPDIR:-/tmp}/slipway-schemathesis}
mkdir -p "$report_dir"
report_dir=$(cd "$report_dir" && pwd)

args=(
  --config-file "$config"
  run "$base/api/openapi.json"
  --url "$base"
  --header "Authorization: Bearer $token"
  # Every check runs: that is the default, and naming them with --checks
  # would override the per-operation exceptions of the config file.
  --max-examples "$max_examples"
  # The build log follows its build until the build ends. The instance under
  # test runs no build workers (generated repository URLs must never be
  # fetched), so the streams of its queued builds never end; this operation
  # is covered end to end by the Swift tests instead.
  --exclude-operation-id buildLogs
  # A streaming build log follows its build until the end; bound each
  # request so a stuck stream fails the run instead of hanging it.
  --request-timeout 30
  --workers 1
  --report junit
  --report-dir "$report_dir"
)
if [ -n "${SCHEMATHESIS_SEED:-}" ]; then args+=(--seed "$SCHEMATHESIS_SEED"); fi

# Schemathesis keeps a cache in the working directory; keep it with the
# report, out of the source tree.
cd "$report_dir"
"$st" "${args[@]}"
