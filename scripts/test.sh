#!/usr/bin/env bash
#
# test.sh: every test of the project, on a fresh Debian 12 as root: sets up
# the local stack (scripts/stack.sh up), then runs the suites and ends with
# one line "N passed, N failed" that sums them all.  Exits 1 if any failed.
#
#   unit     make unit: the cmocka tests, plain and under ASan+UBSan; counts
#            each binary's "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)"
#   regress  make installcheck: pg_regress against the local server; counts
#            each test's "... ok" / "... FAILED" line, prints regression.diffs
#   fuzz     make fuzz: libFuzzer + ASan + UBSan over the parser for
#            TK_FUZZ_SECONDS (30); one check, failed by any crash
#   e2e      every test/e2e/test_*.sh in name order, each under a timeout;
#            counts "ok - " and "not ok - " lines
#   sanitize trades-producer built with ASan+UBSan through the producer's
#            end-to-end script (test/e2e/test_producer.sh)
#   bench    BENCH_N=20000 bench/run.sh --smoke: the benchmark still works
#            (no timing claims); counts its "ok - " / "not ok - " lines
#
# A suite that cannot build or run counts as failed, never as skipped.
# Settings (environment):
#   TK_TESTS="unit regress fuzz e2e sanitize bench"
#                                 the suites to run (default: all six)
#   TK_E2E_FILTER='glob ...'      e2e scripts whose file name matches one of
#                                 the globs (e.g. '*stack*' or 'test_ingest.sh')
#   TK_E2E_TIMEOUT=600            seconds each e2e script may take
#   CI=true                       stop the servers this run started, at the end
# and those of scripts/lib.sh (state directory, ports, ...).
#
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUITES="${TK_TESTS:-unit regress fuzz e2e sanitize bench}"
E2E_FILTER="${TK_E2E_FILTER:-*}"
E2E_TIMEOUT="${TK_E2E_TIMEOUT:-600}"

for s in $SUITES; do
    case "$s" in
        unit | regress | fuzz | e2e | sanitize | bench) ;;
        *) die "unknown suite '$s' in TK_TESTS (known: unit regress fuzz e2e sanitize bench)" ;;
    esac
done

passed=0
failed=0
work="$(mktemp -d)"
kafka_was_running=
pg_was_running=
torn_down=

# want SUITE: whether TK_TESTS asks for SUITE
want() {
    [[ " $SUITES " == *" $1 "* ]]
}

banner() {
    printf '\n======== %s\n' "$*"
}

# tally SUITE PASSED FAILED: add a suite's counts to the totals
tally() {
    passed=$(( passed + $2 ))
    failed=$(( failed + $3 ))
    printf '======== %s: %d ok, %d not ok\n' "$1" "$2" "$3"
}

# judge WHAT RC PASSED FAILED: print the failure count of a run: FAILED, or
# 1 (with a "not ok" line on stderr) when it exited non-zero without a
# failing test, or passed without running any
judge() {
    local what="$1" rc="$2" p="$3" f="$4"
    if (( rc != 0 && f == 0 )); then
        echo "not ok - $what exited with status $rc without a failing test (a build failure or a crash?)" >&2
        f=1
    elif (( rc == 0 && p + f == 0 )); then
        echo "not ok - $what ran no test" >&2
        f=1
    fi
    echo "$f"
}

# sum_matches FILE SED_EXPR: the sum of the numbers SED_EXPR prints from FILE
sum_matches() {
    sed -n "$2" "$1" | awk '{ s += $1 } END { print s + 0 }'
}

# teardown: under CI=true, stop the servers this run started (once)
teardown() {
    [[ -z "$torn_down" ]] || return 0
    torn_down=1
    rm -rf "$work"
    if [[ "${CI:-}" == true ]]; then
        if [[ -z "$pg_was_running" ]]; then bash "$TK_SCRIPTS/pg.sh" stop || true; fi
        if [[ -z "$kafka_was_running" ]]; then bash "$TK_SCRIPTS/kafka.sh" stop || true; fi
    fi
}
trap teardown EXIT

run_unit() {
    local log="$work/unit.log" rc=0 p f
    banner "unit: make unit"
    ( unset CMOCKA_MESSAGE_OUTPUT CMOCKA_XML_FILE; make -C "$TK_ROOT" --no-print-directory unit ) \
        </dev/null 2>&1 | tee "$log" || rc=$?
    p="$(sum_matches "$log" 's/^\[  PASSED  \] \([0-9]*\) test(s)\..*/\1/p')"
    f="$(sum_matches "$log" 's/^\[  FAILED  \] \([0-9]*\) test(s).*/\1/p')"
    tally unit "$p" "$(judge "make unit" "$rc" "$p" "$f")"
}

