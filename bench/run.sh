#!/bin/sh
# bench/run.sh BUILD_DIR - `make bench` (issue 5): cnnc against PyTorch on the
# four networks of bench/*.net.  A benchmark, never a test: it prints
# figures and checks nothing.  See bench/README.md.
#
# Steps: the FP32 FMA peak of one core (bench/fma_peak.c); FLOPs per image
# (bench/flops.py); each network compiled with cnnc to an executable; compile
# cost (cnnc on lenet, clang -O2 on the generated lenet.c and
# cifar10_wide.c); then ROUNDS interleaved rounds: per network and thread
# count, the generated program's `bench` and right after it the same
# measurement in PyTorch (bench/torch_bench.py, one server process), so load
# on a shared machine hits both alike.  The best of the rounds is kept
# (highest images/s, lowest latency).  The table goes to stdout and to
# BUILD_DIR/bench/results.md; every raw figure to BUILD_DIR/bench/raw.txt.
#
# Environment: ROUNDS (3), THREADS ("1 2"), NETS (the four), BATCH (64),
# SLOW (20: a network whose cnnc bench takes longer than this many seconds
# in round 1 is not repeated, for both tools), PYTHON (/usr/bin/python3).
set -eu

B=${1:-build}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-1 2}
NETS=${NETS:-lenet cifar10_conv cifar10_mlp cifar10_wide}
BATCH=${BATCH:-64}
SLOW=${SLOW:-20}
PY=${PYTHON:-/usr/bin/python3}
SRC=$(dirname "$0")
OUT=$B/bench
RAW=$OUT/raw.txt
CNNC=$B/cnnc
TPID=

log() { echo "bench: $*" >&2; }
now_ns() { date +%s%N; }
raw() { echo "$*" >> "$RAW"; }

# Milliseconds of the best of N runs of a command (its output discarded).
best_ms() {
    n=$1; shift
    best=
    i=0
    while [ "$i" -lt "$n" ]; do
        t0=$(now_ns)
        "$@" > /dev/null
        t=$(( ($(now_ns) - t0) / 1000 ))
        if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
        i=$((i + 1))
    done
    awk -v us="$best" 'BEGIN { printf "%.1f\n", us / 1000 }'
}

cleanup() {
    if [ -n "$TPID" ]; then
        exec 3>&- 4<&-
        kill "$TPID" 2> /dev/null || true
        wait "$TPID" 2> /dev/null || true
        TPID=
    fi
    rm -f "$OUT/torch.req" "$OUT/torch.resp"
}

# ---------------------------------------------------------------- setup
setup() {
    [ -x "$CNNC" ] || { echo "bench: $CNNC missing: run make first" >&2; exit 2; }
    rm -rf "$OUT"
    mkdir -p "$OUT"
    : > "$RAW"
    raw "date $(date -u '+%Y-%m-%d %H:%M UTC')"
    raw "cpu $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores"
    raw "cores $(nproc)"
    raw "commit $(git -C "$SRC" rev-parse --short HEAD 2> /dev/null || echo unknown)"
    raw "load_start $(uptime | sed 's/.*load average: //')"
}

fma_peak() {
    if [ ! -x "$OUT/fma_peak" ]; then
        ${CC:-cc} -std=c11 -O2 "$SRC/fma_peak.c" -o "$OUT/fma_peak"
    fi
    "$OUT/fma_peak" 2> /dev/null >> "$RAW"
}

flops() {
    files=
    for n in $NETS; do files="$files $SRC/$n.net"; done
    # shellcheck disable=SC2086
    "$PY" "$SRC/flops.py" $files >> "$RAW" || log "flops.py failed: no % of peak"
}

compile_nets() {
    for n in $NETS; do
        log "cnnc $n"
        "$CNNC" "$SRC/$n.net" -o "$OUT/$n"
    done
}

