#!/bin/sh
# mpi.sh: data-parallel training over MPI (cnnc --mpi, issue 7) with 2 and 3
# ranks on this machine (mpirun --oversubscribe, loopback only).  Run by
# `make test` when mpicc exists (make mpi-deps installs Open MPI).
#   - without --mpi nothing links MPI; with it the program links libmpi;
#     a program built without it, started by mpirun, warns that each copy
#     trains alone;
#   - equivalence: cifar10_wide trained by 2 ranks on CIFAR-layout data
#     (global batch 32, slices of 16; the last batch of 3 split 2 + 1)
#     equals one process with batch 32 within atol 5e-5 + rtol 1e-4 on
#     every parameter and momentum buffer; a small mse network on idx data
#     likewise on 2 ranks (also with 2 threads each, and with batch 1: rank
#     1 idle), and on 3 ranks with batch 5 (slices 2, 2, 1), weight decay
#     and 2 epochs; rank 0's --log holds one process's rows;
#   - each rank reads only its records: with CNNRT_DATA_STATS=1 every rank
#     reports the records it read; 2 ranks (batch 16) and 3 ranks (batch 5)
#     read exactly their slices' records every epoch (counts computed here
#     from the slice rule) and rank r of P its 1/P slice of the test set;
#     plain and gzip idx files give the same bytes; on 8000 CIFAR images
#     (24.6 MB) each of 2 ranks peaks at least 8000 kB below one rank
#     (measured: 38 MB against 25 MB);  a rank that loaded everything fails
#     these four checks (tried by hand; the equivalence tests do not see it);
#   - the test can fail: the same comparison rejects an exchange that drops
#     rank 1's gradient and one that averages without the slice weights
#     (runtime/mpi/cnnrt_mpi.c built with CNNRT_MPI_MUTANT=1, 2), and an
#     exchange that sends nothing stops the job at the end of the epoch
#     (the ranks' parameters differ; MUTANT=3);
# Under SANITIZE=1 (CNNC_CFLAGS with -fsanitize) a tiny CIFAR network takes
# cifar10_wide's place, on 67 images instead of 323 (clang takes 15 s to
# build cifar10_wide with ASan, and a step is ~30x slower).
#   - two runs give the same bytes (also started through a hostfile); 2
#     epochs equal 1 epoch, --save, then --resume to 2, bit for bit;
#     --resume and --save need only exist for rank 0 (each rank gets its
#     own command line: mpirun A : B);
#   - rank 0 alone prints: one header, one line per epoch; eval under MPI
#     prints what one process prints;
#   - failures end the job with rank 0's message, never a hang (every
#     mpirun runs under `timeout`): a rank without its data directory, a
#     rank whose data differ, a rank whose gzip file is truncated (the
#     data check's sampled records), a bad record that one rank meets when
#     it reads epoch 1's records, rank 0's --save failing, a rank killed with
#     SIGKILL mid-training (whose last checkpoint still loads), a rank
#     stopped with SIGSTOP (CNNRT_MPI_TIMEOUT=2);
#   - bench under MPI prints the exchange's bytes and time.
# Exits non-zero on any failure.
b=${1:-build}
t=$b/tests/mpi
rm -rf "$t" && mkdir -p "$t/data" "$t/idx" || exit 1
fail=0
ok()  { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
die() { echo "mpi.sh: setup failed: $*"; exit 1; }

# CI runs as root, which Open MPI refuses without these; no network.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
# Open MPI's libraries keep memory to the end: not leaks of ours.
printf 'leak:libmpi.so\nleak:libopen-pal.so\nleak:libopen-rte.so\nleak:libpmix.so\nleak:libhwloc.so\nleak:libevent\nleak:mca_\n' \
    > "$t/lsan.supp"
export LSAN_OPTIONS="suppressions=$(cd "$t" && pwd)/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# (libmpi has no frame pointers: the full unwind finds the frames to match)
[ -z "${ASAN_OPTIONS:-}" ] || export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0"
mpi() { timeout -k 5 "${LIMIT:-300}" mpirun --oversubscribe "$@"; }
# The tolerance: about 10x what one process shows between --threads 1
# and 2 (a reordering of the same float sums: 7e-8 to 8e-8 on the smooth
# cifar10_wide, --seed 1-5), 10,000x below what the broken exchanges below
# give.  The networks compared are smooth (tanh, average pooling): with
# relu and max pooling, a window whose two largest inputs are closer than
# the rounding picks the other input once the sums are reordered, and that
# moved c2's momenta by up to 3e-4 in the epoch (Winograd F(4x4) in c2-c4;
# --seed 1, 3 and 5 of 1-5, even against --threads 2, which splits each
# batch as the 2 ranks do).  MPI_SEED=N runs the comparison with --seed N.
ATOL=1e-6
RTOL=1e-5

cat > "$t/tiny.net" <<'EOF'
network tiny {
    input [3, 32, 32];
    conv    c1 (filters = 4, kernel = 3, stride = 2, activation = tanh);
    avgpool p1 (size = 3);
    flatten;
    dense   out (units = 10);
    loss  softmax_cross_entropy;
    train (optimizer = sgd, lr = 0.05, momentum = 0.9, batch = 16, epochs = 1, seed = 1);
}
EOF
case "${CNNC_CFLAGS:-}" in
*-fsanitize*) nwide=67 wname=tiny wnet=$t/tiny.net ;;
*) nwide=323 wname=cifar10_wide wnet=$t/cifar10_wide.net ;;
esac
# cifar10_wide's layers and kernels, made smooth (see the tolerance)
sed 's/activation = relu/activation = tanh/; s/^\( *\)maxpool/\1avgpool/' examples/cifar10_wide.net \
    > "$t/cifar10_wide.net" || die "cifar10_wide.net"
