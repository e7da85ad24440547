#!/bin/sh
# neon.sh BUILD: the ARM NEON flavour (cnnc --target=neon) on this x86
# machine, as `make test-neon` runs it (after `make deps-neon`):
#  1. the golden suite (tests/golden/run.sh) with every case built by
#     aarch64-linux-gnu-gcc -O2 -Wall -Wextra -Wpedantic -Werror against
#     BUILD/neon/libcnnrt.a (the runtime cross-built by make), its programs
#     run under qemu-aarch64, fast kernels and reference twins
#     (CNNC_REFERENCE=1) both compared with PyTorch's committed answers;
#  2. every examples/*.net, generated for neon, compiles -Werror with
#     aarch64-linux-gnu-gcc and with clang --target=aarch64-linux-gnu.
# Prints "N passed, N failed" for each part; exits non-zero on any failure.
B=${1:-build}
XCC=${XCC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU:-qemu-aarch64 -L /usr/aarch64-linux-gnu}
WERROR="-std=c11 -Wall -Wextra -Wpedantic -Werror -O2"

for tool in "$XCC" "${QEMU%% *}"; do
    command -v "$tool" >/dev/null 2>&1 ||
        { echo "neon: $tool not found (make deps-neon installs it)"; exit 1; }
done

status=0
GOLDEN_TARGET=neon GOLDEN_RUN=$QEMU GOLDEN_OUT=$B/neon/golden \
    CC=$XCC CNNC_RUNTIME=$B/neon \
    CNNC_CFLAGS="-Wall -Wextra -Wpedantic -Werror" \
    CNNC=$B/cnnc NPZCMP=$B/npzcmp sh tests/golden/run.sh || status=1

out=$B/neon/examples
mkdir -p "$out"
pass=0
fail=0
for net in examples/*.net; do
    name=$(basename "$net" .net)
    ok=1
    "$B/cnnc" --target=neon "$net" -o "$out/$name.c" || ok=0
    # shellcheck disable=SC2086 # $XCC, $WERROR: word lists
    [ $ok = 1 ] && { $XCC $WERROR -c "$out/$name.c" -o "$out/$name.gcc.o" ||
        { echo "  $XCC rejects $out/$name.c"; ok=0; }; }
    # shellcheck disable=SC2086
    [ $ok = 1 ] && { clang --target=aarch64-linux-gnu $WERROR -c "$out/$name.c" \
        -o "$out/$name.clang.o" || { echo "  clang rejects $out/$name.c"; ok=0; }; }
    if [ $ok = 1 ]; then
        pass=$((pass + 1)); echo "ok   $name"
    else
        fail=$((fail + 1)); echo "FAIL $name"
    fi
done
echo "neon examples: $pass passed, $fail failed"
[ $fail = 0 ] || status=1
exit $status
