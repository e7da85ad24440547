#!/bin/sh
# install.sh: `make install DESTDIR=... PREFIX=...` puts cnnc, the runtime
# library and headers and the man page under DESTDIR/PREFIX, and the
# installed cnnc builds a model from a directory outside the source tree,
# finding the runtime under PREFIX/lib on its own (the prefix is not where
# the build expected it: DESTDIR moves it, so only the lookup relative to
# the executable can find it).  The man page renders with `man -l`.
# Exits non-zero on any failure.
make=${1:-make}
b=${2:-build}
root=$(cd "$b" && pwd)/tests/install/root
prefix=/opt/cnnc-test
p=$root$prefix
fail=0
ok()  { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }

rm -rf "$root" && mkdir -p "$root" || exit 1
$make -s install DESTDIR="$root" PREFIX="$prefix" > "$root/../install.log" 2>&1 ||
    { cat "$root/../install.log"; echo "FAIL make install"; exit 1; }
miss=""
for f in bin/cnnc lib/libcnnrt.a include/cnnrt/cnnrt.h include/cnnrt/cnnrt_model.h \
    share/man/man1/cnnc.1; do
    [ -s "$p/$f" ] || miss="$miss $f"
done
[ -z "$miss" ] && [ -x "$p/bin/cnnc" ] && ok "make install: bin, lib, include, man1 under DESTDIR/PREFIX" ||
    bad "make install: missing$miss"

if command -v man > /dev/null; then
    out=$(MANWIDTH=80 man -l "$p/share/man/man1/cnnc.1" 2> "$root/man.err")
    if echo "$out" | grep -q "^EXIT STATUS" && echo "$out" | grep -q "CNNC_RUNTIME" &&
        echo "$out" | grep -q -- "--emit=dot" && ! grep -q . "$root/man.err"; then
        ok "man -l cnnc.1 renders (options, environment, exit status)"
    else
        bad "man -l cnnc.1: $(cat "$root/man.err")"
    fi
fi

work=$(mktemp -d /tmp/cnnc-install-test.XXXXXX) || exit 1
cp examples/lenet.net "$work/x.net"
(
    cd "$work" || exit 1
    unset CNNC_RUNTIME
    "$p/bin/cnnc" x.net -o out/x > build.log 2>&1 || { cat build.log; exit 1; }
    ./out/x info > info.txt && grep -q "total parameters: 61706" info.txt || exit 1
    ./out/x init --seed 1 --output w.npz > /dev/null || exit 1
    # by hand, as a user would; CNNC_CFLAGS adds the sanitizers under SANITIZE=1
    # shellcheck disable=SC2086
    "$p/bin/cnnc" x.net -o y.c && cc -std=c11 -O2 ${CNNC_CFLAGS:-} -DCNNC_MAIN y.c \
        "$p/lib/libcnnrt.a" -lz -lm -pthread -o y && ./y info > /dev/null
) && ok "installed cnnc builds outside the tree (runtime found under PREFIX/lib; by hand too)" ||
    bad "installed cnnc builds outside the tree"
rm -rf "$work"

[ $fail = 0 ] && echo "install: all passed"
exit $fail
