#!/usr/bin/env bash
# Make a Docker engine and the job images available for the Docker tests; idempotent.
#
#   1. install Debian's docker.io and debootstrap when missing (apt-get);
#   2. start dockerd when no engine answers (no registry, no iptables, no default bridge:
#      `dockerd --iptables=false --bridge=none`), log to $HARNESS_DOCKERD_LOG, wait for it;
#   3. make the base image (debootstrap + docker import) and build the CPU job image when
#      absent; reuse them when present (`harness images base`, `harness images build`).
#
# With CI=true every failure is fatal (the Docker tests must run, never skip). Without it, a
# machine where the engine cannot be started only gets a warning and the tests skip.
set -uo pipefail

cd "$(dirname "$0")/.."
LOG="${HARNESS_DOCKERD_LOG:-/tmp/harness-dockerd.log}"
PY="${PYTHON:-python3}"

say() { echo "docker.sh: $*" >&2; }
fail() {
    say "$*"
    if [ "${CI:-}" = "true" ]; then exit 1; fi
    say "(not CI: the Docker tests will skip)"
    exit 0
}
engine_up() { timeout 10 docker info >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

# 1. packages
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null \
        && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
        || fail "apt-get install ${missing[*]} failed"
fi

# 2. engine
if ! engine_up; then
    say "no engine answers; starting dockerd (log: $LOG)"
    as_root sh -c "nohup dockerd --iptables=false --bridge=none >'$LOG' 2>&1 &" \
        || fail "cannot start dockerd (needs root)"
    for _ in $(seq 1 60); do engine_up && break; sleep 1; done
    engine_up || fail "dockerd did not answer within 60 s; last log lines: $(tail -n 5 "$LOG" 2>/dev/null)"
fi
say "engine: $(docker version --format '{{.Server.Version}}' 2>/dev/null)"

# 3. images (reused when present)
"$PY" -m harness.cli images base || fail "making the base image failed"
"$PY" -m harness.cli images build || fail "building the CPU job image failed"
