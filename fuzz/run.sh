#!/bin/sh
# run.sh BUILD NAME SECONDS [libFuzzer options...]: fuzzes one harness,
# niced, for SECONDS, with its seeds (BUILD/fuzz/seeds/NAME, read only) and
# a growing corpus (BUILD/fuzz/corpus/NAME).  A crash, leak or UB report
# stops the run and leaves the input in BUILD/fuzz/crashes/.  The last
# lines of the log carry the exec count (stat::number_of_executed_units).
set -eu
b=$1 name=$2 secs=$3
shift 3
mkdir -p "$b/fuzz/corpus/$name" "$b/fuzz/crashes"
dict=
[ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
exec nice -n 10 "$b/fuzz/fuzz_$name" -max_total_time="$secs" -print_final_stats=1 \
    -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$b/fuzz/crashes/$name-" $dict "$@" \
    "$b/fuzz/corpus/$name" "$b/fuzz/seeds/$name"