"$b/mkdata" cifar10 "$t/data" --train $nwide --test 64 --seed 3 > /dev/null || die mkdata
"$b/mkdata" idx "$t/idx" --train 203 --test 50 --seed 4 > /dev/null || die mkdata
cat > "$t/small.net" <<'EOF'
network small {
    input [1, 28, 28];
    conv    c1 (filters = 4, kernel = 5, stride = 2, activation = tanh);
    flatten;
    dense   out (units = 10);
    loss  mse;
    train (optimizer = sgd, lr = 0.1, momentum = 0.5, batch = 16, epochs = 2, seed = 1);
}
EOF
"$b/cnnc" "$wnet" -o "$t/${wname}_1" && "$b/cnnc" --mpi "$wnet" -o "$t/$wname" || die "cnnc $wname"
"$b/cnnc" "$t/small.net" -o "$t/small_1" && "$b/cnnc" --mpi "$t/small.net" -o "$t/small" ||
    die "cnnc small"
for k in 1 2 3; do
    CNNC_RUNTIME=$b/mutant$k "$b/cnnc" --mpi "$t/small.net" -o "$t/mutant$k" || die "cnnc mutant $k"
done
wide=$t/$wname
small=$t/small

# ---- linking
if ! nm "$b/libcnnrt.a" 2>/dev/null | grep -q ' U MPI_' && ! ldd "$t/${wname}_1" | grep -q libmpi &&
    ldd "$wide" | grep -q libmpi; then
    ok "MPI is linked only with --mpi (libcnnrt.a calls no MPI_*)"
else
    bad "MPI is linked only with --mpi"
fi
mpi -np 2 "$t/small_1" train --data "$t/idx" --epochs 1 --threads 1 > /dev/null 2> "$t/plain.err"
[ "$(grep -c "^small_1: warning: started by mpirun as one of 2 processes, but built without cnnc --mpi: each trains alone$" "$t/plain.err")" = 2 ] &&
    ok "a program built without --mpi under mpirun: a warning from each copy" ||
    bad "a program built without --mpi under mpirun: $(cat "$t/plain.err")"
"$b/cnnc" --mpi examples/lenet.net -o "$t/x.c" > /dev/null 2> "$t/x.err"
[ $? = 2 ] && grep -q "^cnnc: --mpi needs -o NAME" "$t/x.err" && [ ! -e "$t/x.c" ] &&
    ok "cnnc --mpi -o NAME.c: usage error" || bad "cnnc --mpi -o NAME.c: usage error ($(cat "$t/x.err"))"

