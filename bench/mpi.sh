#!/bin/sh
# bench/mpi.sh BUILD_DIR - `make bench-mpi` (issue 7): data-parallel
# training of cifar10_wide over MPI on this machine, 1 and 2 ranks of one
# thread each (mpirun --oversubscribe, loopback only).  A measurement, not
# a test: it prints figures and checks nothing.
#
#   1. `./cifar10_wide bench --batch 64 --threads 1` under mpirun -np P:
#      the data-parallel train step on a global batch of 64 (slices of
#      64/P), the exchange's share of it and the bytes each rank sends, and
#      the exchange by itself for the whole gradient and for an empty one;
#      ROUNDS interleaved rounds, the best kept (a shared machine).
#   2. `train` on a synthetic CIFAR-10 set (TRAIN images, 1 epoch, batch 64):
#      the images/s of the epoch line, 1 rank against 2, in the same rounds.
#   3. the model step(P) = compute / P + exchange(bytes, P) with
#      exchange(bytes, P) = 2 (P-1) a + 2 (P-1)/P bytes / b: a (per message)
#      and b (bandwidth) fitted to this machine's two exchange figures, then
#      predicted for P up to 64 here and on two assumed networks.
# Results on stdout and in BUILD_DIR/bench/mpi.md.
# Environment: ROUNDS (3), TRAIN (1024), BATCH (64).
set -eu

B=${1:-build}
ROUNDS=${ROUNDS:-3}
TRAIN=${TRAIN:-1024}
BATCH=${BATCH:-64}
OUT=$B/bench/mpi
MD=$B/bench/mpi.md
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo

log() { echo "bench-mpi: $*" >&2; }
command -v mpirun > /dev/null || { log "mpirun missing: make mpi-deps"; exit 2; }
[ -f "$B/libcnnrt_mpi.a" ] || { log "$B/libcnnrt_mpi.a missing: make (with mpicc)"; exit 2; }
rm -rf "$OUT" && mkdir -p "$OUT/data"
log "cnnc --mpi cifar10_wide"
"$B/cnnc" --mpi examples/cifar10_wide.net -o "$OUT/cifar10_wide"
"$B/mkdata" cifar10 "$OUT/data" --train "$TRAIN" --test 64 --seed 1 > /dev/null

field() { sed -n "s/^$1 //p" "$2"; }
best() {   # best FILE FIELD max|min: over the rounds' files FILE.1 ..
    for f in "$1".*; do field "$2" "$f"; done |
        awk -v m="$3" 'NR == 1 || (m == "max" ? $1 > v : $1 < v) { v = $1 } END { print v }'
}

r=1
while [ $r -le "$ROUNDS" ]; do
    for p in 1 2; do
        log "round $r: bench, $p rank(s)"
        mpirun --oversubscribe -np $p "$OUT/cifar10_wide" bench --batch "$BATCH" --threads 1 \
            > "$OUT/bench$p.$r"
        log "round $r: train, $p rank(s), $TRAIN images"
        mpirun --oversubscribe -np $p "$OUT/cifar10_wide" train --data "$OUT/data" --epochs 1 \
            --batch "$BATCH" --threads 1 > "$OUT/train$p.$r"
        sed -n 's/^epoch 1\/1 .*  \([0-9]*\) img\/s$/train_img_per_s \1/p' "$OUT/train$p.$r" \
            > "$OUT/epoch$p.$r"
    done
    r=$((r + 1))
done

img1=$(best "$OUT/bench1" train_img_per_s max)
img2=$(best "$OUT/bench2" train_img_per_s max)
step1=$(best "$OUT/bench1" step_ms min)
step2=$(best "$OUT/bench2" step_ms min)
exch2=$(best "$OUT/bench2" exchange_ms_per_step min)
bytes2=$(best "$OUT/bench2" exchange_bytes_per_step min)
full2=$(best "$OUT/bench2" exchange_alone_ms min)
empty2=$(best "$OUT/bench2" exchange_empty_us min)
tr1=$(best "$OUT/epoch1" train_img_per_s max)
tr2=$(best "$OUT/epoch2" train_img_per_s max)
params=$(sed -n 's/^bench .*, \([0-9]*\) parameters$/\1/p' "$OUT/bench1.1")