# cnnc on lenet (best of 10) and clang -O2 on the generated C, with the
# flags cnnc itself builds with (compiler/main.c), object only.
compile_cost() {
    log "compile cost"
    raw "compile cnnc_lenet_ms $(best_ms 10 "$CNNC" "$SRC/lenet.net" -o "$OUT/cost_lenet.c")"
    "$CNNC" "$SRC/cifar10_wide.net" -o "$OUT/cost_cifar10_wide.c"
    ccx=clang
    command -v clang > /dev/null || ccx=${CC:-cc}
    raw "compile compiler $ccx"
    for n in lenet cifar10_wide; do
        ms=$(best_ms 2 "$ccx" -std=c11 -O2 -march=native -DCNNC_MAIN -pthread -c \
             "$OUT/cost_$n.c" -o "$OUT/cost_$n.o")
        raw "compile clang_${n}_ms $ms"
        raw "compile object_${n}_bytes $(wc -c < "$OUT/cost_$n.o")"
    done
}

# ---------------------------------------------------------------- torch
torch_start() {
    if ! "$PY" -c 'import torch' 2> /dev/null; then
        raw "torch absent"
        return
    fi
    dpkg-query -W -f='${Status}' libopenblas0-openmp 2> /dev/null | grep -q 'ok installed' ||
        raw "note libopenblas0-openmp is not installed: torch's dense layers use a slow BLAS (make bench-deps)"
    mkfifo "$OUT/torch.req" "$OUT/torch.resp"
    "$PY" "$SRC/torch_bench.py" --serve --reps 1 --batch "$BATCH" \
        < "$OUT/torch.req" > "$OUT/torch.resp" &
    TPID=$!
    exec 3> "$OUT/torch.req" 4< "$OUT/torch.resp"
    read -r line <&4 && raw "$line"
}

# One PyTorch measurement: network $1, threads $2.
torch_run() {
    [ -n "$TPID" ] && kill -0 "$TPID" 2> /dev/null || return 0
    echo "$SRC/$1.net $2" >&3
    while read -r line <&4; do
        [ "$line" = end ] && return 0
        raw "$line"
    done
    log "the torch server ended early"
    raw "note the torch server ended early"
    TPID=
}

# One cnnc measurement: network $1, threads $2, round $3; prints seconds.
cnnc_run() {
    o=$OUT/$1.t$2.r$3.out
    t0=$(now_ns)
    "$OUT/$1" bench --threads "$2" --batch "$BATCH" > "$o" 2>&1 ||
        raw "note $1 bench --threads $2 failed (see $o)"
    secs=$(( ($(now_ns) - t0) / 1000000000 ))
    awk -v tag="cnnc $1 threads $2" \
        '/^(train_img_per_s|infer_img_per_s|latency_us_b1|peak_rss_kb) / { print tag, $1, $2 }' "$o" >> "$RAW"
    [ "$(grep -c -E '^(train_img_per_s|infer_img_per_s|latency_us_b1) ' "$o")" = 3 ] ||
        raw "note $1 bench --threads $2 printed no machine-readable figures (see $o)"
    echo "$secs"
}

rounds() {
    slow=" "
    r=1
    while [ "$r" -le "$ROUNDS" ]; do
        for n in $NETS; do
            for t in $THREADS; do
                case $slow in *" $n:$t "*) continue ;; esac
                log "round $r/$ROUNDS: $n, $t thread(s)"
                secs=$(cnnc_run "$n" "$t" "$r")
                torch_run "$n" "$t"
                raw "rounds $n $t $r"
                if [ "$r" = 1 ] && [ "$secs" -gt "$SLOW" ] && [ "$ROUNDS" -gt 1 ]; then
                    slow="$slow$n:$t "
                    raw "note $n at $t thread(s): cnnc bench took ${secs} s, so 1 round only"
                fi
            done
        done
        r=$((r + 1))
    done
}

# ---------------------------------------------------------------- main
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
setup
log "FMA peak"
fma_peak
flops
compile_nets
compile_cost
torch_start
rounds
cleanup
fma_peak
raw "load_end $(uptime | sed 's/.*load average: //')"
awk -v nets="$NETS" -v threads="$THREADS" -v batch="$BATCH" -f "$SRC/table.awk" "$RAW" > "$OUT/results.md"
cat "$OUT/results.md"
