#!/bin/sh
# crash.sh: what train --save leaves behind when it is killed or the disk
# is full.  train saves a checkpoint after every epoch, atomically.
#
#   - SIGKILL: examples/lenet.net trains on a tiny synthetic set (one batch
#     an epoch, so it saves every few milliseconds), resuming from and
#     saving to the same W.npz, and is killed with SIGKILL after spread-out
#     delays, KILLS times (default 30).  After every kill W.npz must load
#     (eval --weights: zip CRCs, every parameter's dtype and shape), the
#     next run must resume from it at an epoch no earlier than the last one
#     seen, no run may fail on its own, and no temporary files may pile up
#     beside W.npz.  Killed three times and resumed, a run of 40 epochs
#     ends with the weights of an uninterrupted one.
#   - a full disk: a 64 KiB tmpfs (when mount works here; otherwise the
#     case is skipped with the reason) filled up, and a file size limit
#     (ulimit -f, always): the save fails with exit 1 and one message
#     naming the file and the reason, the previous W.npz is byte-identical,
#     no temporary file is left, and once there is room again saving works.
# Exits non-zero on any failure.
b=${1:-build}
t=$b/tests/crash
KILLS=${KILLS:-30}
umount "$t/mnt" 2> /dev/null    # left mounted by an interrupted run
rm -rf "$t" && mkdir -p "$t/data" "$t/cifar" "$t/run" "$t/mnt" || exit 1
fail=0
ok()  { echo "ok   $1"; }
bad() { echo "FAIL $*"; fail=1; }
die() { echo "crash.sh: setup failed: $*"; exit 1; }
# temps DIR: the number of temporary files (.NAME.tmp*) in DIR.
temps() {
    n=0
    for f in "$1"/.*.tmp*; do
        [ -e "$f" ] && n=$((n + 1))
    done
    echo $n
}

"$b/cnnc" examples/lenet.net -o "$t/lenet" || die "cnnc lenet"
"$b/mkdata" idx "$t/data" --train 64 --test 16 --seed 4 || die "mkdata"
L=$t/lenet
W=$t/run/W.npz
train() { "$L" train --data "$t/data" --batch 64 --threads 1 "$@"; }
train --epochs 1 --save "$W" > /dev/null || die "first train"

# ------------------------------------------------------------------ SIGKILL
# kill_once I: one run killed after a delay of 0 to 1.5 s (I spreads them).
last=1
leftover_max=0
kill_once() {
    delay=$(awk "BEGIN { printf \"%.3f\", (($1 * 37) % 31) / 20 }")
    # the program itself in the background (not a function: a subshell's
    # pid would be killed and the program left running)
    "$L" train --data "$t/data" --batch 64 --threads 1 --epochs 1000000 --resume "$W" \
        --save "$W" > "$t/out" 2> "$t/err" &
    pid=$!
    sleep "$delay"
    kill -KILL $pid 2> /dev/null
    { wait $pid; } 2> /dev/null
    st=$?
    if [ $st != 137 ]; then
        bad "kill $1 after $delay s: the run ended by itself with status $st: $(cat "$t/err")"
        return
    fi
    from=$(sed -n 's/^resuming from .* after epoch \([0-9]*\)$/\1/p' "$t/out")
    if [ -n "$from" ] && [ "$from" -lt "$last" ]; then
        bad "kill $1: resumed from epoch $from, but epoch $last was saved before"
    fi
    [ -n "$from" ] && last=$from
    if ! "$L" eval --data "$t/data" --weights "$W" > /dev/null 2> "$t/eval.err"; then
        bad "kill $1 after $delay s: W.npz does not load: $(cat "$t/eval.err")"
    fi
    n=$(temps "$t/run")
    [ "$n" -gt "$leftover_max" ] && leftover_max=$n
}
i=1
while [ $i -le "$KILLS" ]; do
    kill_once $i
    i=$((i + 1))
done
if [ $fail = 0 ]; then
    ok "$KILLS SIGKILLs: W.npz always loads, epochs never go back"
fi
if [ "$last" -gt 1 ]; then
    ok "the killed runs made progress (from epoch 1 to $last, resumed each time)"
else
    bad "the killed runs made progress (still epoch $last after $KILLS kills)"
fi
# A killed run leaves a temporary file only if killed between naming its
# finished file and renaming it (microseconds), or while writing where
# O_TMPFILE is not available; the next save removes those of dead pids.
if [ "$leftover_max" -le 2 ]; then
    ok "no temporary files pile up beside W.npz (at most $leftover_max)"
else
    bad "no temporary files pile up beside W.npz: $(ls -A "$t/run" | tr '\n' ' ')"
fi

