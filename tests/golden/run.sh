#!/bin/sh
# Golden tests: every tests/golden/CASE/net.net is compiled by cnnc, its
# program's `grad` and `step --steps 2` run on the case's weights and batch,
# and the results compared with the answers PyTorch gave (tools/golden.py);
# `grad` runs again with CNNC_REFERENCE=1, so the reference twins of the
# SIMD kernels are held to the same answers.
#
#   sh tests/golden/run.sh [CASE...]      (from the repo root; all cases
#                                          when none is named)
# CNNC and NPZCMP override the tools (default build/cnnc, build/npzcmp).
# Another machine (make test-neon): GOLDEN_TARGET=T is TARGET=T,
# GOLDEN_RUN="CMD ARGS" runs each program as CMD ARGS PROGRAM
# (an emulator such as qemu-aarch64), GOLDEN_OUT=DIR writes there instead
# of build/golden; cnnc itself
# reads CC, CNNC_CFLAGS and CNNC_RUNTIME (the cross compiler, its flags and
# the cross-built runtime library).  npzcmp runs on the host.
# GOLDEN_JOBS=J runs J cases at a time (default 2; 1 with GOLDEN_RUN).
# THREADS=T runs grad and step with --threads T (the answers must not
# depend on it); TARGET=F compiles with --target=F (avx512, avx2, sse2,
# neon, generic: every SIMD flavour must give the answers).  Each run is
# limited to 60 s (timeout, exit 124) so that a deadlock fails the case
# instead of hanging the suite.  Outputs and logs go to build/golden/CASE/
# (build/golden-F/CASE/ with TARGET=F).  Exits 1 if any case fails;
# a case that does not build is a failure, not a skip.

CNNC=${CNNC:-build/cnnc}
NPZCMP=${NPZCMP:-build/npzcmp}
TOL="--atol 1e-4 --rtol 2e-3"
TARGET=${TARGET:-${GOLDEN_TARGET:-}}
OUT=${GOLDEN_OUT:-build/golden${TARGET:+-$TARGET}}
RUN=${GOLDEN_RUN:-}
THREADS_FLAG=${THREADS:+--threads $THREADS}
TARGET_FLAG=${TARGET:+--target=$TARGET}
LIMIT=
command -v timeout >/dev/null 2>&1 && LIMIT="timeout 60"

# run_case NAME: 0 if every stage succeeds; on failure prints why.
run_case() {
    case=$1
    src=tests/golden/$1
    dst=$OUT/$1
    log=$dst/log
    mkdir -p "$dst" || return 1
    rm -f "$dst/net" "$dst/grad.npz" "$dst/grad_ref.npz" "$dst/step.npz" "$log"
    data="--weights $src/weights.npz --input $src/input.npy --labels $src/labels.npy"

    # shellcheck disable=SC2086 # $TARGET_FLAG, $data, $LIMIT, $RUN...: word lists
    stage "build" "$CNNC" $TARGET_FLAG "$src/net.net" -o "$dst/net" || return 1
    # shellcheck disable=SC2086
    stage "grad" $LIMIT $RUN "$dst/net" grad $data $THREADS_FLAG \
        --output "$dst/grad.npz" || return 1
    # shellcheck disable=SC2086,SC2046 # word lists, as above
    stage "step" $LIMIT $RUN "$dst/net" step $data --steps 2 $(cat "$src/args") \
        $THREADS_FLAG --output "$dst/step.npz" || return 1
    # shellcheck disable=SC2086
    stage "grad.npz differs" "$NPZCMP" $TOL "$src/grad.npz" "$dst/grad.npz" \
        || return 1
    # shellcheck disable=SC2086
    stage "step.npz differs" "$NPZCMP" $TOL "$src/step.npz" "$dst/step.npz" || return 1
    # the reference twins of the SIMD kernels must give the same answers
    # shellcheck disable=SC2086
    stage "grad, reference kernels" env CNNC_REFERENCE=1 $LIMIT $RUN "$dst/net" grad $data \
        $THREADS_FLAG --output "$dst/grad_ref.npz" || return 1
    # shellcheck disable=SC2086
    stage "grad_ref.npz differs" "$NPZCMP" $TOL "$src/grad.npz" "$dst/grad_ref.npz"
}

# stage WHAT CMD...: runs CMD, its output appended to $log; on failure
# says which stage failed and shows the end of its output.
stage() {
    what=$1
    shift
    echo "\$ $*" >>"$log"
    "$@" >>"$log" 2>&1 && return 0
    echo "FAIL $case: $what (exit $?; log $log)"
    tail -n 15 "$log" | sed 's/^/    /'
    return 1
}

if [ $# -gt 0 ]; then
    cases=$*
else
    cases=$(for f in tests/golden/*/net.net; do
        [ -f "$f" ] && basename "$(dirname "$f")"
    done)
fi

# golden_case NAME: run_case, then "ok   NAME" (the messages of a failure
# are run_case's own).  A case without a net.net fails.
golden_case() {
    if [ ! -f "tests/golden/$1/net.net" ]; then
        echo "FAIL $1: no tests/golden/$1/net.net"
        return 1
    fi
    run_case "$1" || return 1
    echo "ok   $1"
}

# GOLDEN_JOBS cases at a time: 2 by default, 1 under an emulator
JOBS=${GOLDEN_JOBS:-2}
[ -n "$RUN" ] && JOBS=${GOLDEN_JOBS:-1}
. tests/jobs.sh
# shellcheck disable=SC2086 # $cases: a word list
jobs_run "$OUT" "$JOBS" golden_case $cases
pass=$jobs_pass
fail=$jobs_fail

if [ $((pass + fail)) -eq 0 ]; then
    echo "golden: no case found under tests/golden/"
    fail=1
fi
echo "golden: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
