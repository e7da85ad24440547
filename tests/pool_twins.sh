#!/bin/sh
# pool_twins.sh BUILD: every SIMD flavour the host can run compiles a few
# networks of pooling layers (1-D, 2-D, 3-D; rows shorter and longer than
# a vector; strides 1 and 2; overlapping and tiling windows; windows over
# 10 inputs; every padding mode; activations), and tests/pool_twins.c runs
# each fast pool against its reference twin on values full of ties, signed
# zeros, infinities and NaN.  Pools with no fast kernel for a flavour are
# skipped (they have no twin).  Exits non-zero on any failure.
# TARGETS overrides the flavours, RUN prefixes the harness, e.g. neon on
# x86-64: TARGETS=neon CC=aarch64-linux-gnu-gcc CNNC_CFLAGS=-static \
#         RUN=qemu-aarch64 sh tests/pool_twins.sh build
b=${1:-build}
cc=${CC:-cc}
t=$b/tests/pool_twins
rm -rf "$t" && mkdir -p "$t" || exit 1
fail=0

net_2d='input [2, 9, 41];
    maxpool p0 (size = 2);
    avgpool p1 (size = [1, 3], stride = 1, padding = replicate([0, 1]));
    maxpool p2 (size = 3, stride = 2, padding = zero(1), activation = sigmoid);
    avgpool p3 (size = 2, stride = 1, padding = same);
    maxpool p4 (size = [1, 2], activation = relu);
    avgpool p5 (size = [2, 1]);'
net_wide='input [1, 5, 66];
    maxpool p0 (size = [1, 10], stride = [1, 2]);
    avgpool p1 (size = 2, stride = 1);
    maxpool p2 (size = 2, padding = zero([0, 1]));
    maxpool p3 (size = [1, 2], stride = 1, padding = reflect([0, 1]));
    avgpool p4 (size = [1, 3], stride = 2);
    maxpool p5 (size = [1, 2], stride = [1, 3]);'
net_1d='input [3, 70];
    maxpool p0 (size = 5, stride = 2);
    avgpool p1 (size = 2, stride = 1, padding = circular(1));
    maxpool p2 (size = 2);
    avgpool p3 (size = 2, activation = tanh);
    maxpool p4 (size = 2, stride = 1);
    maxpool p5 (size = 3, stride = 2, padding = zero(1));
    avgpool p6 (size = 2);'
net_3d='input [2, 4, 3, 36];
    maxpool p0 (size = 2, padding = zero([0, 1, 0]));
    avgpool p1 (size = [2, 1, 3], stride = 1);
    maxpool p2 (size = [1, 2, 2], stride = [1, 1, 2], activation = relu);
    avgpool p3 (size = [1, 1, 2]);'

flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
case $(uname -m) in
x86_64)
    targets="sse2 generic"
    case $flags in *" avx2 "*) case $flags in *" fma "*) targets="avx2 $targets" ;; esac ;; esac
    case $flags in *" avx512f "*" avx512vl "*) targets="avx512 $targets" ;; esac ;;
aarch64) targets="neon generic" ;;
*) targets="generic" ;;
esac
targets=${TARGETS:-$targets}

# check TARGET NAME LAYERS
check() {
    d=$t/$1-$2
    mkdir -p "$d"
    printf 'network t {\n    %s\n    flatten;\n    dense (units = 2);\n    loss softmax_cross_entropy;\n}\n' "$3" > "$d/t.net"
    "$b/cnnc" --target="$1" "$d/t.net" -o "$d/t.c" || { echo "FAIL $1 $2: cnnc"; fail=1; return; }
    pools=
    for p in $(sed -n 's/^[A-Z_ ]*static void \(p[0-9]*\)_forward_ref(.*/\1/p' "$d/t.c"); do
        k=A
        grep -q "c->arg_$p\[" "$d/t.c" && k=M
        grep -Eq " $p \(.*activation = (sigmoid|tanh)" "$d/t.net" && k=${k}S
        pools="$pools $k($p)"
    done
    if [ -z "$pools" ]; then
        echo "FAIL $1 $2: no fast pool"; fail=1; return
    fi
    # shellcheck disable=SC2086 # CNNC_CFLAGS: the sanitizer flags under SANITIZE=1
    $cc -std=c11 -O2 ${CNNC_CFLAGS:-} -D_POSIX_C_SOURCE=200809L -I"$d" -DNET_C="\"t.c\"" \
        -DPOOLS="$pools" -pthread -o "$d/twins" tests/pool_twins.c -lm ||
        { echo "FAIL $1 $2: compiling the harness"; fail=1; return; }
    # shellcheck disable=SC2086 # RUN: empty or a command and its words
    if ${RUN:-} "$d/twins" > "$d/out" 2>&1; then
        echo "ok   $1 $2:$pools"
    else
        echo "FAIL $1 $2"; sed 's/^/    /' "$d/out"; fail=1
    fi
}

for target in $targets; do
    check "$target" 2d "$net_2d"
    check "$target" wide "$net_wide"
    check "$target" 1d "$net_1d"
    check "$target" 3d "$net_3d"
done
[ "$fail" -eq 0 ] && echo "pool twins: all agree ($targets)"
exit "$fail"