# ---- equivalence with one process: CMP REF FILE LABEL [npzcmp exit wanted]
worst() { sed -n 's/.*max abs err \([^;]*\).*/\1/p' "$1" | sort -g | tail -n 1; }
same() {
    "$b/npzcmp" --atol $ATOL --rtol $RTOL "$1" "$2" > "$2.cmp"
    rc=$?
    if [ $rc = "${4:-0}" ]; then
        ok "$3 (max abs difference $(worst "$2.cmp"))"
    else
        bad "$3 (npzcmp exit $rc, max abs difference $(worst "$2.cmp"))"
        [ $rc = 0 ] || grep MISMATCH "$2.cmp" | head -n 3
    fi
}
W="train --data $t/data --epochs 1 --batch 32 --lr 0.01 --momentum 0.9 --seed ${MPI_SEED:-5}"
"$t/${wname}_1" $W --threads 1 --save "$t/w1.npz" > "$t/w1.out" 2>&1 || bad "$wname, one process"
"$t/${wname}_1" $W --threads 2 --save "$t/w1t2.npz" > /dev/null 2>&1 || bad "$wname, one process, 2 threads"
mpi -np 2 "$wide" $W --threads 1 --save "$t/w2.npz" > "$t/w2.out" 2> "$t/w2.err" ||
    { bad "$wname, 2 ranks: exit 0"; cat "$t/w2.err"; }
same "$t/w1.npz" "$t/w2.npz" "$wname: 2 ranks = one process, within $ATOL + $RTOL |x|"
"$b/npzcmp" --atol 0 --rtol 0 "$t/w1.npz" "$t/w1t2.npz" > "$t/w1t2.cmp"
"$b/npzcmp" --atol 0 --rtol 0 "$t/w1t2.npz" "$t/w2.npz" > "$t/w2t2.cmp"
echo "     (for scale: one process, --threads 1 against 2: $(worst "$t/w1t2.cmp");" \
    "2 ranks against one process with 2 threads: $(worst "$t/w2t2.cmp"))"
lines=$(grep -c . "$t/w2.out")
grep -q "^$wname: $nwide training and 64 test images"' .*, 2 ranks (slices of 16), 1 thread each$' \
    "$t/w2.out" && [ "$lines" = 3 ] && [ "$(grep -c '^epoch 1/1 ' "$t/w2.out")" = 1 ] &&
    ok "rank 0 alone prints: header, epoch line, saved" || bad "rank 0 alone prints: $(cat "$t/w2.out")"
l1=$(sed -n 's/^epoch 1\/1  \(loss [0-9.]*  train acc [0-9.]*%  test loss [0-9.]*  test acc [0-9.]*%\).*/\1/p' "$t/w1.out")
l2=$(sed -n 's/^epoch 1\/1  \(loss [0-9.]*  train acc [0-9.]*%  test loss [0-9.]*  test acc [0-9.]*%\).*/\1/p' "$t/w2.out")
[ -n "$l1" ] && [ "$l1" = "$l2" ] && ok "the epoch line's figures are one process's ($l2)" ||
    bad "the epoch line: '$l2', one process '$l1'"

S="train --data $t/idx --batch 16 --epochs 2 --seed 2"
"$t/small_1" $S --threads 1 --save "$t/s1.npz" > /dev/null 2>&1 || bad "mse network, one process"
mpi -np 2 "$small" $S --threads 1 --save "$t/s2.npz" > /dev/null 2>&1 || bad "mse network, 2 ranks: exit 0"
same "$t/s1.npz" "$t/s2.npz" "mse network: 2 ranks = one process"
"$t/small_1" train --data $t/idx --batch 1 --epochs 1 --threads 1 --save "$t/b1.npz" \
    --log "$t/b1.csv" --log-every 50 > /dev/null 2>&1
mpi -np 2 "$small" train --data $t/idx --batch 1 --epochs 1 --threads 1 --save "$t/b2.npz" \
    --log "$t/b2.csv" --log-every 50 > /dev/null 2>&1
same "$t/b1.npz" "$t/b2.npz" "batch 1 on 2 ranks (rank 1 idle every step) = one process"
# the log: the same rows, step and epoch equal, loss and train_acc within 1e-5
logdiff=$(paste -d, "$t/b1.csv" "$t/b2.csv" | awk -F, 'NR > 1 {
    d3 = $3 - $10; d4 = $4 - $11
    if ($1 != $8 || $2 != $9 || d3 * d3 > 1e-10 || d4 * d4 > 1e-10) print "row " NR ": " $0 }
    END { if (NR != 6) print NR " lines" }')
[ -z "$logdiff" ] && ok "--log on 2 ranks: rank 0 writes one process's rows (step, epoch, loss, train_acc)" ||
    bad "--log on 2 ranks: $logdiff"
