#!/bin/sh
# lanes.sh BUILD_DIR: how threads share a batch (emit_lanes.c).  Layers
# below a dense layer that splits its units go to the lanes in chunks of
# samples as they come free (lane_chunk); a big such layer's weight
# gradient goes in chunks of units after the lane's share of the layers
# below (lane_grab).  Which lane computes a sample or a unit changes from
# run to run; the result must not.  On a net with a conv split by
# samples, h (24 units: fixed shares of units) and out (10,923 units,
# 262,152 weights: chunks of 340 units, the last of them ending in a
# partial tile), batch 50 (lanes of 16 and 17 samples at 3 threads):
#   - the dense layers' gradients (grad) and their parameters after one
#     step are bit-identical for 1, 2 and 3 threads (the conv's gradient
#     is summed over the lanes, in an order that depends on the count);
#   - with 2 and 3 threads, five runs of three steps give byte-identical
#     weights.
# Exits non-zero on any failure.
b=${1:-build}
t=$b/tests/lanes
rm -rf "$t" && mkdir -p "$t" || exit 1
fail=0
ok()  { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }

cat > "$t/lanes.net" <<'EOF'
network lanes {
    input [1, 16, 16];
    conv    c (filters = 4, kernel = 3, padding = zero(1), activation = relu);
    flatten;
    dense   h (units = 24, activation = relu);
    dense   out (units = 10923);
    loss  softmax_cross_entropy;
    train (optimizer = sgd, lr = 0.05, momentum = 0.9, batch = 50, epochs = 1, seed = 1);
}
EOF
"$b/cnnc" "$t/lanes.net" -o "$t/lanes" || exit 1
net=$t/lanes
"$b/mknpy" array "$t/x.npy" f4 50,1,16,16 rand &&
    "$b/mknpy" array "$t/l.npy" i8 50 mod:10923 &&
    "$net" init --seed 4 --output "$t/w.npz" > /dev/null || exit 1
io="--weights $t/w.npz --input $t/x.npy --labels $t/l.npy"

# FILE.npz -> FILE.d.npz: without the conv's entries KEY$2 (and for grad
# the loss, summed over the lanes)
dense_only() {
    "$b/mknpy" drop "$1.npz" "$1.a.npz" "c.weight$2" > /dev/null &&
        "$b/mknpy" drop "$1.a.npz" "$1.b.npz" "c.bias$2" > /dev/null &&
        if [ -n "$2" ]; then
            "$b/mknpy" drop "$1.b.npz" "$1.d.npz" loss > /dev/null
        else
            cp "$1.b.npz" "$1.d.npz"
        fi
}

for th in 1 2 3; do
    # shellcheck disable=SC2086
    "$net" grad $io --threads $th --output "$t/g$th.npz" > /dev/null &&
        "$net" step $io --threads $th --steps 1 --output "$t/s$th.npz" > /dev/null &&
        dense_only "$t/g$th" .grad && dense_only "$t/s$th" "" || bad "grad and step, $th thread(s), run"
done
for th in 2 3; do
    if "$b/npzcmp" --atol 0 --rtol 0 "$t/g1.d.npz" "$t/g$th.d.npz" > "$t/g$th.cmp" 2>&1; then
        ok "h and out gradients: $th threads = 1 thread, bit for bit"
    else
        bad "h and out gradients: $th threads = 1 thread, bit for bit"; cat "$t/g$th.cmp"
    fi
    if "$b/npzcmp" --atol 0 --rtol 0 "$t/s1.d.npz" "$t/s$th.d.npz" > "$t/s$th.cmp" 2>&1; then
        ok "h and out after a step: $th threads = 1 thread, bit for bit"
    else
        bad "h and out after a step: $th threads = 1 thread, bit for bit"; cat "$t/s$th.cmp"
    fi
done
# the conv's gradient is there, and summed right (to rounding) at 3 threads
if "$b/npzcmp" --atol 1e-6 --rtol 1e-5 "$t/g1.npz" "$t/g3.npz" > "$t/g3all.cmp" 2>&1; then
    ok "every gradient at 3 threads: 1 thread's to rounding"
else
    bad "every gradient at 3 threads: 1 thread's to rounding"; cat "$t/g3all.cmp"
fi

for th in 2 3; do
    same=1
    for r in 1 2 3 4 5; do
        # shellcheck disable=SC2086
        "$net" step $io --threads $th --steps 3 --output "$t/r$th-$r.npz" > /dev/null || same=0
        cmp -s "$t/r$th-1.npz" "$t/r$th-$r.npz" || same=0
    done
    if [ $same = 1 ]; then
        ok "$th threads, five runs of three steps: byte-identical weights"
    else
        bad "$th threads, five runs of three steps: byte-identical weights"
    fi
done

[ $fail = 0 ] && echo "lanes: all passed"
exit $fail
