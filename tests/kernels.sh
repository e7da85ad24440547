#!/bin/sh
# kernels.sh CNNC: which kernel the cost rules give each layer (issue 5).
# The golden tests show that a layer computes the right thing whatever its
# kernel; this shows that the layers docs/KERNELS.md names take the kernel
# it says, so a change to a cost rule that quietly sends a layer back to a
# slower form fails here.  Generation only (no compiler run), for explicit
# targets, so the answer does not depend on the machine.  Each check looks
# for the kernel's functions in the generated C (NAME_fl: filters in lanes,
# NAME_wo*: outer-product weight gradient, NAME_dgm_*: data gradient as a
# GEMM, NAME_wny / NAME_d_wny: Winograd forward / data gradient,
# NAME_w4y / NAME_d_w4y: the same with F(4x4, 3x3), ...).
cnnc=${1:-build/cnnc}
d=${TMPDIR:-/tmp}/cnnc_kernels.$$
mkdir -p "$d" || exit 1
trap 'rm -rf "$d"' EXIT
fail=0

gen() { # TARGET NET.net -> $d/TARGET_NAME.c
    out=$d/$1_$(basename "$2" .net).c
    "$cnnc" --target="$1" "$2" -o "$out" || { echo "FAIL cnnc --target=$1 $2"; fail=1; }
}

# has TARGET NET WHAT REGEX: the generated C defines or calls REGEX
has() {
    if grep -Eq "$4" "$d/$1_$2.c"; then
        echo "ok   $1 $2: $3"
    else
        printf 'FAIL %s %s: %s (no match for %s)\n' "$1" "$2" "$3" "$4"
        fail=1
    fi
}

# lacks TARGET NET WHAT REGEX: ... does not (a file never generated fails)
lacks() {
    if [ ! -f "$d/$1_$2.c" ]; then
        printf 'FAIL %s %s: %s (not generated)\n' "$1" "$2" "$3"
        fail=1
    elif grep -Eq "$4" "$d/$1_$2.c"; then
        printf 'FAIL %s %s: %s (found %s)\n' "$1" "$2" "$3" "$4"
        fail=1
    else
        echo "ok   $1 $2: $3"
    fi
}

# before TARGET NET WHAT FIRST THEN: in the generated C, the first line
# matching FIRST comes before the first matching THEN
before() {
    a=$(grep -nE "$4" "$d/$1_$2.c" | head -1 | cut -d: -f1)
    z=$(grep -nE "$5" "$d/$1_$2.c" | head -1 | cut -d: -f1)
    if [ -n "$a" ] && [ -n "$z" ] && [ "$a" -lt "$z" ]; then
        echo "ok   $1 $2: $3"
    else
        printf 'FAIL %s %s: %s (%s at line %s, %s at line %s)\n' "$1" "$2" "$3" "$4" "${a:-none}" "$5" "${z:-none}"
        fail=1
    fi
}

cat > "$d/strided.net" <<'EOF'
network strided {
    input [3, 32, 32];
    conv c1 (filters = 16, kernel = 3, stride = 2, padding = zero(1), activation = relu);
    conv c2 (filters = 32, kernel = 3, stride = 2, padding = zero(1), activation = relu);
    flatten;
    dense out (units = 10);
    loss softmax_cross_entropy;
}
EOF

# Planes too small for a vector of 4x4 tiles but with two of 2x2 tiles:
# 12x12 on AVX-512 (9 tiles of 4x4, 36 of 2x2), 8x12 on AVX2 (6, 24).
for t in avx512:12 avx2:8; do
    cat > "$d/small_${t%:*}.net" <<EOF
