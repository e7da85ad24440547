#!/bin/sh
# seeds.sh BUILD: the seed corpora of the fuzz harnesses, in BUILD/fuzz/seeds/NAME/,
# from the repository's own files: examples and the error corpus (compiler),
# the runtime's NumPy fixtures and the golden .npz files up to 8 KiB (npy,
# npz), and small synthetic data sets written by BUILD/mkdata (idx, cifar).
set -eu
b=$1
s=$b/fuzz/seeds
rm -rf "$s"
mkdir -p "$s/compiler" "$s/npy" "$s/npz" "$s/idx" "$s/cifar"

cp examples/*.net tests/errors/*.net "$s/compiler/"
cp tests/unit/data/*.npy "$s/npy/"
cp tests/unit/data/*.npz "$s/npz/"
find tests/golden -name '*.npy' -size -8k | while read -r f; do
    cp "$f" "$s/npy/$(echo "$f" | tr / _)"
done
find tests/golden -name '*.npz' -size -8k | while read -r f; do
    cp "$f" "$s/npz/$(echo "$f" | tr / _)"
done

# idx: the first byte is the harness's mode (0: the file as is, 1: gzip it).
tmp=$(mktemp -d)
mkdir -p "$tmp/plain" "$tmp/gz" "$tmp/cifar"
trap 'rm -rf "$tmp"' EXIT
"$b/mkdata" idx "$tmp/plain" --train 3 --test 2 --size 4 --seed 1 > /dev/null
"$b/mkdata" idx "$tmp/gz" --train 3 --test 2 --size 4 --seed 2 --gzip > /dev/null
for f in "$tmp"/plain/*; do
    n=$(basename "$f")
    { printf '\000'; cat "$f"; } > "$s/idx/raw-$n"
    { printf '\001'; cat "$f"; } > "$s/idx/gzip-$n"
done
for f in "$tmp"/gz/*; do
    { printf '\000'; cat "$f"; } > "$s/idx/gzfile-$(basename "$f")"
done

# cifar: two bytes choose where the input splits into two batch files.
"$b/mkdata" cifar10 "$tmp/cifar" --train 5 --test 1 --seed 3 > /dev/null
{ printf '\000\020'; cat "$tmp/cifar/data_batch_1.bin" "$tmp/cifar/test_batch.bin"; } > "$s/cifar/two"
{ printf '\200\000'; cat "$tmp/cifar/test_batch.bin"; } > "$s/cifar/one"
for d in "$s"/*; do echo "$(basename "$d"): $(ls "$d" | wc -l) seeds"; done
