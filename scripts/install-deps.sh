#!/usr/bin/env bash
#
# install-deps.sh: install from Debian 12's packages everything the project
# builds, runs and tests with: a compiler, PostgreSQL 15 and its server
# headers, librdkafka, json-c, cmocka, kcat, a JDK and Maven for the Kafka
# broker, valgrind and gnuplot for the benchmarks.
#
# Idempotent and fast: when every package is installed it does nothing (no
# apt-get update); otherwise it updates the package lists once and installs
# what is missing.  Needs root only when something is missing.
#
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

packages=(
    build-essential make gcc clang pkg-config git ca-certificates
    postgresql-15 postgresql-server-dev-15
    librdkafka-dev libjson-c-dev libcmocka-dev libclang-rt-14-dev
    kcat openjdk-17-jre-headless maven
    valgrind gnuplot-nox python3 python3-yaml shellcheck bc linux-perf
    procps netcat-openbsd util-linux coreutils
)

# installed PACKAGE: whether dpkg has PACKAGE fully installed
installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

missing=()
for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
done

if (( ${#missing[@]} == 0 )); then
    exit 0
fi

need_root "installing ${missing[*]}"
ensure_state_dir
aptlog="$TK_STATE_DIR/install-deps.log"
log "installing ${missing[*]} (log: $aptlog)"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } \
        >"$aptlog" 2>&1 </dev/null; then
    show_log_tail "$aptlog" 30
    die "could not install ${missing[*]}"
fi
log "installed ${missing[*]}"