awk -v img1="$img1" -v img2="$img2" -v step1="$step1" -v step2="$step2" -v exch2="$exch2" \
    -v bytes2="$bytes2" -v full2="$full2" -v empty2="$empty2" -v tr1="$tr1" -v tr2="$tr2" \
    -v params="$params" -v batch="$BATCH" -v train="$TRAIN" -v rounds="$ROUNDS" \
    -v cpu="$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')" -v cores="$(nproc)" \
    -v load="$(uptime | sed 's/.*load average: //')" '
function exch(bytes, p, a, b) { return p == 1 ? 0 : 2 * (p - 1) * a + 2 * (p - 1) / p * bytes / b }
function row(name, a, b,   p, s, line) {
    line = sprintf("| %s |", name)
    for (p = 1; p <= 64; p *= 2) {
        s = step1 / p + 1e3 * exch(grad, p, a, b)
        line = line sprintf(" %.0f |", batch / s * 1e3)
    }
    print line
}
BEGIN {
    grad = 4 * params
    # fit: empty exchange (header only) = 2 (P-1) a at P = 2; the full one adds
    # 2 (P-1)/P bytes / b = grad / b
    a = empty2 * 1e-6 / 2
    b = grad / ((full2 - empty2 / 1e3) * 1e-3)
    printf "# make bench-mpi: cifar10_wide over MPI\n\n"
    printf "%s, %d cores; load average at the end %s; best of %d rounds.\n", cpu, cores, load, rounds
    printf "Each rank 1 thread; global batch %d; mpirun --oversubscribe on loopback (Open MPI shared memory).\n\n", batch
    printf "| ranks | train step (ms) | images/s | exchange in the step (ms) | bytes sent per rank per step | train epoch, %d images (img/s) |\n", train
    printf "|---|---|---|---|---|---|\n"
    printf "| 1 | %.1f | %.1f | 0 | 0 | %s |\n", step1, img1, tr1
    printf "| 2 | %.1f | %.1f | %.2f | %d | %s |\n\n", step2, img2, exch2, bytes2, tr2
    printf "Speed-up, 2 ranks over 1: %.2fx (bench), %.2fx (train epoch).\n", img2 / img1, tr2 / tr1
    printf "The exchange by itself, 2 ranks: %.2f ms for the %d-float gradient (%d bytes), %.1f us empty.\n", full2, params, grad, empty2
    printf "The exchange in the step (%.2f ms) also holds the wait for the slower rank.\n\n", exch2
    printf "## Model: step(P) = compute / P + exchange(bytes, P)\n\n"
    printf "exchange(bytes, P) = 2 (P-1) a + 2 (P-1)/P bytes / b: each rank sends P-1 messages of\n"
    printf "its slices of the gradient and P-1 of its summed chunk (runtime/mpi/cnnrt_mpi.c),\n"
    printf "2 (P-1)/P of the %d bytes in all. compute = the 1-rank step, %.1f ms.\n", grad, step1
    printf "Fitted here: a = %.2f us per message, b = %.2f GB/s.  Predicted images/s for global batch %d:\n\n", a * 1e6, b / 1e9, batch
    printf "| network | P=1 | 2 | 4 | 8 | 16 | 32 | 64 |\n|---|---|---|---|---|---|---|---|\n"
    row("this machine (fitted)", a, b)
    row("10 GbE, assumed a = 30 us, b = 1.1 GB/s", 30e-6, 1.1e9)
    row("100 Gb/s InfiniBand, assumed a = 2 us, b = 11 GB/s", 2e-6, 11e9)
    printf "\nMeasured at P = 2: %.0f images/s; the model says %.0f (it assumes compute splits\n", img2, batch / (step1 / 2 + 1e3 * exch(grad, 2, a, b)) * 1e3
    printf "perfectly and no rank waits for another).  It also assumes that every pair of\n"
    printf "ranks can talk at full speed at once, and small slices run below the kernels'"'"' best\n"
    printf "rate, so large P is optimistic.  On the assumed 10 GbE the exchange (%.1f ms at P = 2,\n", 1e3 * exch(grad, 2, 30e-6, 1.1e9)
    for (p = 2; p <= 1024 && 1e3 * exch(grad, p, 30e-6, 1.1e9) < step1 / p; p *= 2)
        last = p
    printf "%.1f ms at P = 64) costs less than each rank'"'"'s compute (%.1f ms / P) up to P = %d;\n", 1e3 * exch(grad, 64, 30e-6, 1.1e9), step1, last
    printf "beyond, a larger global batch (more compute per exchange) is the way to scale.\n"
}' > "$MD"
cat "$MD"
