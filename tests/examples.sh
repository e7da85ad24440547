#!/bin/sh
# examples.sh: every examples/*.net compiles with cnnc, its generated C is
# -Werror clean with gcc and clang, and the built program runs `info`,
# `init` and two training steps (`bench --steps 2`).  Two examples at a
# time (tests/jobs.sh).  Prints "N passed, N failed"; exits non-zero on
# any failure.  CNNC_TEST_WARNINGS=0 skips the -Werror compiles: make test SANITIZE=1
# sets it, since the C and the warning flags are the same as in the plain
# pass and only the program's build differs.
cnnc=${1:-build/cnnc}
out=build/examples

# example NAME: the checks above for examples/NAME.net
example() {
    "$cnnc" "examples/$1.net" -o "$out/$1.c" || { echo "FAIL $1"; return 1; }
    for cc in gcc clang; do
        [ "${CNNC_TEST_WARNINGS:-1}" = 0 ] && break
        $cc -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -c "$out/$1.c" -o "$out/$1.$cc.o" ||
            { echo "  $cc rejects $out/$1.c"; echo "FAIL $1"; return 1; }
    done
    if "$cnnc" "examples/$1.net" -o "$out/$1" &&
        "$out/$1" info > "$out/$1.info" &&
        "$out/$1" init --seed 1 --output "$out/$1.npz" > /dev/null &&
        # and it trains: two optimizer steps on a batch of 2 (bench's own data)
        "$out/$1" bench --threads 1 --batch 2 --steps 2 > "$out/$1.bench"; then
        echo "ok   $1"
    else
        echo "FAIL $1"
        return 1
    fi
}

names=$(for net in examples/*.net; do basename "$net" .net; done)
. tests/jobs.sh
# shellcheck disable=SC2086 # $names: a word list
jobs_run "$out" 2 example $names
echo "examples: $jobs_pass passed, $jobs_fail failed"
[ "$jobs_fail" = 0 ] && [ "$jobs_pass" -gt 0 ]
