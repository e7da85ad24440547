#!/usr/bin/python3
"""waits.py - how long the threads of a training step wait for each other
(issue 5: the 2-thread ratio).  Not part of `make bench`.

For a .net file: cnnc generates NET.c; this script wraps its barrier
lane_sync() with clock_gettime, numbering the barriers of a training step
in the order a lane meets them (0 = the first), compiles the program and
runs `NET step --threads T --steps K` on a random batch.  It prints, per
barrier and per lane, the milliseconds a step that the lane spent waiting
there, and the step's wall time.  A lane waits when the other was slower
since the previous barrier: on a shared machine, mostly because another
process slowed one core down for a while (docs/KERNELS.md, Threads).

Usage: bench/waits.py [--threads 2] [--steps 100] [--batch 64] [--runs 1]
                      [--cnnc build/cnnc] [--out build/waits] NET.net
The program is compiled with $CC, default clang, as cnnc builds it.
Needs build/libcnnrt.a and build/mknpy (make)."""

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")

WRAP = r"""
static _Thread_local int waits_lane, waits_k = -1;
static double waits_ms[64][16];
static int waits_max;
static void lane_sync_timed(%(ctx)s *c, int T);
static void lane_sync(%(ctx)s *c, int T)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    lane_sync_timed(c, T);
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (waits_k >= 0 && waits_k < 16) {
        waits_ms[waits_lane][waits_k] += (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) * 1e-6;
        if (waits_k + 1 > waits_max)
            waits_max = waits_k + 1;
    }
    if (waits_k >= 0)
        waits_k++;
}
"""

REPORT = r"""
#include <stdio.h>
__attribute__((destructor)) static void waits_report(void)
{
    FILE *f = fopen("%(path)s", "w");
    if (!f)
        return;
    for (int t = 0; t < 64; t++)
        for (int k = 0; k < waits_max; k++)
            fprintf(f, "%%d %%d %%.3f\n", t, k, waits_ms[t][k]);
    fclose(f);
}
"""


def instrument(src, name):
    ctx = name + "_ctx"
    head = "static void lane_sync(%s *c, int T)\n{" % ctx
    if head not in src:
        sys.exit("waits.py: no lane_sync in the generated C")
    src = src.replace(head, WRAP % {"ctx": ctx} + "static void lane_sync_timed(%s *c, int T)\n{" % ctx, 1)
    m = re.search(r"static void lane_gradients\(%s \*c, int t\)\n\{\n" % ctx, src)
    if not m:
        sys.exit("waits.py: no lane_gradients in the generated C")
    # counted from the start of each lane's share of a step, through
    # run_lanes' closing barrier (`step` runs no inference jobs)
    return src[:m.end()] + "    waits_lane = t;\n    waits_k = 0;\n" + src[m.end():]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("net")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--cnnc", default=os.path.join(ROOT, "build", "cnnc"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "waits"))
    a = ap.parse_args()
    name = os.path.splitext(os.path.basename(a.net))[0]
    os.makedirs(a.out, exist_ok=True)
    gen = os.path.join(a.out, name + ".c")
    subprocess.run([a.cnnc, a.net, "-o", gen], check=True)
    with open(gen) as f:
        src = f.read()
    prefix = re.search(r"struct (\w+)_ctx \{", src).group(1)
    report = os.path.join(a.out, name + ".waits")
    src = instrument(src, prefix) + REPORT % {"path": report}
    timed = os.path.join(a.out, name + "_waits.c")
    with open(timed, "w") as f:
        f.write(src)
    exe = os.path.join(a.out, name + "_waits")
    lib = os.path.join(ROOT, "build", "libcnnrt.a")
    cc = os.environ.get("CC", "clang")
    subprocess.run([cc, "-std=c11", "-O2", "-march=native", "-DCNNC_MAIN", "-pthread",
                    "-I" + os.path.join(ROOT, "runtime"), timed, lib, "-lz", "-lm", "-o", exe],
                   check=True)
    shape = re.search(r"input \[([0-9, ]+)\]", open(a.net).read())
    if not shape:
        sys.exit("waits.py: no input shape in " + a.net)
    dims = ",".join(d.strip() for d in shape.group(1).split(","))
    mknpy = os.path.join(ROOT, "build", "mknpy")
    x, lab, w = (os.path.join(a.out, name + s) for s in ("_x.npy", "_l.npy", "_w.npz"))
    subprocess.run([mknpy, "array", x, "f4", "%d,%s" % (a.batch, dims), "rand"], check=True)
    subprocess.run([mknpy, "array", lab, "i8", str(a.batch), "mod:2"], check=True)
    subprocess.run([exe, "init", "--output", w], check=True, stdout=subprocess.DEVNULL)
    for r in range(a.runs):
        t0 = time.time()
        subprocess.run([exe, "step", "--weights", w, "--input", x, "--labels", lab,
                        "--output", os.devnull, "--steps", str(a.steps), "--threads", str(a.threads)],
                       check=True, stdout=subprocess.DEVNULL)
        wall = (time.time() - t0) * 1e3 / a.steps
        ms = {}
        with open(report) as f:
            for line in f:
                t, k, v = line.split()
                ms[(int(t), int(k))] = float(v) / a.steps
        nk = 1 + max(k for _, k in ms) if ms else 0
        print("%s, %d threads, %d steps, run %d: %.2f ms a step (wall, with start-up)"
              % (name, a.threads, a.steps, r + 1, wall))
        print("barrier " + " ".join("%7d" % k for k in range(nk)) + "    total")
        total = 0.0
        for t in range(a.threads):
            row = [ms.get((t, k), 0.0) for k in range(nk)]
            total += sum(row)
            print("lane %-2d " % t + " ".join("%7.3f" % v for v in row) + "  %7.3f" % sum(row))
        print("waiting, all lanes: %.3f ms a step" % total)


if __name__ == "__main__":
    main()
