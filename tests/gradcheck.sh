#!/bin/sh
# gradcheck.sh: every example's backward pass agrees with central finite
# differences of its forward pass (`NET gradcheck`), and the check is able
# to fail: deliberately broken copies of generated code must be caught.
# Exits non-zero on any failure.
b=${1:-build}
cc=${CC:-cc}   # CNNC_CFLAGS (set by make SANITIZE=1) applies here too
t=$b/tests/gradcheck
rm -rf "$t" && mkdir -p "$t" || exit 1
fail=0

# check NAME: examples/NAME.net's gradcheck (two examples at a time)
check() {
    if "$b/cnnc" "examples/$1.net" -o "$t/$1" &&
        "$t/$1" gradcheck --samples 48 --seed 2 > "$t/$1.out" 2>&1; then
        echo "ok   $1: $(tail -n 1 "$t/$1.out")"
    else
        echo "FAIL $1"; cat "$t/$1.out"; return 1
    fi
}
. tests/jobs.sh
# shellcheck disable=SC2046 # the example names: a word list
jobs_run "$t" 2 check $(for net in examples/*.net; do basename "$net" .net; done)
[ "$jobs_fail" = 0 ] && [ "$jobs_pass" -gt 0 ] || fail=1

# mutant NAME FROM.c AWK-PROGRAM: the edited program must fail gradcheck,
# both with its SIMD kernels and with the reference twins (CNNC_REFERENCE),
# so every edit below breaks both.
mutant() {
    awk "$3" "$t/$2" > "$t/$1.c"
    if cmp -s "$t/$2" "$t/$1.c"; then
        echo "FAIL mutant $1: the edit did not apply"; fail=1; return
    fi
    # shellcheck disable=SC2086 # CNNC_CFLAGS: the sanitizer flags under SANITIZE=1
    $cc -std=c11 -O2 ${CNNC_CFLAGS:-} -DCNNC_MAIN -pthread -Iruntime -o "$t/$1" "$t/$1.c" \
        "$b/libcnnrt.a" -lz -lm || { fail=1; return; }
    for mode in simd reference; do
        if [ $mode = reference ]; then ref=1; else ref=; fi
        if CNNC_REFERENCE=$ref "$t/$1" gradcheck --samples 48 --seed 2 > "$t/$1.$mode.out" 2>&1
        then
            echo "FAIL mutant $1 ($mode kernels): gradcheck did not notice"; fail=1
        else
            echo "ok   mutant $1 ($mode kernels) caught:" \
                 "$(grep -c '^  [a-z]' "$t/$1.$mode.out") mismatches"
        fi
    done
}
"$b/cnnc" examples/symmetric.net -o "$t/symmetric.c" || exit 1
"$b/cnnc" examples/lenet5_1998.net -o "$t/lenet5_1998.c" || exit 1
mutant bias_3pct symmetric.c '{ gsub(/gb\[f\] \+= sb;/, "gb[f] += 1.03f * sb;") } 1'
mutant tie_averaged symmetric.c '{ gsub(/c1_tie\(gw, 1.0f\)/, "c1_tie(gw, 0.5f)") } 1'
mutant dtanh symmetric.c '{ gsub(/\*= 1.0f - y\[p\]/, "*= 1.0f - 0.5f * y[p]");
                            gsub(/\* \(1.0f - y\[at/, "* (1.0f - 0.5f * y[at") } 1'
mutant mask_ignored lenet5_1998.c '/c3_mask\[f \* 6 \+ ci\]\) continue;/ { n++; if (n == 2) next }
                                   /if \(!c3_mask\[q\]\)$/ { m++; if (m == 1) sub(/if .*/, "if (0)") } 1'

# A batch larger than the sparse kernels' list chunk (256 samples: the
# dense layers' weight gradient lists a unit's samples 256 at a time): the
# SIMD kernels' gradients equal the reference twins' (lenet, 300 images).
big() {
    "$b/mknpy" array "$t/big_x.npy" f4 300,1,28,28 rand &&
        "$b/mknpy" array "$t/big_l.npy" i8 300 mod:10 &&
        "$t/lenet" init --seed 3 --output "$t/big_w.npz" > /dev/null &&
        "$t/lenet" grad --weights "$t/big_w.npz" --input "$t/big_x.npy" --labels "$t/big_l.npy" \
            --output "$t/big_simd.npz" > /dev/null &&
        CNNC_REFERENCE=1 "$t/lenet" grad --weights "$t/big_w.npz" --input "$t/big_x.npy" \
            --labels "$t/big_l.npy" --output "$t/big_ref.npz" > /dev/null &&
        "$b/npzcmp" --atol 1e-5 --rtol 1e-3 "$t/big_ref.npz" "$t/big_simd.npz" > "$t/big.out" 2>&1
}
if big; then
    echo "ok   lenet, a batch of 300: SIMD gradients equal the reference twins'"
else
    echo "FAIL lenet, a batch of 300: SIMD gradients differ from the reference twins'"
    cat "$t/big.out" 2> /dev/null; fail=1
fi

[ $fail = 0 ] && echo "gradcheck: all passed"
exit $fail
