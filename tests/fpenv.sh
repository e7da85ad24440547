#!/bin/sh
# fpenv.sh BUILD: subnormal floats are flushed to zero inside the generated
# code (x86 flavours: they cost microcode assists, e.g. 12 % of a
# 3,000-step lenet run when momenta decay through them) and the caller's
# floating-point control is restored after each call (tests/fpenv.c).
# Runs on x86 hosts (the default flavour there is avx512, avx2 or sse2,
# which all set it); neon and generic do not, and elsewhere it is skipped.
b=${1:-build}
t=$b/tests/fpenv
rm -rf "$t" && mkdir -p "$t" || exit 1
cat > "$t/fpnet.net" <<'NET'
network fpnet {
    input [16];
    dense out (units = 16);
    loss mse;
    train (batch = 4);
}
NET
case $(uname -m) in
x86_64 | i?86) ;;
*) echo "fpenv: skipped (not x86: the switch is MXCSR's)"; exit 0 ;;
esac
fail=0
for f in host avx2 sse2; do
    d=$t/$f
    mkdir -p "$d" || exit 1
    flag=
    [ $f = host ] || flag=--target=$f
    echo "== $f"
    # shellcheck disable=SC2086 # $flag, CNNC_CFLAGS: word lists
    "$b/cnnc" $flag "$t/fpnet.net" -o "$d/fpnet.c" &&
        ${CC:-cc} -std=c11 -O2 -march=native $CNNC_CFLAGS -pthread -Iruntime -I"$d" \
            -o "$d/fpenv" tests/fpenv.c "$d/fpnet.c" "$b/libcnnrt.a" -lz -lm &&
        "$d/fpenv" || { echo "FAIL $f"; fail=1; }
done
[ $fail = 0 ] && echo "fpenv: all passed"
exit $fail