run_regress() {
    local log="$work/regress.log" rc=0 p f
    banner "regress: make installcheck (pg_regress on 127.0.0.1:$TK_PG_PORT)"
    rm -f "$TK_ROOT/regression.diffs" "$TK_ROOT/regression.out"
    make -C "$TK_ROOT" --no-print-directory installcheck </dev/null 2>&1 | tee "$log" || rc=$?
    # PostgreSQL 15: "test name   ... ok   25 ms"; 16 and later: "ok 1  - name"
    p="$(grep -cE '^( *(test +)?[^ ]+ +\.\.\. ok( |$)|ok [0-9]+ )' "$log" || true)"
    f="$(grep -cE '(\.\.\. FAILED( |$)|^not ok [0-9]+ )' "$log" || true)"
    if [[ -s "$TK_ROOT/regression.diffs" ]]; then
        banner "regress: regression.diffs"
        cat "$TK_ROOT/regression.diffs"
    fi
    tally regress "$p" "$(judge "make installcheck" "$rc" "$p" "$f")"
}

run_fuzz() {
    local log="$work/fuzz.log" rc=0 runs
    banner "fuzz: make fuzz FUZZ_SECONDS=${TK_FUZZ_SECONDS:-30}"
    make -C "$TK_ROOT" --no-print-directory fuzz FUZZ_SECONDS="${TK_FUZZ_SECONDS:-30}" \
        </dev/null >"$log" 2>&1 || rc=$?
    tail -n 5 "$log"
    runs="$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)"
    if (( rc == 0 )) && [[ -n "$runs" ]]; then
        echo "ok - the parser survived $runs fuzz runs"
        tally fuzz 1 0
    else
        echo "not ok - make fuzz exited with status $rc (see above)"
        tally fuzz 0 1
    fi
}

run_sanitize() {
    local log="$work/sanitize.log" rc=0 p f
    banner "sanitize: trades-producer under ASan+UBSan through test/e2e/test_producer.sh"
    if ! make -C "$TK_ROOT" --no-print-directory trades-producer.asan </dev/null >"$log" 2>&1; then
        cat "$log"
        echo "not ok - make trades-producer.asan"
        tally sanitize 0 1
        return
    fi
    PRODUCER="$TK_ROOT/trades-producer.asan" timeout -k 10 "$E2E_TIMEOUT" \
        bash "$TK_ROOT/test/e2e/test_producer.sh" </dev/null >"$log" 2>&1 || rc=$?
    cat "$log"
    p="$(grep -c '^ok - ' "$log" || true)"
    f="$(grep -c '^not ok - ' "$log" || true)"
    if grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$log"; then
        echo "not ok - a sanitizer reported an error"
        f=$(( f + 1 ))
    fi
    tally sanitize "$p" "$(judge "test_producer.sh under ASan" "$rc" "$p" "$f")"
}

run_bench() {
    local log="$work/bench.log" rc=0 p f
    banner "bench: BENCH_N=20000 bench/run.sh --smoke"
    BENCH_N=20000 timeout -k 10 "$E2E_TIMEOUT" bash "$TK_ROOT/bench/run.sh" --smoke \
        </dev/null >"$log" 2>&1 || rc=$?
    cat "$log"
    p="$(grep -c '^ok - ' "$log" || true)"
    f="$(grep -c '^not ok - ' "$log" || true)"
    tally bench "$p" "$(judge "bench/run.sh --smoke" "$rc" "$p" "$f")"
}

# e2e_scripts: the e2e scripts TK_E2E_FILTER selects, in name order
e2e_scripts() {
    local f name pattern
    while IFS= read -r f; do
        name="$(basename "$f")"
        set -f
        for pattern in $E2E_FILTER; do
            # shellcheck disable=SC2053  # the pattern is a glob on purpose
            if [[ "$name" == $pattern ]]; then
                echo "$f"
                break
            fi
        done
        set +f
    done < <(find "$TK_ROOT/test/e2e" -maxdepth 1 -name 'test_*.sh' -type f | LC_ALL=C sort)
}

