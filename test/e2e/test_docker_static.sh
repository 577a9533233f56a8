#!/usr/bin/env bash
#
# test_docker_static.sh: docker/ as far as a machine without a Docker
# engine can check it.
#
#   1. docker/check.sh on the real files: its own ok / not ok lines.
#   2. check.sh catches what it claims to: on a copy of docker/, each of a
#      set of known mistakes (a depends_on naming no service, a broker that
#      is not the advertised listener, an undeclared volume, ...) must make
#      the named check fail, and only that copy is touched.
#   3. The Dockerfile's build stage, rehearsed on this machine's PostgreSQL
#      15: exactly the paths its COPY lines name, in a scratch directory,
#      built with the same scripts/build.sh --clean install into a staging
#      root, which must then hold the library, the control file, the SQL
#      script and a trades-producer whose libraries all resolve.
#
# Needs neither the broker nor the server.
#
set -euo pipefail
# shellcheck source=test/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

CHECK="$TK_ROOT/docker/check.sh"
work="$(mktemp -d)"
# shellcheck disable=SC2317  # run by the trap
cleanup() {
    rm -rf "$work"
}
trap cleanup EXIT

# 1. -------------------------------------------------------------------------
rc=0
bash "$CHECK" > "$work/check.out" 2>&1 || rc=$?
cat "$work/check.out"
if (( rc != 0 )) && ! grep -q '^not ok - ' "$work/check.out"; then
    fail "docker/check.sh runs" "exit status $rc without a failing check"
fi

