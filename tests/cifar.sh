#!/bin/sh
# cifar.sh: examples/cifar10_conv.net trained end to end on a synthetic data
# set in the published CIFAR-10 binary layout (tools/mkdata.c), and the
# training log and plot:
#   - it learns: test accuracy >= 95 % after 4 epochs;
#   - the trained model classifies fresh samples given as .npy in the
#     model's [N, 3, 32, 32] order (mkdata --npy, bypassing the reader)
#     >= 95 %: so the reader took channels, rows and columns in the
#     published order, not just some consistent permutation of them;
#   - the tarball's cifar-10-batches-bin/ subdirectory is found;
#   - a directory with neither format, or CIFAR images for a 1x28x28 model,
#     exit 1 with a message naming the directory and what was expected;
#   - --log: the header, 7 fields per row, steps strictly increasing, epochs
#     1..E, values in range, the expected number of step and epoch rows,
#     epoch rows agreeing with the printed epoch lines, a resumed run
#     continuing the step count;
#   - --plot: an SVG with both panels, their axes, labels and legends
#     (rendered to PNG when rsvg-convert is installed).
# Exits non-zero on any failure.
b=${1:-build}
t=$b/tests/cifar
rm -rf "$t" && mkdir -p "$t/data/cifar-10-batches-bin" "$t/empty" || exit 1
fail=0
ok()  { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }

"$b/mkdata" cifar10 "$t/data/cifar-10-batches-bin" --train 2000 --test 500 --seed 11 \
    --npy "$t/fresh" || exit 1
"$b/cnnc" examples/cifar10_conv.net -o "$t/net" || exit 1
net=$t/net
"$net" train --data "$t/data" --epochs 4 --batch 32 --lr 0.02 --threads 2 --seed 2 --save "$t/w.npz" \
    --log "$t/log.csv" --log-every 10 --plot "$t/plot.svg" > "$t/train.out" 2>&1 ||
    { bad "train exits 0"; cat "$t/train.out"; }

grep -q '^cifar10_conv: 2000 training and 500 test images \[3, 32, 32\] (cifar10, ' "$t/train.out" &&
    ok "--data DIR finds DIR/cifar-10-batches-bin" || bad "--data DIR finds DIR/cifar-10-batches-bin"
acc=$(sed -n 's/^epoch 4\/4 .*test acc \([0-9.]*\)%.*/\1/p' "$t/train.out")
if [ -n "$acc" ] && awk "BEGIN { exit !($acc >= 95) }"; then
    ok "learns the synthetic CIFAR-10 classes (test acc $acc %)"
else
    bad "learns the synthetic CIFAR-10 classes (test acc '$acc' %, want >= 95)"; cat "$t/train.out"
fi

"$net" predict --weights "$t/w.npz" --input "$t/fresh-x.npy" --output "$t/p.npy" > /dev/null &&
    a=$("$b/accuracy" "$t/p.npy" "$t/fresh-y.npy" | awk '{ print $2 }')
if [ -n "$a" ] && awk "BEGIN { exit !($a >= 0.95) }"; then
    ok "classifies fresh [N, 3, 32, 32] .npy samples (accuracy $a)"
else
    bad "classifies fresh [N, 3, 32, 32] .npy samples (accuracy '$a', want >= 0.95)"
fi

# ---- errors
"$net" train --data "$t/empty" --epochs 1 > /dev/null 2> "$t/empty.err"
rc=$?
if [ $rc = 1 ] && grep -q "^net: $t/empty: no data set found: expected MNIST/Fashion-MNIST idx files .* or CIFAR-10 binary files (data_batch_1.bin .. data_batch_5.bin, test_batch.bin)$" "$t/empty.err"; then
    ok "a directory with neither format: exit 1, clear message"
else
    bad "a directory with neither format: exit $rc, $(cat "$t/empty.err")"
fi
"$b/cnnc" examples/lenet.net -o "$t/lenet" || exit 1
"$t/lenet" train --data "$t/data" --epochs 1 > /dev/null 2> "$t/lenet.err"
rc=$?
if [ $rc = 1 ] && grep -q "images are \[3, 32, 32\] but the model lenet expects input \[1, 28, 28\]" "$t/lenet.err"; then
    ok "CIFAR-10 images for a 1x28x28 model: exit 1, clear message"
else
    bad "CIFAR-10 images for a 1x28x28 model: exit $rc, $(cat "$t/lenet.err")"
fi

# ---- the CSV log: 2000 images at batch 32 = 63 steps an epoch (the last
# batch partial), 252 in all; a step row at every multiple of 10 (none is an
# epoch's last step, 63, 126, 189, 252): 25 step rows, and 4 epoch rows.
header=$(head -n 1 "$t/log.csv")
[ "$header" = "step,epoch,loss,train_acc,test_acc,images_per_s,seconds" ] &&
    ok "--log header" || bad "--log header: '$header'"