# ensure_stack WHAT: restart a server that an earlier script left stopped,
# so that one script's failure does not become every later script's
ensure_stack() {
    if ! bash "$TK_SCRIPTS/kafka.sh" status >/dev/null 2>&1; then
        log "the broker is down after $1: starting it"
        bash "$TK_SCRIPTS/kafka.sh" start || true
    fi
    if ! bash "$TK_SCRIPTS/pg.sh" status >/dev/null 2>&1; then
        log "PostgreSQL is down after $1: starting it"
        bash "$TK_SCRIPTS/pg.sh" start || true
    fi
    # a server still in crash recovery (a killed backend) refuses sessions
    if ! pg_accepts; then
        log "PostgreSQL refuses connections after $1: waiting up to 120 s"
        poll 120 pg_accepts || log "PostgreSQL still refuses connections"
    fi
}

pg_accepts() {
    psql -X -A -t -q -d postgres -c "SELECT 1" >/dev/null 2>&1
}

run_e2e() {
    local scripts=() f name log rc pid p f_ p_total=0 f_total=0 t0 previous="stack up"
    mapfile -t scripts < <(e2e_scripts)
    if (( ${#scripts[@]} == 0 )); then
        banner "e2e"
        echo "not ok - no script in test/e2e matches TK_E2E_FILTER='$E2E_FILTER'"
        tally e2e 0 1
        return
    fi
    for f in "${scripts[@]}"; do
        name="$(basename "$f")"
        log="$work/$name.log"
        ensure_stack "$previous"
        previous="$name"
        banner "e2e: $name"
        t0=$SECONDS
        rc=0
        # into a file, shown as it grows: a child the script leaves behind
        # cannot hold a pipe open and stall the run.  timeout leads a
        # process group of its own; what is left in it afterwards is ended.
        # (The broker and the postmaster start in sessions of their own.)
        : > "$log"
        timeout -k 10 "$E2E_TIMEOUT" bash "$f" </dev/null >"$log" 2>&1 &
        pid=$!
        tail -n +1 --pid="$pid" -f "$log"
        wait "$pid" || rc=$?
        kill -TERM -- "-$pid" 2>/dev/null || true
        p="$(grep -c '^ok - ' "$log" || true)"
        f_="$(grep -c '^not ok - ' "$log" || true)"
        if (( rc == 124 || rc == 137 )); then
            echo "not ok - $name timed out after $E2E_TIMEOUT s"
            f_=$(( f_ + 1 ))
        else
            f_="$(judge "$name" "$rc" "$p" "$f_")"
        fi
        printf '======== %s: %d ok, %d not ok in %d s\n' "$name" "$p" "$f_" $(( SECONDS - t0 ))
        p_total=$(( p_total + p ))
        f_total=$(( f_total + f_ ))
    done
    tally e2e "$p_total" "$f_total"
}

t_start=$SECONDS
stack_up=1
if want regress || want e2e || want sanitize || want bench; then
    bash "$TK_SCRIPTS/kafka.sh" status >/dev/null 2>&1 && kafka_was_running=1
    bash "$TK_SCRIPTS/pg.sh" status >/dev/null 2>&1 && pg_was_running=1
    banner "stack: scripts/stack.sh up"
    if ! bash "$TK_SCRIPTS/stack.sh" up </dev/null; then
        echo "not ok - scripts/stack.sh up: the regress and e2e suites cannot run"
        failed=$(( failed + 1 ))
        stack_up=
    fi
elif ! bash "$TK_SCRIPTS/install-deps.sh" </dev/null; then
    echo "not ok - scripts/install-deps.sh"
    failed=$(( failed + 1 ))
fi

if want unit; then run_unit; fi
if want fuzz; then run_fuzz; fi
for s in regress e2e sanitize bench; do
    want "$s" || continue
    if [[ -n "$stack_up" ]]; then
        "run_$s"
    else
        banner "$s"
        echo "not ok - $s: not run, the stack is not up"
        tally "$s" 0 1
    fi
done

teardown
banner "done in $(( SECONDS - t_start )) s (suites: $SUITES)"
if [[ "${CI:-}" != true && -n "$stack_up" ]] && { want regress || want e2e || want bench; }; then
    echo "the broker ($TK_BROKERS) and PostgreSQL (127.0.0.1:$TK_PG_PORT) are left running;" \
        "bash scripts/stack.sh down stops them"
fi
echo "$passed passed, $failed failed"
(( failed == 0 ))