"$t/small_1" $S --threads 2 --save "$t/s1t.npz" > /dev/null 2>&1
mpi -np 2 "$small" $S --threads 2 --save "$t/s2t.npz" > /dev/null 2>&1
same "$t/s1t.npz" "$t/s2t.npz" "2 ranks of 2 threads = one process of 2 threads"
C="train --batch 5 --lr 0.02 --momentum 0.9 --weight-decay 0.01 --seed 9 --threads 1"
"$t/small_1" $C --data $t/idx --epochs 2 --save "$t/c1.npz" > /dev/null 2>&1 || bad "small, one process"
mpi -np 3 "$small" $C --data $t/idx --epochs 2 --save "$t/c3.npz" > /dev/null 2> "$t/c3.err" ||
    { bad "small, 3 ranks: exit 0"; cat "$t/c3.err"; }
same "$t/c1.npz" "$t/c3.npz" "3 ranks, batch 5 (last 3: 1 + 1 + 1), weight decay, 2 epochs = one process"

# ---- each rank reads only its records (CNNRT_DATA_STATS=1: every rank
# says on stderr how many records it read, and its peak resident memory)
# want N B P R: the records rank R of P uses per epoch of N in batches of B
want() { awk -v n=$1 -v b=$2 -v p=$3 -v r=$4 'BEGIN { for (i = 0; i < n; i += b) {
    m = n - i < b ? n - i : b; s += int(m / p) + (r < m % p) } print s }'; }
reads() {   # reads FILE NP N_TRAIN BATCH EPOCHS N_TEST: every rank's lines as wanted
    r=0
    while [ $r -lt $2 ]; do
        w=$(want $3 $4 $2 $r) e=1
        grep -q "^small: rank $r of $2: read $(want $6 $6 $2 $r) of the $6 test records$" "$1" || return 1
        while [ $e -le $5 ]; do
            grep -q "^small: rank $r of $2: epoch $e: read $w of the $3 training records$" "$1" || return 1
            e=$((e + 1))
        done
        r=$((r + 1))
    done
}
CNNRT_DATA_STATS=1 mpi -np 2 "$small" $S --threads 1 --save "$t/rd2.npz" > /dev/null 2> "$t/rd2.err"
reads "$t/rd2.err" 2 203 16 2 50 && cmp -s "$t/s2.npz" "$t/rd2.npz" &&
    ok "2 ranks read $(want 203 16 2 0) and $(want 203 16 2 1) of the 203 training records each epoch, 25 of the 50 test records" ||
    { bad "2 ranks: records read"; cat "$t/rd2.err"; }
CNNRT_DATA_STATS=1 mpi -np 3 "$small" $C --data $t/idx --epochs 2 --save "$t/rd3.npz" > /dev/null 2> "$t/rd3.err"
reads "$t/rd3.err" 3 203 5 2 50 && cmp -s "$t/c3.npz" "$t/rd3.npz" &&
    ok "3 ranks, batch 5: $(want 203 5 3 0), $(want 203 5 3 1), $(want 203 5 3 2) training records each epoch" ||
    { bad "3 ranks: records read"; cat "$t/rd3.err"; }
# gzip idx files: decompressed once per epoch, only the records kept
mkdir -p "$t/gz" && "$b/mkdata" idx "$t/gz" --train 203 --test 50 --seed 4 --gzip > /dev/null || die mkdata
S_GZ=$(echo "$S" | sed "s|$t/idx|$t/gz|")
CNNRT_DATA_STATS=1 mpi -np 2 "$small" $S_GZ --threads 1 --save "$t/gz2.npz" > /dev/null 2> "$t/gz2.err"
reads "$t/gz2.err" 2 203 16 2 50 && cmp -s "$t/s2.npz" "$t/gz2.npz" &&
    ok "gzip idx files: the same records read, the same bytes as the plain files" ||
    { bad "gzip idx files on 2 ranks"; cat "$t/gz2.err"; }
