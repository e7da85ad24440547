#!/usr/bin/python3
"""layers.py - where a training step's time goes, layer by layer: the
per-kernel profile that tells which kernel limits a network (issue 5).

For each .net file: cnnc generates NET.c; this script reads the layer calls
in its forward_lane() and backward_lane() (the statements of each layer,
exactly as a training step on one thread makes them) and writes a harness that #includes NET.c,
initialises the parameters as `./NET init` does (cnnrt_init_params), runs
one NET_gradients() on uniform [0, 1) images so every buffer holds real
values, then times each call alone on the whole batch: repeated for at
least --budget seconds of the thread's CPU time (so load from other
processes counts less), best of --reps windows.  Then the whole
NET_train_step() the same way; "rest" is the step minus the layers (loss,
optimizer, the lanes' bookkeeping).  Denormals are flushed to zero in the
harness (x86): repeating a sigmoid's backward on the same buffer would
otherwise drift into them.

GFLOP/s count 2 per multiply-add of conv, local and dense layers (shapes
from tools/netspec.py, as bench/flops.py): forward F, backward 2F (the data
and the weight gradient), F for the first weighted layer (no data gradient).

Usage: bench/layers.py [--batch 64] [--target T] [--budget 0.3] [--reps 3]
                       [--cnnc build/cnnc] [--out build/layers] NET.net ...
The harness is compiled with $CC, default clang (what cnnc builds with).
Needs build/libcnnrt.a (make)."""

import argparse
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, HERE)
import flops  # noqa: E402
import netspec  # noqa: E402


def statements(text):
    """Top-level statements of a function body: `x;`, `if (..) x;`,
    `if (..) { .. } else { .. }` each one."""
    out, cur, depth, i = [], "", 0, 0
    while i < len(text):
        ch = text[i]
        cur += ch
        depth += ch in "({"
        depth -= ch in ")}"
        if depth == 0 and (ch == ";" or ch == "}"):
            rest = text[i + 1:].lstrip()
            if not rest.startswith("else"):
                out.append(" ".join(cur.split()))
                cur = ""
        i += 1
    return [st for st in out if st and not st.startswith("(void)")]


def body(src, head):
    """Statements of the function whose definition starts with head."""
    start = src.index(head)
    open_at = src.index("{", start)
    close_at = src.index("\n}\n", open_at)
    return statements(re.sub(r"/\*.*?\*/", "", src[open_at + 1:close_at], flags=re.S))


LAYER_CALL = r"\b([A-Za-z0-9]\w*?)_%s(?:_units|_rows|_pack|_serial|_ref)?\b"


def one_lane(sts):
    """The statements one lane (T = 1) runs: the T == 1 branch of
    `if (T == 1) { .. } else { .. }` as its own statements (the layers
    below a unit-split one, which several lanes take in chunks of
    samples); no `if (c->fast && T > 1) { .. }` (a weight gradient that
    several lanes take in chunks of units at the end)."""
    out = []
    for st in sts:
        if st.startswith("if (c->fast && T > 1)"):
            continue
        if st.startswith("if (T == 1) {"):
            depth, i = 0, st.index("{")
            for j in range(i, len(st)):
                depth += st[j] == "{"
                depth -= st[j] == "}"
                if depth == 0:
                    out += statements(st[i + 1:j])
                    break
            continue
        out.append(st)
    return out


def calls(src, head, suffix):
    """[(layer name, statement)] of the layer calls in one lane function
    (a unit-split dense layer's rows and units parts are one entry)."""
    out = []
    for st in one_lane(body(src, head)):
        m = re.search(LAYER_CALL % suffix, st)
        if not m:
            continue
        if out and out[-1][0] == m.group(1):
            out[-1] = (m.group(1), out[-1][1] + " " + st)
        else:
            out.append((m.group(1), st))
    return out


