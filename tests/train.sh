#!/bin/sh
# train.sh: end-to-end training of examples/lenet.net on a synthetic data
# set in the published idx layout (tools/mkdata.c), checking what a user
# relies on:
#   - it learns (test accuracy reaches 95 %);
#   - the same seed gives byte-identical weights, for 1 and for 2 threads;
#   - another seed gives other weights;
#   - train --epochs 2 equals train --epochs 1 --save, then --resume to 2;
#   - gzip-compressed idx files read the same as plain ones.
# Exits non-zero on any failure.
b=${1:-build}
t=$b/tests/train
rm -rf "$t" && mkdir -p "$t/idx" "$t/gz" || exit 1
fail=0
ok()  { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }

"$b/mkdata" idx "$t/idx" --train 2000 --test 500 --seed 7 || exit 1
"$b/mkdata" idx "$t/gz" --train 2000 --test 500 --seed 7 --gzip || exit 1
"$b/cnnc" examples/lenet.net -o "$t/lenet" || exit 1
net=$t/lenet
run() { "$net" train --batch 64 --lr 0.05 --momentum 0.9 "$@"; }

run --data "$t/idx" --epochs 6 --seed 3 --threads 2 --save "$t/a.npz" > "$t/a.log" 2>&1 ||
    bad "train exits 0"
acc=$(sed -n 's/^epoch 6\/6 .*test acc \([0-9.]*\)%.*/\1/p' "$t/a.log")
if [ -n "$acc" ] && awk "BEGIN { exit !($acc >= 95) }"; then
    ok "learns the synthetic classes (test acc $acc %)"
else
    bad "learns the synthetic classes (test acc '$acc' %, want >= 95)"; cat "$t/a.log"
fi

for th in 1 2; do
    run --data "$t/idx" --epochs 2 --seed 5 --threads $th --save "$t/s$th-1.npz" > /dev/null 2>&1
    run --data "$t/idx" --epochs 2 --seed 5 --threads $th --save "$t/s$th-2.npz" > /dev/null 2>&1
    if [ -s "$t/s$th-1.npz" ] && cmp -s "$t/s$th-1.npz" "$t/s$th-2.npz"; then
        ok "same seed, $th thread(s): identical weights"
    else
        bad "same seed, $th thread(s): identical weights"
    fi
done

run --data "$t/idx" --epochs 2 --seed 6 --threads 2 --save "$t/other.npz" > /dev/null 2>&1
if [ -s "$t/other.npz" ] && ! cmp -s "$t/s2-1.npz" "$t/other.npz"; then
    ok "another seed: other weights"
else
    bad "another seed: other weights"
fi

run --data "$t/idx" --epochs 1 --seed 5 --threads 2 --save "$t/half.npz" > /dev/null 2>&1
run --data "$t/idx" --epochs 2 --seed 5 --threads 2 --resume "$t/half.npz" \
    --save "$t/resumed.npz" > /dev/null 2>&1
if [ -s "$t/resumed.npz" ] && cmp -s "$t/s2-1.npz" "$t/resumed.npz"; then
    ok "resume from epoch 1: identical to an uninterrupted run"
else
    bad "resume from epoch 1: identical to an uninterrupted run"
fi

run --data "$t/gz" --epochs 2 --seed 5 --threads 2 --save "$t/gz.npz" > /dev/null 2>&1
if [ -s "$t/gz.npz" ] && cmp -s "$t/s2-1.npz" "$t/gz.npz"; then
    ok "gzip idx files: same result as plain"
else
    bad "gzip idx files: same result as plain"
fi

[ $fail = 0 ] && echo "train: all passed"
exit $fail