# 2. -------------------------------------------------------------------------
# mirror ROOT: the repository's entries as symbolic links, docker/ a real
# copy (modes kept) that a mutation may change
mirror() {
    local dir="$1" entry
    mkdir -p "$dir"
    for entry in "$TK_ROOT"/* "$TK_ROOT"/.[!.]*; do
        case "$(basename "$entry")" in
            docker | .git) ;;
            *) ln -s "$entry" "$dir/$(basename "$entry")" ;;
        esac
    done
    cp -a "$TK_ROOT/docker" "$dir/docker"
}

# edit_compose FILE PYTHON: run PYTHON with the compose file loaded as c,
# then write c back
edit_compose() {
    python3 - "$1" "$2" <<'EOF'
import sys, yaml
path, code = sys.argv[1], sys.argv[2]
with open(path) as f:
    c = yaml.safe_load(f)
exec(code)
with open(path, "w") as f:
    yaml.safe_dump(c, f, sort_keys=False)
EOF
}

# mutant NAME EXPECTED_CHECK KIND EDIT: on a fresh mirror, apply EDIT (a
# python statement on the compose file for KIND compose, a sed script on
# the Dockerfile for KIND dockerfile, a shell command run in the mirror's
# docker/ for KIND shell); check.sh must print "not ok - EXPECTED_CHECK..."
mutant() {
    local name="$1" expected="$2" kind="$3" edit="$4" dir out rc=0
    dir="$work/mutant_$(printf '%s' "$name" | tr -c 'a-zA-Z0-9' _)"
    mirror "$dir"
    case "$kind" in
        compose) edit_compose "$dir/docker/docker-compose.yml" "$edit" ;;
        dockerfile) sed -i "$edit" "$dir/docker/Dockerfile" ;;
        shell) (cd "$dir/docker" && eval "$edit") ;;
    esac
    out="$(bash "$dir/docker/check.sh" 2>&1)" || rc=$?
    if (( rc != 0 )) && grep -qF "not ok - $expected" <<<"$out"; then
        ok "check.sh catches $name"
    else
        fail "check.sh catches $name" "exit status $rc; no line 'not ok - $expected...'"$'\n'"$(grep '^not ok' <<<"$out" || echo '(no failing check)')"
    fi
}

# the control: the mirror and a YAML round trip of the compose file alone
# change nothing check.sh sees
control="$work/control"
mirror "$control"
edit_compose "$control/docker/docker-compose.yml" 'pass'
check "check.sh passes on a mirror of the tree with the compose file round-tripped through YAML" \
    bash "$control/docker/check.sh"

mutant "a depends_on naming no service" "every depends_on names a service" compose \
    'c["services"]["producer"]["depends_on"]["kafak"] = {"condition": "service_healthy"}'
mutant "a service_healthy wait on a service without healthcheck" "every depends_on names a service" compose \
    'c["services"]["watch"]["depends_on"] = {"topic-init": {"condition": "service_healthy"}}'
mutant "a depends_on cycle" "depends_on has no cycle" compose \
    'c["services"]["kafka"]["depends_on"] = {"watch": {"condition": "service_started"}}'
mutant "an undeclared named volume" "every named volume a service mounts is declared" compose \
    'del c["volumes"]["pg-data"]'
mutant "a declared volume nobody mounts" "every declared volume is mounted by a service" compose \
    'c["volumes"]["spare"] = None'
mutant "a bind mount of a missing directory" "every bind-mounted path exists" compose \
    'c["services"]["postgres"]["volumes"][1] = "./initdb-missing:/docker-entrypoint-initdb.d:ro"'
# shellcheck disable=SC2016  # a compose expression, for check.sh
mutant "a variable without a default" "every \${VAR} in the compose file has a default" compose \
    'c["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] = "${POSTGRES_PASSWORD}"'
mutant "a producer broker that is not the advertised listener" "producer's trades-producer --brokers (kafka:9093)" compose \
    'a = c["services"]["producer"]["command"]; a[a.index("--brokers") + 1] = "kafka:9093"'
mutant "an advertised listener the clients do not use" "the init script (postgres's TRADES_KAFKA_BROKERS) (kafka:9092)" compose \
    'e = c["services"]["kafka"]["environment"]; e["KAFKA_ADVERTISED_LISTENERS"] = e["KAFKA_ADVERTISED_LISTENERS"].replace("kafka:9092", "broker:9092")'
mutant "an advertised listener Kafka does not listen on" "Kafka's listeners, advertised listeners, protocol map and controller quorum agree" compose \
    'e = c["services"]["kafka"]["environment"]; e["KAFKA_LISTENERS"] = e["KAFKA_LISTENERS"].replace("PLAINTEXT://:9092,", "")'
mutant "ZooKeeper" "Kafka runs in KRaft mode" compose \
    'c["services"]["kafka"]["environment"]["KAFKA_ZOOKEEPER_CONNECT"] = "zookeeper:2181"'
mutant "a CLUSTER_ID that is not a Kafka UUID" "Kafka's CLUSTER_ID is fixed and a Kafka UUID" compose \
    'c["services"]["kafka"]["environment"]["CLUSTER_ID"] = "my-cluster"'
mutant "two topics" "the init script, topic-init and the producer name one topic" compose \
    'a = c["services"]["producer"]["command"]; a[a.index("--topic") + 1] = "trade"'
mutant "a producer option that does not exist" "producer passes only options trades-producer defines" compose \
    'c["services"]["producer"]["command"] += ["--ratee", "5"]'
mutant "trades_kafka.database other than the init script's database" "trades_kafka.database is the database" compose \
    'a = c["services"]["postgres"]["command"]; a[a.index("trades_kafka.database=trades")] = "trades_kafka.database=postgres"'
mutant "a misspelt trades_kafka setting" "every trades_kafka.* setting postgres sets is one the extension defines" compose \
    'c["services"]["postgres"]["command"] += ["-c", "trades_kafka.batchsize=100"]'
mutant "a PostgreSQL volume at /var/lib/postgresql/data" "postgres keeps its data directory" compose \
    'c["services"]["postgres"]["volumes"][0] = "pg-data:/var/lib/postgresql/data"'
mutant "an init script variable the service does not set" "every variable the init scripts need is set by postgres" compose \
    'del c["services"]["postgres"]["environment"]["TRADES_KAFKA_BROKERS"]'
mutant "an unpinned image" "every pulled image is pinned to a version" compose \
    'c["services"]["topic-init"]["image"] = "apache/kafka:latest"'
mutant "a build arg the Dockerfile does not declare" "build args of postgres are ARGs of docker/Dockerfile" compose \
    'c["services"]["postgres"]["build"] = dict(c["services"]["postgres"]["build"], args={"PG_VERSION": "15"})'
mutant "a COPY source missing from the build context" "docker/Dockerfile: every COPY source exists" dockerfile \
    's|^COPY sql/ sql/|COPY sqlx/ sql/|'
mutant "a COPY --from path its stage never writes" "docker/Dockerfile: every COPY source exists" dockerfile \
    's|^COPY --from=build /staging/ /|COPY --from=build /stage/ /|'
mutant "a FROM variable declared after the first FROM" "docker/Dockerfile builds every stage FROM" dockerfile \
    's|^ARG DEBIAN_SUITE=bookworm|ARG DEBIAN_SUITE_=bookworm|'
# shellcheck disable=SC2016  # a sed script
mutant "a RUN that skips errexit" "docker/Dockerfile: shellcheck on every RUN" dockerfile \
    's|^        if ldd "\$f" .*|        ! ldd "$f" \| grep "not found"; \\|'
mutant "a missing runtime library" "docker/Dockerfile installs the build packages" dockerfile \
    's|^        libjson-c5; \\|        libjson-c; \\|'
mutant "an init script that is not executable" "docker/initdb/10-trades-kafka.sh is executable" shell \
    'chmod -x initdb/10-trades-kafka.sh'
mutant "a start() parameter the extension does not define" "the init scripts call trades_kafka.start() with parameters" shell \
    'sed -i "s/workers => /worker => /" initdb/10-trades-kafka.sh'

# 3. -------------------------------------------------------------------------
ctx="$work/context"
mkdir -p "$ctx"
if ! sources="$(bash "$CHECK" --copy-sources)" || [[ -z "$sources" ]]; then
    fail "check.sh --copy-sources lists the build stage's COPY sources" "$sources"
else
    ok "check.sh --copy-sources lists the build stage's COPY sources: $(tr '\n' ' ' <<<"$sources")"
    while IFS= read -r src; do
        mkdir -p "$ctx/$(dirname "$src")"
        cp -a "$TK_ROOT/$src" "$ctx/$src"
    done <<<"$sources"
    staging="$work/staging"
    pgc="$(command -v pg_config)"
    check "the build stage's scripts/build.sh --clean install succeeds on the copied sources (PostgreSQL 15 here)" \
        env PG_CONFIG="$pgc" DESTDIR="$staging" bash "$ctx/scripts/build.sh" --clean install
    missing=()
    scripts=()
    for f in "$TK_ROOT"/sql/trades_kafka--*.sql; do
        scripts+=("$("$pgc" --sharedir)/extension/${f##*/}")
    done
    for f in "$("$pgc" --pkglibdir)/trades_kafka.so" \
        "$("$pgc" --sharedir)/extension/trades_kafka.control" "${scripts[@]}" \
        "$("$pgc" --bindir)/trades-producer"; do
        [[ -f "$staging$f" ]] || missing+=("$f")
    done
    check_eq "the staging root holds the library, control file, ${#scripts[@]} SQL scripts and trades-producer" "" "${missing[*]}"
    unresolved="$(ldd "$staging$("$pgc" --pkglibdir)/trades_kafka.so" "$staging$("$pgc" --bindir)/trades-producer" 2>&1 |
        grep 'not found' || true)"
    check_eq "every library of the staged trades_kafka.so and trades-producer resolves" "" "$unresolved"
fi

finish
