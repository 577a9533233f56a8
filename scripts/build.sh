#!/usr/bin/env bash
#
# build.sh: build the extension and trades-producer with make, against the
# PostgreSQL whose pg_config is $PG_CONFIG (default: pg_config on PATH).
# The one build recipe of the project: CI (scripts/pg.sh install-ext) and
# the Docker image (docker/Dockerfile) both call it.
#
#   build.sh [--clean] [build]     build only (the default)
#   build.sh [--clean] install     build, then make install install-producer
#
#   --clean   make clean first: objects left by a build against another
#             PostgreSQL (a copied tree, a Docker build context) must not
#             be linked into this one
#
# Environment: PG_CONFIG (pg_config to build against), DESTDIR (install
# under this root instead of /, as a Docker build stage does), JOBS
# (parallel make jobs, default: the number of CPUs).
#
# It needs only bash, make, a C compiler, pkg-config and the development
# files of PostgreSQL, librdkafka and json-c: it does not source lib.sh, so
# that a Docker build stage can run it with nothing else of the checkout.
#
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() {
    printf 'build.sh: error: %s\n' "$*" >&2
    exit 1
}

usage() {
    sed -n '/^#   build.sh /,/^#$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,3\}//' >&2
    exit 2
}

clean=
action=build
for arg in "$@"; do
    case "$arg" in
        --clean) clean=1 ;;
        build | install) action="$arg" ;;
        -h | --help) usage ;;
        *) printf 'build.sh: unknown argument %s\n' "$arg" >&2; usage ;;
    esac
done

PG_CONFIG="${PG_CONFIG:-pg_config}"
command -v "$PG_CONFIG" >/dev/null ||
    die "no $PG_CONFIG: put PostgreSQL's pg_config on PATH or set PG_CONFIG (Debian: postgresql-server-dev-NN)"
version="$("$PG_CONFIG" --version)" || die "$PG_CONFIG --version failed"
[[ -d "$("$PG_CONFIG" --pgxs | xargs dirname)" ]] ||
    die "$PG_CONFIG has no PGXS: install the server development files (Debian: postgresql-server-dev-NN)"
for cmd in make pkg-config; do
    command -v "$cmd" >/dev/null || die "$cmd is missing"
done
for lib in rdkafka json-c; do
    pkg-config --exists "$lib" || die "pkg-config finds no $lib (Debian: librdkafka-dev, libjson-c-dev)"
done

# every make below gets the same pg_config, and DESTDIR only when it is set
makeargs=(-C "$ROOT" -s "PG_CONFIG=$PG_CONFIG")
[[ -z "${DESTDIR:-}" ]] || makeargs+=("DESTDIR=$DESTDIR")

printf 'build.sh: building trades_kafka and trades-producer for %s (%s)\n' "$version" "$PG_CONFIG" >&2
if [[ -n "$clean" ]]; then
    make "${makeargs[@]}" clean
fi
make "${makeargs[@]}" -j"${JOBS:-$(nproc)}"
if [[ "$action" == install ]]; then
    make "${makeargs[@]}" install install-producer
    printf 'build.sh: installed into %s%s and %s%s\n' "${DESTDIR:-}" "$("$PG_CONFIG" --pkglibdir)" \
        "${DESTDIR:-}" "$("$PG_CONFIG" --bindir)" >&2
fi
