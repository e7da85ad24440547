#!/bin/sh
# train.sh: end-to-end training of examples/lenet.net on a synthetic data
# set in the published idx layout (tools/mkdata.c), checking what a user
# relies on:
#   - it learns (test accuracy reaches 95 %);
#   - the same seed gives byte-identical weights, for 1 and for 2 threads;
#   - another seed gives other weights;
#   - train --epochs 2 equals train --epochs 1 --save, then --resume to 2;
#     likewise with weight decay and one thread, and the checkpoint's
#     momentum buffers and RNG state are what makes it so;
#   - gzip-compressed idx files read the same as plain ones.
# Learning uses 2000 images; the checks of bit-identity use 500 (eight
# batches an epoch: shuffling, partial batches and thread lanes all take
# part) to keep the suite quick under SANITIZE=1, where a training step
# is ~30x slower.
# Exits non-zero on any failure.
b=${1:-build}
t=$b/tests/train
rm -rf "$t" && mkdir -p "$t/idx" "$t/rep" "$t/gz" || exit 1
fail=0
ok()  { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }

"$b/mkdata" idx "$t/idx" --train 2000 --test 500 --seed 7 || exit 1
"$b/mkdata" idx "$t/rep" --train 500 --test 100 --seed 7 || exit 1
"$b/mkdata" idx "$t/gz" --train 500 --test 100 --seed 7 --gzip || exit 1
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
    run --data "$t/rep" --epochs 2 --seed 5 --threads $th --save "$t/s$th-1.npz" > /dev/null 2>&1
    run --data "$t/rep" --epochs 2 --seed 5 --threads $th --save "$t/s$th-2.npz" > /dev/null 2>&1
    if [ -s "$t/s$th-1.npz" ] && cmp -s "$t/s$th-1.npz" "$t/s$th-2.npz"; then
        ok "same seed, $th thread(s): identical weights"
    else
        bad "same seed, $th thread(s): identical weights"
    fi
done

run --data "$t/rep" --epochs 2 --seed 6 --threads 2 --save "$t/other.npz" > /dev/null 2>&1
if [ -s "$t/other.npz" ] && ! cmp -s "$t/s2-1.npz" "$t/other.npz"; then
    ok "another seed: other weights"
else
    bad "another seed: other weights"
fi

run --data "$t/rep" --epochs 1 --seed 5 --threads 2 --save "$t/half.npz" > /dev/null 2>&1
run --data "$t/rep" --epochs 2 --seed 5 --threads 2 --resume "$t/half.npz" \
    --save "$t/resumed.npz" > /dev/null 2>&1
if [ -s "$t/resumed.npz" ] && cmp -s "$t/s2-1.npz" "$t/resumed.npz"; then
    ok "resume from epoch 1: identical to an uninterrupted run"
else
    bad "resume from epoch 1: identical to an uninterrupted run"
fi

# Resume with weight decay and one thread: 3 epochs == 1 epoch, then
# --resume to 3.  The checkpoint's momentum buffers and RNG state matter:
# without the buffers, or with another RNG state, the resumed run ends
# elsewhere.
wd() { run --data "$t/rep" --seed 8 --threads 1 --weight-decay 0.01 "$@" > /dev/null 2>&1; }
wd --epochs 3 --save "$t/wd3.npz"
wd --epochs 1 --save "$t/wd1.npz"
wd --epochs 3 --resume "$t/wd1.npz" --save "$t/wd1-3.npz"
if [ -s "$t/wd3.npz" ] && cmp -s "$t/wd3.npz" "$t/wd1-3.npz"; then
    ok "resume with weight decay, 1 thread: identical to an uninterrupted run"
else
    bad "resume with weight decay, 1 thread: identical to an uninterrupted run"
fi
cp "$t/wd1.npz" "$t/nomom.npz"
for p in c1.weight c1.bias c3.weight c3.bias f5.weight f5.bias f6.weight f6.bias \
    out.weight out.bias; do                  # lenet's parameters (lenet info)
    "$b/mknpy" drop "$t/nomom.npz" "$t/nomom.npz" "$p.momentum" || bad "mknpy drop $p"
done
"$b/mknpy" array "$t/rng.npy" u8 4 7 && "$b/mknpy" put "$t/wd1.npz" "$t/rng.npz" _rng "$t/rng.npy" ||
    bad "mknpy put _rng"
wd --epochs 3 --resume "$t/nomom.npz" --save "$t/nomom3.npz"
wd --epochs 3 --resume "$t/rng.npz" --save "$t/rng3.npz"
if [ -s "$t/nomom3.npz" ] && ! cmp -s "$t/wd3.npz" "$t/nomom3.npz" &&
    [ -s "$t/rng3.npz" ] && ! cmp -s "$t/wd3.npz" "$t/rng3.npz"; then
    ok "resume without the momentum buffers, or with another RNG state: other weights"
else
    bad "resume without the momentum buffers, or with another RNG state: other weights"
fi

run --data "$t/gz" --epochs 2 --seed 5 --threads 2 --save "$t/gz.npz" > /dev/null 2>&1
if [ -s "$t/gz.npz" ] && cmp -s "$t/s2-1.npz" "$t/gz.npz"; then
    ok "gzip idx files: same result as plain"
else
    bad "gzip idx files: same result as plain"
fi

[ $fail = 0 ] && echo "train: all passed"
exit $fail
