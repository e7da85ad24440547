#!/bin/sh
# run.sh CNNC: the error corpus.  Each NAME.net here is compiled with
# `CNNC --check NAME.net` from inside this directory (so diagnostics name
# the file as `NAME.net`); its stderr must equal NAME.err byte for byte,
# its stdout must be empty and its exit status 1.  Adding a case is adding
# the two files.  Prints every failure with a diff, then a summary line;
# exits non-zero if any case failed.
set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 path/to/cnnc" >&2
    exit 2
fi
case $1 in
    /*) cnnc=$1 ;;
    *) cnnc=$(pwd)/$1 ;;
esac
if [ ! -x "$cnnc" ]; then
    echo "$0: $cnnc is not an executable" >&2
    exit 2
fi

cd "$(dirname "$0")" || exit 2
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

pass=0
fail=0
for net in *.net; do
    [ -e "$net" ] || continue
    name=${net%.net}
    "$cnnc" --check "$net" >"$tmp/out" 2>"$tmp/err"
    status=$?
    problem=""
    if [ ! -f "$name.err" ]; then
        problem="no $name.err"
    elif [ "$status" -ne 1 ]; then
        problem="exit status $status, expected 1"
    elif [ -s "$tmp/out" ]; then
        problem="unexpected output on stdout"
    elif ! cmp -s "$name.err" "$tmp/err"; then
        problem="stderr differs from $name.err"
    fi
    if [ -z "$problem" ]; then
        pass=$((pass + 1))
        continue
    fi
    fail=$((fail + 1))
    echo "FAIL $name: $problem"
    [ -f "$name.err" ] && diff -u "$name.err" "$tmp/err" | sed 's/^/    /'
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
