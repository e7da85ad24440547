#!/bin/sh
# examples.sh: every examples/*.net compiles with cnnc, its generated C is
# -Werror clean with gcc and clang, and the built program runs `info`,
# `init` and two training steps (`bench --steps 2`).  Prints "N passed,
# N failed"; exits non-zero on any failure.
cnnc=${1:-build/cnnc}
out=build/examples
mkdir -p "$out"
pass=0
fail=0
for net in examples/*.net; do
    name=$(basename "$net" .net)
    ok=1
    "$cnnc" "$net" -o "$out/$name.c" || ok=0
    for cc in gcc clang; do
        [ $ok = 1 ] || break
        $cc -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -c "$out/$name.c" -o "$out/$name.$cc.o" ||
            { echo "  $cc rejects $out/$name.c"; ok=0; }
    done
    [ $ok = 1 ] && { "$cnnc" "$net" -o "$out/$name" || ok=0; }
    [ $ok = 1 ] && { "$out/$name" info > "$out/$name.info" || ok=0; }
    [ $ok = 1 ] && { "$out/$name" init --seed 1 --output "$out/$name.npz" > /dev/null || ok=0; }
    # and it trains: two optimizer steps on a batch of 2 (bench's own data)
    [ $ok = 1 ] && { "$out/$name" bench --threads 1 --batch 2 --steps 2 > "$out/$name.bench" ||
        ok=0; }
    if [ $ok = 1 ]; then
        pass=$((pass + 1)); echo "ok   $name"
    else
        fail=$((fail + 1)); echo "FAIL $name"
    fi
done
echo "examples: $pass passed, $fail failed"
[ $fail = 0 ]