# memory: a CIFAR-layout set of 8000 images (24.6 MB as bytes); the
# network is tiny, so that the data dominate what a rank holds
mkdir -p "$t/rss" && "$b/mkdata" cifar10 "$t/rss" --train 8000 --test 64 --seed 6 > /dev/null || die mkdata
"$b/cnnc" --mpi "$t/tiny.net" -o "$t/tiny_mpi" || die "cnnc tiny"
R="train --data $t/rss --epochs 1 --batch 64 --threads 1"
CNNRT_DATA_STATS=1 mpi -np 1 "$t/tiny_mpi" $R > /dev/null 2> "$t/rss1.err"
CNNRT_DATA_STATS=1 mpi -np 2 "$t/tiny_mpi" $R > /dev/null 2> "$t/rss2.err"
rss() { sed -n "s/^tiny_mpi: rank $2 of $3: held .*; peak resident memory \([0-9]*\) kB$/\1/p" "$1"; }
r1=$(rss "$t/rss1.err" 0 1) r20=$(rss "$t/rss2.err" 0 2) r21=$(rss "$t/rss2.err" 1 2)
# 8000 x 3072 bytes / 2 = 12000 kB fewer on each of 2 ranks; ask 8000
if [ -n "$r1" ] && [ -n "$r20" ] && [ -n "$r21" ] && [ $((r1 - r20)) -ge 8000 ] && [ $((r1 - r21)) -ge 8000 ]; then
    ok "peak resident memory on 8000 CIFAR images: 1 rank $r1 kB, each of 2 ranks $r20 and $r21 kB"
else
    bad "peak resident memory: 1 rank '$r1' kB, 2 ranks '$r20' and '$r21' kB"; cat "$t/rss1.err" "$t/rss2.err"
fi

# ---- the comparison catches broken exchanges
for k in 1 2; do
    what=$([ $k = 1 ] && echo "an exchange that drops rank 1's gradient" ||
           echo "an exchange without slice weights (last batch 2 + 1)")
    if mpi -np 2 "$t/mutant$k" $C --data $t/idx --epochs 2 --save "$t/m$k.npz" > /dev/null 2>&1 &&
        [ -s "$t/m$k.npz" ]; then
        same "$t/c1.npz" "$t/m$k.npz" "caught: $what" 1
    else
        bad "mutant $k trains without an error (so that the comparison is what catches it)"
    fi
done
mpi -np 2 "$t/mutant3" $C --data $t/idx --epochs 2 --save "$t/m3.npz" > /dev/null 2> "$t/m3.err"
[ $? != 0 ] && grep -q "^mutant3: rank 1 of 2 (on .*): after epoch 1 its parameters (CRC-32 [0-9a-f]*, momentum [0-9a-f]*) differ from rank 0's (.*): the gradient exchange is broken" "$t/m3.err" &&
    ok "caught: an exchange that sends nothing (the ranks' parameters differ)" ||
    bad "caught: an exchange that sends nothing: $(head -n 2 "$t/m3.err")"

# ---- reproducible, resumable
mpi -np 3 "$small" $C --data $t/idx --epochs 2 --save "$t/c3b.npz" > /dev/null 2>&1
cmp -s "$t/c3.npz" "$t/c3b.npz" && ok "two 3-rank runs: the same bytes" || bad "two 3-rank runs differ"
mpi -np 1 "$small" $C --data $t/idx --epochs 1 --save "$t/h.npz" : -np 1 "$small" $C --data $t/idx --epochs 1 --save /nonexistent/h.npz \
    --log /nonexistent/h.csv > /dev/null 2> "$t/h.err" &&
    mpi -np 1 "$small" $C --data $t/idx --epochs 2 --resume "$t/h.npz" --save "$t/r.npz" : \
        -np 1 "$small" $C --data $t/idx --epochs 2 --resume /nonexistent/h.npz --save "$t/r.npz" > "$t/r.out" 2>&1 ||
    { bad "--save and --resume given to rank 0 alone: exit 0"; cat "$t/h.err"; }
mpi -np 2 "$small" $C --data $t/idx --epochs 2 --save "$t/c2.npz" > /dev/null 2>&1
cmp -s "$t/c2.npz" "$t/r.npz" && grep -q "^resuming from $t/h.npz after epoch 1$" "$t/r.out" &&
    ok "2 ranks: --epochs 2 = --epochs 1, --save, --resume to 2 (same bytes)" ||
    bad "2 ranks: --resume does not continue bit-identically"
printf 'localhost slots=2\n' > "$t/hosts"     # the README's form, one machine here
timeout -k 5 120 mpirun --hostfile "$t/hosts" -np 2 "$small" $C --data $t/idx --epochs 2 \
    --save "$t/hf.npz" > /dev/null 2>&1
