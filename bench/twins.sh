#!/bin/sh
# bench/twins.sh NET.net [BATCH]: microseconds per image of each layer's
# forward and backward function, SIMD kernel beside its reference twin, at
# batch 1 and BATCH (default 64), in thread CPU time (bench/twins.c).  A
# measurement, not a test.  TARGET=F compiles with --target=F (default:
# the host's best, built with -march=native as cnnc builds it); BUILD is
# the build directory (build).  Example:
#   sh bench/twins.sh bench/lenet.net
set -eu
net=$1
batch=${2:-64}
b=${BUILD:-build}
d=$b/bench/twins
mkdir -p "$d"
"$b/cnnc" ${TARGET:+--target=$TARGET} "$net" -o "$d/net.c"
name=$(sed -n 's/^void \([A-Za-z0-9_]*\)_destroy(.*/\1/p' "$d/net.c")
upper=$(echo "$name" | tr '[:lower:]' '[:upper:]')
# forward_lane's calls, then backward_lane's (two lines a call) as macros
fw=$(awk '/^static void forward_lane/,/^}/' "$d/net.c" | sed -n \
    -e 's/^ *(c->fast ? \([A-Za-z0-9_]*\)_forward : [A-Za-z0-9_]*)(c, i0, i1, \(.*\));$/F(\1, \2)/p' \
    -e 's/^ *\([A-Za-z0-9_]*\)_forward(c, i0, i1, \(.*\));$/P(\1, \2)/p' | tr '\n' ' ')
bw=$(awk '/^static void backward_lane/,/^}/ { if (/,$/) printf "%s", $0; else print }' "$d/net.c" |
    sed -n \
    -e 's/^ *(c->fast ? \([A-Za-z0-9_]*\)_backward : [A-Za-z0-9_]*)(c, grads, i0, i1, \(.*\));$/B(\1, \2)/p' \
    -e 's/^ *\([A-Za-z0-9_]*\)_backward(c, grads, i0, i1, \(.*\));$/Q(\1, \2)/p' | tr '\n' ' ')
native=-march=native
[ -n "${TARGET:-}" ] && native=
# shellcheck disable=SC2086 # $native: empty or one flag
${CC:-clang} -std=c11 -O2 $native -D_POSIX_C_SOURCE=200809L -I"$d" -DNET_C='"net.c"' \
    -DCTX="${name}_ctx" -DCREATE="${name}_create" -DDESTROY="${name}_destroy" \
    -DPARAM_COUNT="${upper}_PARAM_COUNT" -DIN_SIZE="${upper}_IN_SIZE" -DBATCH="$batch" \
    -DFORWARDS="$fw" -DBACKWARDS="$bw" -pthread -o "$d/twins" bench/twins.c -lm
echo "$net, batch 1 and $batch, target ${TARGET:-host}: microseconds per image (thread CPU time)"
"$d/twins"
