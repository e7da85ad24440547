#!/bin/sh
# mutate.sh [CNNC [MUTATE [DIVISOR]]]: thousands of deterministic mutations
# of every example, every golden network and every error case, each compiled
# with `cnnc --check` and `cnnc -o`; see tools/mutate.c for what must hold
# (exit status 0 or 1 only, a diagnostic inside the file, no file left
# behind on an error).  Valid networks get more mutants: theirs reach the
# shape checks and the emitter.  Then an I/O error half way must leave no
# output either.  Exits non-zero on any failure; failing mutants are printed
# and copied to build/mutate-fail/.  DIVISOR (default 1) makes that many
# times fewer mutants: a sanitized cnnc starts about 5x slower.
set -u
cnnc=${1:-build/cnnc}
mutate=${2:-build/mutate}
div=${3:-1}
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
"$mutate" "$cnnc" "$tmp" $((100 / div)) examples/*.net $((12 / div + 1)) tests/golden/*/net.net \
    $((8 / div + 1)) tests/errors/*.net
status=$?
if [ $status -ne 0 ] && ls "$tmp"/fail-* > /dev/null 2>&1; then
    mkdir -p build/mutate-fail
    cp "$tmp"/fail-* build/mutate-fail/
fi

# An I/O error half way (NAME.c cannot be written: it is a directory) is
# status 2 and leaves no NAME.h behind either.
mkdir "$tmp/io" "$tmp/io/x.c"
"$cnnc" examples/lenet.net -o "$tmp/io/x.c" 2> "$tmp/io.err"
io=$?
if [ $io -ne 2 ] || [ -e "$tmp/io/x.h" ] || [ "$(ls "$tmp/io")" != x.c ]; then
    echo "FAIL -o onto a directory: status $io, left: $(ls "$tmp/io" | tr '\n' ' ')"
    status=1
fi
exit $status