cmp -s "$t/c2.npz" "$t/hf.npz" && ok "mpirun --hostfile (localhost slots=2): the same bytes" ||
    bad "mpirun --hostfile (localhost slots=2) differs or fails"
"$t/small_1" eval --data "$t/idx" --weights "$t/c2.npz" --threads 1 > "$t/e1.out" 2>&1
mpi -np 2 "$small" eval --data "$t/idx" --weights "$t/c2.npz" --threads 1 > "$t/e2.out" 2>&1
[ -s "$t/e1.out" ] && cmp -s "$t/e1.out" "$t/e2.out" && ok "eval on 2 ranks prints one process's line" ||
    bad "eval on 2 ranks: '$(cat "$t/e2.out")', one process '$(cat "$t/e1.out")'"

# ---- failures: rank 0's message, no hang
LIMIT=60 mpi -np 1 "$small" $C --data "$t/idx" : -np 1 "$small" $C --data "$t/nodata" > /dev/null 2> "$t/f1.err"
rc=$?
[ $rc != 0 ] && [ $rc != 124 ] && grep -q "^small: rank 1 of 2 (on [^)]*): $t/nodata: not a directory" "$t/f1.err" &&
    ok "rank 1 without its data directory: rank 0 says so" || bad "rank 1 without data: exit $rc, $(head -n 1 "$t/f1.err")"
LIMIT=60 mpi -np 1 "$small" $C --data "$t/idx" : -np 1 "$small" $C --data "$t/idx" --bogus 1 \
    > /dev/null 2> "$t/f0.err"
rc=$?
[ $rc = 2 ] && grep -q "^small: rank 1 of 2 (on [^)]*): unknown option '--bogus'$" "$t/f0.err" &&
    ok "a bad flag on rank 1 alone: exit 2, rank 0 says so" || bad "a bad flag on rank 1: exit $rc, $(head -n 1 "$t/f0.err")"
mkdir -p "$t/part" && "$b/mkdata" idx "$t/part" --train 200 --test 50 --seed 4 > /dev/null || die mkdata
LIMIT=60 mpi -np 1 "$small" $C --data "$t/idx" : -np 1 "$small" $C --data "$t/part" > /dev/null 2> "$t/f2.err"
rc=$?
[ $rc != 0 ] && [ $rc != 124 ] && grep -q "^small: rank 1 of 2 (on [^)]*): $t/part holds 200 training and 50 test images (CRC-32 [0-9a-f]* of sampled records), rank 0's 203 and 50 (CRC-32 [0-9a-f]*): every rank needs the same data set" "$t/f2.err" &&
    ok "rank 1 with another data set: rank 0 says so" || bad "rank 1 with another data set: exit $rc, $(head -n 1 "$t/f2.err")"
# a record is read only by the rank that uses it, in the epoch it is used:
# a bad label in the middle of the file (not one of the records the data
# check samples) stops the job when epoch 1's records are read
rm -rf "$t/badlabel" && cp -r "$t/data" "$t/badlabel" &&
    printf '\012' | dd of="$t/badlabel/data_batch_1.bin" bs=1 seek=$((5 * 3073)) conv=notrunc 2> /dev/null ||
    die "badlabel"
LIMIT=60 mpi -np 2 "$t/tiny_mpi" train --data "$t/badlabel" --epochs 1 --threads 1 > /dev/null 2> "$t/f4.err"
rc=$?
[ $rc != 0 ] && [ $rc != 124 ] && grep -q "^tiny_mpi: rank [01] of 2 (on [^)]*): $t/badlabel/data_batch_1.bin: record 5 has label 10 (CIFAR-10 labels are 0..9); is this CIFAR-100?$" "$t/f4.err" &&
    ok "a bad record read in epoch 1 by one rank: the job stops, rank 0 names the rank" ||
    bad "a bad record in epoch 1: exit $rc, $(head -n 1 "$t/f4.err")"
rm -rf "$t/gzcut" && cp -r "$t/gz" "$t/gzcut" && f=$t/gzcut/train-images-idx3-ubyte.gz &&
    head -c $(($(wc -c < "$t/gz/train-images-idx3-ubyte.gz") / 2)) "$t/gz/train-images-idx3-ubyte.gz" > "$f" ||
    die "gzcut"