network small_${t%:*} {
    input [16, ${t#*:}, 12];
    conv c0 (filters = 16, kernel = 3, padding = zero(1), activation = relu);
    conv c1 (filters = 16, kernel = 3, padding = zero(1), activation = relu);
    flatten;
    dense out (units = 10);
    loss softmax_cross_entropy;
}
EOF
done

for t in avx512 avx2; do
    gen $t bench/lenet.net
    has $t lenet "c3 forward: filters in lanes" '\bc3_fl\('
    has $t lenet "c1 forward: the flat-grid sweep" '\bc1_fw_[0-9]+\('
    lacks $t lenet "c1 (first layer): no data gradient kernel" '\bc1_(dg|dgm_[0-9]+)\('
    gen $t bench/cifar10_conv.net
    has $t lenet "f5: dense split by units" '\bf5_forward_units\('

    gen $t bench/cifar10_wide.net
    for l in c2 c3 c4; do
        has $t cifar10_wide "$l: Winograd F(4x4) forward" "\\b${l}_w4y\\("
        has $t cifar10_wide "$l: Winograd F(4x4) data gradient" "\\b${l}_d_w4y\\("
        has $t cifar10_wide "$l: Winograd weight gradient" "\\b${l}_wnw_[0-9_]+\\("
        has $t cifar10_wide "$l: its weight gradient on F(4x4) tiles" "\\b${l}_w4i\\((sw|xi), vw"
        lacks $t cifar10_wide "$l: no F(2x2) forward" "\\b${l}_wny\\("
    done
    lacks $t cifar10_wide "c1 (3 input maps): no Winograd" '\bc1_wny\('
    has $t cifar10_wide "c2-c4: the Winograd data gradient writes dx directly" 'float \*di = dx \+ \(size_t\)i \* (32768|16384);'
    has $t cifar10_wide "c1 weight gradient: outer tiles of 2 vectors of filters" '\bc1_wo[0-9]+_2\('
done
# c3 feeds a 2x2 max pool: on AVX-512 (rows of 14 fit a 16-float vector)
# the sparse data gradient (only the nonzero outputs of G, and a row
# gather); without loadm the flat GEMM and its gather.
for n in lenet cifar10_conv; do
    has avx512 $n "c3 data gradient: sparse, row gather" '\bc3_dgzr?\('
    has avx512 $n "c3 data gradient: groups of 4 outputs, runs of 8 lanes" 'const int x0 = q \* 4;'
    lacks avx512 $n "c3: no GEMM, no dcol gather" '\bc3_(dgm_[0-9]+|dgx)\('
    has avx2 $n "c3 data gradient: flat GEMM and gather (no loadm)" '\bc3_dgx\('
    lacks avx2 $n "c3: no sparse data gradient (no loadm)" '\bc3_dgz\('
done
# The same c3 before an average pool or an overlapping max pool: every
# output of G can be nonzero, so the compact GEMM and its row gather.
for p in "avgpool s4 (size = 2)" "maxpool s4 (size = 3, stride = 2)"; do
    sed "s/maxpool s4 (size = 2);/$p;/" bench/lenet.net > "$d/pooled.net"
    gen avx512 "$d/pooled.net"
    has avx512 pooled "c3 before $p: compact GEMM" '\bc3_dgm_[0-9]+\('
    has avx512 pooled "c3 before $p: row gather" '\bc3_dgr\('
    lacks avx512 pooled "c3 before $p: no sparse data gradient" '\bc3_dgz\('
done
# The sparse weight gradient: convs into a max pool whose windows do not
# overlap, 5 taps a row, 4 outputs a window (5 * 4 > 16 lanes); AVX-512
# only (cmpi); not before an average pool, nor for 3x3 kernels (3 * 4
# <= 16: cifar10_wide keeps Winograd's and the outer form).
for n in lenet cifar10_conv; do
    has avx512 $n "c1 weight gradient: sparse, from the pool's lists" '\bc1_wzl\('
    lacks avx512 $n "c1: no G, no scan of it" '\bc1_wz\('
    has avx512 $n "c3 weight gradient: sparse, from the pool's lists" '\bc3_wzl\('
    lacks avx512 $n "c3: no outer weight-gradient tiles" '\bc3_wo[0-9]+_[0-9]+\('
    lacks avx2 $n "no sparse weight gradient (no cmpi)" '\bc[13]_wz\('
    has avx512 $n "c3 sparse weight gradient: maps last, x transposed by permutes" 'xt \+ \(size_t\)p \* 6 \+ 16, o\)'
    has avx512 $n "c3: rows of 5 taps of 6 maps, 2 vectors (14 lanes)" 'maskz_loadu_ps\(\(__mmask16\)\(\(1u << 14\) - 1u\), xp \+ 16\)'
done
sed "s/maxpool s4 (size = 2);/avgpool s4 (size = 2);/" bench/lenet.net > "$d/avg.net"
gen avx512 "$d/avg.net"
lacks avx512 avg "c3 before an average pool: no sparse weight gradient" '\bc3_wz\('
has avx512 avg "c1 before a max pool: sparse weight gradient, lists" '\bc1_wzl\('
# not where the pool's windows overlap
has avx512 lenet "c3 (sparse data gradient): lists from the pool, scattered into GT" '\bc3_wzl\('
lacks avx512 lenet "c3: no G scan" '\bc3_wz\('
sed "s/maxpool s2 (size = 2, stride = 2);/maxpool s2 (size = 3, stride = 2);/" bench/lenet.net > "$d/pool32.net"
gen avx512 "$d/pool32.net"
lacks avx512 pool32 "c1 before overlapping windows: no lists" '\bc1_wzl?\('
sed "s/maxpool s2 (size = 2, stride = 2);/avgpool s2 (size = 2);/" "$d/avg.net" > "$d/avg2.net"
for t in avx512 avx2; do
    gen $t "$d/avg.net"
    gen $t "$d/avg2.net"
    has $t avg "c3 weight gradient (before an average pool): outer product" '\bc3_wo[0-9]+_[0-9]+\('
    has $t avg2 "c1 weight gradient (before an average pool): dot form" '\bc1_wg_[0-9]+x[0-9]+\('
done
lacks avx512 cifar10_wide "3x3 kernels: no sparse weight gradient" '_wz\('
# F4's input transform gathers its tiles with two-vector permutes where
# the flavour has them (rows of 8 tiles in c2, 4 in c3/c4: every w4i of
# the forward pass and the data gradient); else through dd
has avx512 cifar10_wide "F4 input transform: permutes of two rows" \
    'const __m512i ix0 = _mm512_setr_epi32\(0, 4, 8, 12, 16, 20, 24, 28, 0,'
lacks avx512 cifar10_wide "F4 input transform: no gather through dd" 'float dd\[[0-9]+\], sk'
has avx2 cifar10_wide "F4 input transform (avx2, no perm2): gather through dd" 'float dd\[[0-9]+\], sk'
# ... and reads x (or G) itself, its lane masks the zero padding: no staging
has avx512 cifar10_wide "F4 input transform: rows straight from x, masked" \
    'const int gr = 4 \* ty0 \+ 4 \* \(t / 4\) \+ k - 1;'
lacks avx512 cifar10_wide "F4: no staging copy" '_wns\('
has avx2 cifar10_wide "c2-c4 (avx2, zero padding): the staging pads x itself" 'const int gr = 4 \* ty0 \+ r - 1;'
# F4's output transform: rows of y from two-vector permutes (avx512), not
# through yb and ob
lacks avx512 cifar10_wide "F4 output transform: no scatter through yb" 'float yb\['
has avx512 cifar10_wide "F4 output transform: permutes into rows of y" '_mm512_mask_blend_ps\(0xccccu, '
has avx2 cifar10_wide "F4 output transform (avx2): through yb" 'float yb\['
# The Winograd weight gradient's end (gw += GT dU G) runs on vectors of
# filters in every SIMD flavour; generic keeps the scalar loops
has avx512 cifar10_wide "Winograd wgrad end: vectors of 16 filters" 'float o\[9\]\[16\];'
# With threads, the lanes take the convolutions' forward in chunks of
# samples as they come free, and f1's weight gradient (4 MiB of weights)
# in chunks of units after their share of the convolutions' backward;
# lenet's f5 (188 KiB) keeps fixed shares right after its rows
has avx512 cifar10_wide "conv forward: chunks of samples (lane_chunk)" 'lane_chunk\(c, 1, n, T, &j0, &j1\)'
before avx512 cifar10_wide "f1 weight gradient after the convolutions' backward" \
    'c1_backward_ref\)\(c, grads' 'f1_backward_units\(c, n, u, u \+ 8 < 256'
has avx512 cifar10_wide "conv gradients: lanes sum and step equal shares" 'lane_cut\(t \+ 1, T\)'
has avx512 lenet "f5 weight gradient: fixed shares" 'f5_backward_units\(c, n, lane_units\(120, 4, t, T\)'
lacks avx512 lenet "f5: no chunks of units" 'lane_grab'
has avx2 cifar10_wide "Winograd wgrad end (avx2): vectors of 8 filters" 'float o\[9\]\[8\];'
lacks avx512 cifar10_wide "Winograd wgrad end: no scalar dU G" 's \+= du\['
# The sparse backward of relu dense layers (AVX-512): lenet's f5 and f6
# (tiles of 4 and 6 vectors); not cifar10_mlp's h1 (3,072 inputs) nor h2
# (256 units: tiles of 2 vectors), nor a layer without relu (out).
has avx512 lenet "f5 backward: sparse" '\bf5_sp\('
has avx512 lenet "f6 backward: sparse" '\bf6_sp\('
lacks avx512 lenet "out (no relu): dense backward" '\bout_sp\('
gen avx512 bench/cifar10_mlp.net
has avx512 cifar10_mlp "h1, h2: dense backward rows" '\bh[12]_backward_rows\('
lacks avx512 cifar10_mlp "h1, h2: dense backward" '\bh[12]_sp\('
lacks avx2 lenet "no sparse dense backward (no cmpi)" '\bf[56]_sp\('
# rows of 28 fit the 32-float sweep tile: stored straight into y
has avx512 lenet "c1 forward: rows straight into y" '\bc1_fw_d6\('
has avx512 cifar10_conv "c1 forward: rows straight into y" '\bc1_fw_d6\('
lacks avx2 lenet "c1 forward (avx2: 32-float tile wider than a row by a vector): through S" '\bc1_fw_d[0-9]+\('
lacks avx512 cifar10_wide "c1 forward (tiles of one vector, half a 32-wide row): through S" '\bc1_fw_d[0-9]+\('
for t in avx512 avx2; do

    gen $t "$d/small_$t.net"
    has $t small_$t "c1 (under a vector of 4x4 tiles): Winograd F(2x2) forward" '\bc1_wny\('
    has $t small_$t "c1: F(2x2) data gradient" '\bc1_d_wny\('
    lacks $t small_$t "c1: no F(4x4)" '\bc1_(d_)?w4y\('

    gen $t examples/lenet5_1998.net
    has $t lenet5_1998 "c5 (kernel = its input): the dense kernels" '\bc5_(forward_units|fw)\('
    lacks $t lenet5_1998 "c5: no flat-grid sweep" '\bc5_fw_[0-9]+\('

    gen $t "$d/strided.net"
    for l in c1 c2; do
        has $t strided "$l (stride 2): fast, filters in lanes" "\\b${l}_fl\\("
        has $t strided "$l (stride 2): a reference twin beside it" "\\b${l}_forward_ref\\("
    done
done

[ "$fail" -eq 0 ] && echo "kernels: all as expected"
exit "$fail"
