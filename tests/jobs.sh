# jobs.sh: sourced by the test scripts that run many independent items
# (golden cases, examples) to use both cores of a small machine.
#
#   jobs_run DIR JOBS FUNC ITEM...
# runs `FUNC ITEM` for every ITEM, JOBS at a time: worker w takes every
# JOBS-th item, so no item waits on a lock.  Each item's output waits in
# DIR/ITEM.msg and its exit status in DIR/ITEM.rc; when all are done they
# are printed in the order given, so the report reads the same for any
# JOBS.  Sets jobs_pass and jobs_fail (items whose FUNC exited 0 or not; an
# item that left no status, e.g. killed, counts as failed).

jobs_worker() {
    jw_dir=$1 jw_jobs=$2 jw_me=$3 jw_func=$4
    shift 4
    jw_i=0
    for jw_item in "$@"; do
        if [ $((jw_i % jw_jobs)) -eq "$jw_me" ]; then
            "$jw_func" "$jw_item" > "$jw_dir/$jw_item.msg" 2>&1
            echo $? > "$jw_dir/$jw_item.rc"
        fi
        jw_i=$((jw_i + 1))
    done
}

jobs_run() {
    jr_dir=$1 jr_jobs=$2 jr_func=$3
    shift 3
    mkdir -p "$jr_dir" || return 1
    for jr_item in "$@"; do
        rm -f "$jr_dir/$jr_item.msg" "$jr_dir/$jr_item.rc"
    done
    jr_w=0
    while [ "$jr_w" -lt "$jr_jobs" ]; do
        jobs_worker "$jr_dir" "$jr_jobs" "$jr_w" "$jr_func" "$@" &
        jr_w=$((jr_w + 1))
    done
    wait
    jobs_pass=0
    jobs_fail=0
    for jr_item in "$@"; do
        cat "$jr_dir/$jr_item.msg" 2> /dev/null
        if [ "$(cat "$jr_dir/$jr_item.rc" 2> /dev/null)" = 0 ]; then
            jobs_pass=$((jobs_pass + 1))
        else
            [ -f "$jr_dir/$jr_item.rc" ] || echo "FAIL $jr_item: no result"
            jobs_fail=$((jobs_fail + 1))
        fi
    done
}