LIMIT=60 mpi -np 1 "$small" $C --data "$t/gz" : -np 1 "$small" $C --data "$t/gzcut" > /dev/null 2> "$t/f5.err"
rc=$?
[ $rc != 0 ] && [ $rc != 124 ] && grep -q "^small: rank 1 of 2 (on [^)]*): $f: truncated: it ends inside record [0-9]* of 203$" "$t/f5.err" &&
    ok "rank 1 with a truncated gzip file: rank 0 says so" || bad "rank 1 with a truncated gzip file: exit $rc, $(head -n 1 "$t/f5.err")"
LIMIT=60 mpi -np 2 "$small" $C --data "$t/idx" --save /nonexistent/w.npz > /dev/null 2> "$t/f3.err"
rc=$?
[ $rc != 0 ] && [ $rc != 124 ] && grep -q "^small: rank 0 of 2 (on [^)]*): /nonexistent/w.npz: " "$t/f3.err" &&
    ok "rank 0's --save fails: every rank stops, rank 0 says why" || bad "rank 0's --save fails: exit $rc, $(head -n 1 "$t/f3.err")"

# kill -SIG rank 1 of a long run after its first epoch; the job must end.
mkdir -p "$t/big" && "$b/mkdata" idx "$t/big" --train 3000 --test 50 --seed 3 > /dev/null || die mkdata
cp "$small" "$t/victim"
rank1() {   # the pid of rank 1 of $t/victim
    for p in $(pgrep -f "^$t/victim train"); do
        tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -q '^OMPI_COMM_WORLD_RANK=1$' && echo "$p"
    done
}
hit() {   # hit SIG NAME [env]: a long run; SIG goes to rank 1 after epoch 1
    env $3 timeout -k 5 60 mpirun --oversubscribe -np 2 "$t/victim" train --data "$t/big" --epochs 100000 \
        --batch 32 --threads 1 --save "$t/$2.npz" > "$t/$2.out" 2> "$t/$2.err" &
    job=$!
    i=0
    while [ $i -lt 600 ] && kill -0 $job 2> /dev/null && ! grep -q '^epoch 1/' "$t/$2.out" 2> /dev/null; do
        sleep 0.1
        i=$((i + 1))
    done
    victim=$(rank1)
    [ -n "$victim" ] && kill -"$1" $victim
    start=$(date +%s)
    wait $job
    rc=$?
    secs=$(($(date +%s) - start))
    [ -n "$victim" ] && kill -9 $victim 2> /dev/null
}
hit KILL killed
[ -n "$victim" ] && [ $rc != 0 ] && [ $rc != 124 ] && [ $secs -le 20 ] &&
    grep -q "^victim: rank 0 of 2 (on [^)]*): \(stopped by SIGTERM\|MPI failed\) during \(epoch\|evaluating the test set\|the end of an epoch\)" "$t/killed.err" &&
    ok "rank 1 killed: the job ends in ${secs} s, rank 0 says what it was doing" ||
    { bad "rank 1 killed: exit $rc after ${secs} s"; cat "$t/killed.err"; }
"$t/small_1" eval --data "$t/big" --weights "$t/killed.npz" > /dev/null 2>&1 &&
    ok "rank 1 killed: rank 0's last checkpoint loads" || bad "rank 1 killed: the checkpoint does not load"
hit STOP stopped CNNRT_MPI_TIMEOUT=2
[ -n "$victim" ] && [ $rc != 0 ] && [ $rc != 124 ] && [ $secs -le 20 ] &&
    grep -q "^victim: rank 0 of 2 (on [^)]*): no message from rank 1 for 2 s during \(epoch [0-9]*, \|evaluating the test set\|the end of an epoch\)[^(]* ([a-z0-9 ]*): it died, hangs or is far slower" "$t/stopped.err" &&
    ok "rank 1 stopped: rank 0 gives up after CNNRT_MPI_TIMEOUT=2 s and ends the job" ||
    { bad "rank 1 stopped: exit $rc after ${secs} s"; cat "$t/stopped.err"; }

# ---- bench
mpi -np 2 "$small" bench --batch 32 --threads 1 --steps 3 > "$t/bench.out" 2>&1
grep -q '^exchange_bytes_per_step 23520$' "$t/bench.out" && grep -q '^train_img_per_s [0-9.]*$' "$t/bench.out" &&
    ok "bench on 2 ranks: images/s and the exchange's bytes (2 x 4 x 2937 + 24 per step)" ||
    bad "bench on 2 ranks: $(cat "$t/bench.out")"

[ $fail = 0 ] && echo "mpi: all passed"
exit $fail