# Killed three times, just after epochs 5, 15 and 25 (their line is
# printed, then the checkpoint saved: the kill lands around the save), and
# resumed each time, a run of 40 epochs ends with the weights of an
# uninterrupted one, byte for byte.
train --epochs 40 --seed 2 --save "$t/ref.npz" > /dev/null || die "reference run"
K=$t/run/K.npz
train --epochs 1 --seed 2 --save "$K" > /dev/null || die "first epoch"
for at in 5 15 25; do
    : > "$t/out"
    "$L" train --data "$t/data" --batch 64 --threads 1 --epochs 40 --resume "$K" --save "$K" \
        > "$t/out" 2>&1 &
    pid=$!
    n=0
    while ! grep -q "^epoch $at/" "$t/out" && [ $n -lt 6000 ]; do
        sleep 0.01
        n=$((n + 1))
    done
    kill -KILL $pid 2> /dev/null
    { wait $pid; } 2> /dev/null
done
train --epochs 40 --resume "$K" --save "$K" > "$t/out" || bad "last resume"
from=$(sed -n 's/^resuming from .* after epoch \([0-9]*\)$/\1/p' "$t/out")
if cmp -s "$t/ref.npz" "$K" && [ "$from" -ge 24 ] && [ "$from" -lt 40 ]; then
    ok "killed after epochs 5, 15, 25 and resumed: identical to an uninterrupted run"
else
    bad "killed after epochs 5, 15, 25 and resumed: identical to an uninterrupted run" \
        "(the last run resumed after epoch '$from')"
fi

# --------------------------------------------------------------- full disk
# disk_full WHAT DIR RUN...: W.npz in DIR exists; RUN must fail to save it.
disk_full() {
    what=$1 dir=$2
    shift 2
    cp "$dir/W.npz" "$t/before.npz" || die "copy"
    "$@" > /dev/null 2> "$t/err"
    st=$?
    msg=$(cat "$t/err")
    lines=$(wc -l < "$t/err")
    if [ $st = 1 ] && [ "$lines" = 1 ] && printf '%s' "$msg" | grep -qF "$dir/W.npz: write failed: "; then
        ok "$what: exit 1, '$msg'"
    else
        bad "$what: exit $st (want 1), stderr '$msg'"
    fi
    if cmp -s "$t/before.npz" "$dir/W.npz"; then
        ok "$what: the previous W.npz is intact"
    else
        bad "$what: the previous W.npz is intact"
    fi
    if [ "$(temps "$dir")" = 0 ]; then
        ok "$what: no temporary file left"
    else
        bad "$what: no temporary file left: $(ls -A "$dir" | tr '\n' ' ')"
    fi
}

# A file size limit of 64 KiB (the checkpoint is ~490 KB); SIGXFSZ ignored
# so that the write fails with EFBIG instead of killing the process.
limited() { (trap '' XFSZ; ulimit -f 128 && exec "$@"); }
disk_full "ulimit -f" "$t/run" limited "$L" train --data "$t/data" --threads 1 \
    --epochs 1000000 --resume "$W" --save "$W"

cleanup() { umount "$t/mnt" 2> /dev/null; }
if mount -t tmpfs -o size=64k tmpfs "$t/mnt" 2> "$t/mount.err"; then
    trap cleanup EXIT
    "$b/mkdata" cifar10 "$t/cifar" --train 40 --test 8 || die "mkdata cifar"
    cat > "$t/small.net" <<'EOF'
network small {
    input [3, 32, 32];
    conv    c1 (filters = 4, kernel = 3, stride = 2, activation = relu);
    maxpool p1 (size = 3);
    flatten;
    dense   out (units = 10);
    loss  softmax_cross_entropy;
}
EOF
    "$b/cnnc" "$t/small.net" -o "$t/small" || die "cnnc small"
    S=$t/small
    M=$t/mnt/W.npz
    "$S" train --data "$t/cifar" --epochs 1 --save "$M" > /dev/null || die "train small"
    dd if=/dev/zero of="$t/mnt/fill" bs=1024 2> /dev/null    # fails when full: intended
    disk_full "full tmpfs" "$t/mnt" "$S" train --data "$t/cifar" --epochs 3 --resume "$M" --save "$M"
    "$S" init --output "$t/mnt/i.npz" > /dev/null 2>&1
    if [ $? = 1 ] && [ ! -e "$t/mnt/i.npz" ]; then
        ok "full tmpfs: init --output fails with exit 1, writes nothing"
    else
        bad "full tmpfs: init --output fails with exit 1, writes nothing"
    fi
    rm -f "$t/mnt/fill"
    if "$S" train --data "$t/cifar" --epochs 3 --resume "$M" --save "$M" > /dev/null &&
        ! cmp -s "$t/before.npz" "$M"; then
        ok "tmpfs with room again: the save works"
    else
        bad "tmpfs with room again: the save works"
    fi
else
    echo "skip full tmpfs: cannot mount a tmpfs here ($(head -n 1 "$t/mount.err"))"
fi

[ $fail = 0 ] && echo "crash: all passed"
exit $fail