HARNESS = r"""
#include "%(name)s.c"
#include "cnnrt.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

static double cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* the statement may use n, t, T, i0, i1: the macro's own names end in _ */
#define TIME(label, stmt) do { \
    double best_ = 1e30; \
    for (int r_ = 0; r_ < %(reps)d; r_++) { \
        stmt; \
        int k_ = 0; \
        double t0_ = cpu(), dt_; \
        do { stmt; k_++; dt_ = cpu() - t0_; } while (dt_ < %(budget)f); \
        if (dt_ / k_ < best_) best_ = dt_ / k_; \
    } \
    printf("%%s %%.3f\n", label, 1e6 * best_); \
    fflush(stdout); \
} while (0)

int main(void)
{
#if defined(__x86_64__)
    _mm_setcsr(_mm_getcsr() | 0x8040);
#endif
    const int B = %(batch)d;
    %(name)s_ctx *c = %(name)s_create(B);
    float *x = malloc(sizeof(float) * (size_t)B * %(in_size)d);
    float *targets = calloc((size_t)B * %(out_size)d, sizeof(float));
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)B);
    if (!c || !x || !targets || !labels)
        return 1;
    uint64_t s = 1;
    for (size_t k = 0; k < (size_t)B * %(in_size)d; k++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[k] = (float)(s >> 40) / 16777216.0f;
    }
    for (int i = 0; i < B; i++)
        labels[i] = i %% %(out_size)d;
    cnnrt_init_params(&%(name)s_model, c, 1);
    cnnrt_hparams hp = %(name)s_model.defaults;
    %(name)s_gradients(c, x, %(labels)s, %(targets)s, B, NULL);
    const int n = B, t = 0, T = 1, i0 = 0, i1 = B; /* the batch as one lane */
    float *grads = c->grads;
    (void)n, (void)t, (void)T, (void)i0, (void)i1, (void)grads;
%(timed)s
    TIME("step", %(name)s_train_step(c, x, %(labels)s, %(targets)s, B, &hp));
    return 0;
}
"""


def harness(name, spec, src, args):
    fw = calls(src, "static void forward_lane(", "forward")
    bw = calls(src, "static void backward_lane(", "backward")
    timed = []
    for tag, lst in (("fw", fw), ("bw", bw)):
        for layer, stmt in lst:
            timed.append('    TIME("%s %s", { %s });' % (tag, layer, stmt))
    ce = spec["loss"] == "softmax_cross_entropy"
    return HARNESS % {
        "name": name, "batch": args.batch, "reps": args.reps,
        "budget": args.budget, "timed": "\n".join(timed),
        "in_size": prod(spec["input"]), "out_size": prod(spec["layers"][-1]["out_shape"]),
        "labels": "labels" if ce else "NULL",
        "targets": "NULL" if ce else "targets",
    }


def prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def build(path, args):
    """Generated C and the harness binary for one .net; returns its path."""
    spec = netspec.load(path)
    name = spec["name"]
    os.makedirs(args.out, exist_ok=True)
    c_path = os.path.join(args.out, name + ".c")
    cmd = [args.cnnc, path, "-o", c_path]
    if args.target:
        cmd.insert(1, "--target=" + args.target)
    subprocess.run(cmd, check=True)
    with open(c_path) as f:
        src = f.read()
    h_path = os.path.join(args.out, name + "_layers.c")
    with open(h_path, "w") as f:
        f.write(harness(name, spec, src, args))
    exe = os.path.join(args.out, name + "_layers")
    # clang, as cnnc itself builds (compiler/main.c) and so `make bench`:
    # gcc -O2 ran cifar10_mlp's old dense forward at half the speed
    cc = os.environ.get("CC") or (shutil.which("clang") and "clang") or "cc"
    subprocess.run([cc, "-std=c11", "-O2", "-march=native", "-I", os.path.join(ROOT, "runtime"),
                    "-I", args.out, h_path, "-o", exe, os.path.join(ROOT, "build", "libcnnrt.a"),
                    "-lz", "-lm", "-lpthread"], check=True)
    return spec, exe


def report(spec, exe, args):
    out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    times = {}
    for line in out.splitlines():
        *key, us = line.split()
        times[" ".join(key)] = float(us)
    fl = {L["name"]: flops.layer_fwd(L) for L in spec["layers"]}
    first = next((L["name"] for L in spec["layers"] if fl[L["name"]]), None)
    step = times.pop("step")
    print("%s: batch %d, one thread, CPU time per call (best of %d)" % (spec["name"], args.batch, args.reps))
    print("| layer | pass | us | % of step | GFLOP/s |")
    print("|:--|:--|--:|--:|--:|")
    total = 0.0
    for key, us in times.items():
        tag, layer = key.split()
        f = fl.get(layer, 0) * args.batch * (1 if tag == "fw" or layer == first else 2)
        rate = "%.1f" % (f / us / 1e3) if f else "-"
        print("| %s | %s | %.1f | %.1f | %s |" % (layer, "forward" if tag == "fw" else "backward", us,
                                                 100 * us / step, rate))
        total += us
    print("| (rest: loss, optimizer, lanes) | | %.1f | %.1f | |" % (step - total, 100 * (step - total) / step))
    needed = flops.count(spec)[2] * args.batch
    print("| **train_step** | | %.1f | 100.0 | %.1f |" % (step, needed / step / 1e3))
    print("(%.0f images/s)" % (args.batch / step * 1e6))
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("nets", nargs="+")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--target", default="")
    ap.add_argument("--budget", type=float, default=0.3)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cnnc", default=os.path.join(ROOT, "build", "cnnc"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "layers"))
    args = ap.parse_args()
    for path in args.nets:
        spec, exe = build(path, args)
        report(spec, exe, args)


if __name__ == "__main__":
    main()