check=$(awk -F, -v epochs=4 '
    NR == 1 { next }
    NF != 7 { print "row " NR " has " NF " fields"; exit }
    $1 <= step { print "row " NR ": step " $1 " after " step; exit }
    $2 < epoch || $2 > epochs || $2 < 1 { print "row " NR ": epoch " $2; exit }
    $3 == "" || $3 < 0 || $3 > 100 { print "row " NR ": loss " $3; exit }
    $4 == "" || $4 < 0 || $4 > 1 { print "row " NR ": train_acc " $4; exit }
    $5 != "" && ($5 < 0 || $5 > 1) { print "row " NR ": test_acc " $5; exit }
    $6 == "" || $6 <= 0 { print "row " NR ": images_per_s " $6; exit }
    $7 == "" || $7 < seconds { print "row " NR ": seconds " $7; exit }
    { step = $1; epoch = $2; seconds = $7 }
    $5 != "" { ends++; if ($1 != 63 * $2) { print "epoch row at step " $1; exit } }
    $5 == "" { steps++; if ($1 % 10) { print "step row at step " $1; exit } }
    END { if (ends != 4 || steps != 25) print ends " epoch rows, " steps " step rows" }
' "$t/log.csv")
[ -z "$check" ] && ok "--log rows: 7 fields, steps increasing, values in range, 4 + 25 rows" ||
    bad "--log rows: $check"
last=$(tail -n 1 "$t/log.csv")
want=$(sed -n 's/^epoch 4\/4  loss \([0-9.]*\)  train acc \([0-9.]*\)%.*test acc \([0-9.]*\)%.*/\1 \2 \3/p' "$t/train.out")
if echo "$last $want" | awk -F'[, ]' '{ exit !($3 - $8 < 6e-5 && $8 - $3 < 6e-5 &&
        100 * $4 - $9 < 0.006 && $9 - 100 * $4 < 0.006 && 100 * $5 - $10 < 0.006 &&
        $10 - 100 * $5 < 0.006) }'; then
    ok "--log epoch row = the printed epoch line ($want)"
else
    bad "--log epoch row '$last' against the printed '$want'"
fi

"$net" train --data "$t/data" --epochs 1 --batch 32 --lr 0.02 --seed 2 --save "$t/half.npz" > /dev/null 2>&1
"$net" train --data "$t/data" --epochs 2 --batch 32 --lr 0.02 --seed 2 --resume "$t/half.npz" \
    --log "$t/resumed.csv" --log-every 10 > /dev/null 2>&1
rows=$(sed 1d "$t/resumed.csv" | cut -d, -f1,2 | tr '\n' ' ')
want="70,2 80,2 90,2 100,2 110,2 120,2 126,2 "
[ "$rows" = "$want" ] && ok "--log after --resume: steps continue (64..126 are epoch 2)" ||
    bad "--log after --resume: steps,epochs '$rows', want '$want'"
"$net" train --data "$t/data" --epochs 1 --log-every 10 > /dev/null 2> "$t/every.err"
[ $? = 2 ] && grep -q -- "--log-every needs --log" "$t/every.err" &&
    ok "--log-every alone: usage error" || bad "--log-every alone: usage error"

# ---- the SVG plot
svg=$t/plot.svg
miss=""
for s in '<?xml version="1.0"' '<svg xmlns="http://www.w3.org/2000/svg"' '</svg>' \
    '>loss</text>' '>accuracy</text>' '>optimizer steps' '>training loss, every 10 steps<' \
    '>training loss, mean of the epoch<' '>test accuracy, after each epoch<' '>100%</text>' \
    '>0%</text>' '>cifar10_conv on '; do
    grep -qF "$s" "$svg" || miss="$miss [$s]"
done
circles=$(grep -c '<circle' "$svg")
lines=$(grep -c '<polyline' "$svg")
# dots: 4 epochs x (loss, train acc, test acc) + 3 legend dots; polylines: 5 curves
[ -z "$miss" ] && [ "$circles" = 15 ] && [ "$lines" = 5 ] &&
    ok "--plot: both panels, axes, labels, legend; 5 curves, 12 epoch dots" ||
    bad "--plot: missing$miss; $circles circles, $lines polylines"
if command -v rsvg-convert > /dev/null; then
    rsvg-convert "$svg" -o "$t/plot.png" && [ -s "$t/plot.png" ] && ok "--plot renders (rsvg-convert)" ||
        bad "--plot renders (rsvg-convert)"
fi

[ $fail = 0 ] && echo "cifar: all passed"
exit $fail
