#!/bin/sh
# summary.sh: cnnc --summary and --emit=dot.
#   - tests/summary/small.net prints exactly small.summary and small.dot
#     (written by hand).  Its arithmetic: conv c reads [2, 8, 8] with 3
#     filters 3x3, zero(1) -> [3, 8, 8]: 3*2*9 + 3 = 57 parameters;
#     2*64*3*2*9 = 6912 FLOPs of multiply-adds + 192 bias adds + 192 relu =
#     7296; 192*10*4 = 7680 bytes at batch 10.  maxpool 2 -> [3, 4, 4]:
#     48 windows of 4 = 192 FLOPs, 1920 bytes.  flatten: 0.  dense d 5, no
#     bias: 48*5 = 240 parameters, 480 FLOPs, 200 bytes.  Totals 297, 7968
#     (79,680 per batch of 10), 9800 bytes = 9.6 KiB.
#   - every example's total equals PyTorch's count (summary/params_pytorch.txt);
#     cifar10_conv has 62,006 parameters and 1,322,770 FLOPs per sample,
#     computed here from the layer shapes.
#   - the dot output of every example has one node per layer plus input and
#     loss, and renders with `dot -Tpng` when Graphviz is installed.
# Exits non-zero on any failure.
cnnc=${1:-build/cnnc}
out=build/tests/summary
mkdir -p "$out" || exit 1
fail=0
ok()  { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }

for f in summary dot; do
    flag=--summary
    [ $f = dot ] && flag=--emit=dot
    if "$cnnc" $flag tests/summary/small.net > "$out/small.$f" 2>&1 &&
        diff -u tests/summary/small.$f "$out/small.$f"; then
        ok "small.net $flag: exact output"
    else
        bad "small.net $flag: exact output"
    fi
done

for net in examples/*.net; do
    name=$(basename "$net" .net)
    want=$(awk -v n="$name" '$1 == n { print $2 }' tests/summary/params_pytorch.txt)
    got=$("$cnnc" --summary "$net" | awk '$1 == "total" { print $2 }')
    if [ -z "$want" ]; then
        bad "$name: no PyTorch count in tests/summary/params_pytorch.txt (see its README)"
    elif [ "$got" = "$want" ]; then
        ok "$name: $got parameters, as PyTorch counts"
    else
        bad "$name: --summary says '$got' parameters, PyTorch $want"
    fi
done

# cifar10_conv from its shapes: conv 3->6 k5 on 32x32 (28x28 out), pool,
# conv 6->16 k5 on 14x14 (10x10 out), pool, dense 400->120->84->10.
params=$(( (3*6*25 + 6) + (6*16*25 + 16) + (400*120 + 120) + (120*84 + 84) + (84*10 + 10) ))
flops=$(( 2*28*28*6*3*25 + 2*28*28*6 + 6*14*14*4 + 2*10*10*16*6*25 + 2*10*10*16 + 16*5*5*4 \
        + 2*400*120 + 2*120 + 2*120*84 + 2*84 + 2*84*10 + 10 ))
s=$("$cnnc" --summary examples/cifar10_conv.net)
p=$(echo "$s" | sed -n 's/^parameters: *\([0-9,]*\) .*/\1/p' | tr -d ,)
f=$(echo "$s" | sed -n 's/^forward FLOPs: *\([0-9,]*\) per sample.*/\1/p' | tr -d ,)
[ "$params" = 62006 ] && [ "$p" = "$params" ] && ok "cifar10_conv: 62,006 parameters" ||
    bad "cifar10_conv: parameters '$p', want $params (= 62006)"
[ "$f" = "$flops" ] && ok "cifar10_conv: $flops forward FLOPs per sample" ||
    bad "cifar10_conv: forward FLOPs '$f', want $flops"

for net in examples/*.net tests/summary/small.net; do
    name=$(basename "$net" .net)
    "$cnnc" --emit=dot "$net" > "$out/$name.dot" || { bad "$name: --emit=dot"; continue; }
    layers=$("$cnnc" --summary "$net" | awk '/^total/ { t = 0 } t { n++ } /^input/ { t = 1 } END { print n }')
    nodes=$(grep -c '^  "[^"]*" \[label=' "$out/$name.dot")
    edges=$(grep -c '^  "[^"]*" -> "[^"]*" \[label=" \[[0-9, ]*\]"\];$' "$out/$name.dot")
    if [ "$nodes" != $((layers + 2)) ] || [ "$edges" != $((layers + 1)) ]; then
        bad "$name: dot has $nodes nodes and $edges shape-labelled edges for $layers layers"
    elif command -v dot > /dev/null && ! dot -Tpng "$out/$name.dot" -o "$out/$name.png"; then
        bad "$name: dot -Tpng rejects the output"
    else
        ok "$name: dot graph of $layers layers$(command -v dot > /dev/null && echo ', renders')"
    fi
done

[ $fail = 0 ] && echo "summary: all passed"
exit $fail
