#!/usr/bin/python3
"""torch_bench.py - PyTorch's speed on the networks of .net files, the
yardstick of bench/run.sh (issue 5).  Run with Debian's /usr/bin/python3
(python3-torch 1.13; with libopenblas0-openmp installed, its BLAS is
OpenBLAS: `make bench-deps`).

The network: tools/netspec.py parses and checks the .net file (the same
reference that judges the golden tests).  From its layer list this script
builds the nn.Sequential a PyTorch user would write (nn.Conv2d with its own
zero padding, nn.ReLU, nn.MaxPool2d, nn.Flatten, nn.Linear), and checks
that it computes what netspec.build() computes with the same weights before
timing it.  netspec.build() itself is the reference, not the fast path: it
pads with F.pad before every convolution.  A network with a layer the
idiomatic builder does not cover is timed through netspec.build()
(`--model netspec` forces that).

What is timed, as the generated program's `bench` command does it (see
runtime/cnnrt_train.c), at batch B (64) on random images in [0, 1) and random
labels, with torch.set_num_threads(T):
  train    forward, CrossEntropyLoss (MSELoss for `loss mse`), backward and
           torch.optim.SGD with the spec's lr and momentum, repeated on the
           same batch: calls for at least --budget seconds (and at least 3),
           images/s of the whole window;
  infer    forward under torch.no_grad() at batch B, the same way;
  latency  forward of one image under torch.no_grad(): the median of up to
           4096 calls or 0.5 s.
Two train steps and two forwards warm up first.  With --reps R the three
figures are measured R times and the best kept (bench/run.sh uses --reps 1
and takes the best over its interleaved rounds instead).

Output: first a `torch_info ...` line (version, BLAS libraries loaded),
then one line per figure (machine-readable):
  torch NAME threads T train_img_per_s X
  torch NAME threads T infer_img_per_s X
  torch NAME threads T latency_us_b1 X
  torch NAME threads T model idiomatic|netspec
With --serve it reads requests `NET.net T` from stdin, one a line, and
answers each with those lines and `end` (bench/run.sh keeps one server, so
torch is imported once; the model is rebuilt, freshly initialised, for
every request).

Usage: torch_bench.py [--threads 1,2] [--batch 64] [--reps 3] [--budget 1.0]
                      [--model idiomatic|netspec] NET.net ...
       torch_bench.py --serve --reps 1 [--batch 64] [--budget 1.0]"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tools"))
import netspec  # noqa: E402
import torch  # noqa: E402

DEFAULT_MKLDNN = torch.backends.mkldnn.enabled

LATENCY_MAX_CALLS = 4096
LATENCY_BUDGET = 0.5
WARMUP = 2


def idiomatic_layer(L):
    """The torch.nn modules of one netspec layer, or None if not covered."""
    nn = torch.nn
    kind, d = L["kind"], len(L["in_shape"]) - 1
    act = {"none": [], "relu": [nn.ReLU()]}.get(L.get("activation", "none"))
    if act is None:
        return None
    if kind == "flatten":
        return [nn.Flatten()]
    if kind == "relu":
        return [nn.ReLU()]
    if kind == "dense":
        return [nn.Linear(L["in_shape"][0], L["units"], bias=L["bias"])] + act
    if d != 2 or L["padding"] not in ("valid", "zero"):
        return None
    pads = [lo for lo, hi in L["pads"]]
    if any(lo != hi for lo, hi in L["pads"]):
        return None
    if kind == "conv" and not L["symmetric"] and L["connect"] is None:
        return [nn.Conv2d(L["in_shape"][0], L["filters"], L["kernel"],
                          stride=L["stride"], padding=pads,
                          dilation=L["dilation"], bias=L["bias"])] + act
    if kind == "maxpool" and not any(pads):
        return [nn.MaxPool2d(L["kernel"], stride=L["stride"])] + act
    return None


def idiomatic(spec):
    """nn.Sequential of the spec, or None if a layer is not covered."""
    mods = []
    for L in spec["layers"]:
        m = idiomatic_layer(L)
        if m is None:
            return None
        mods += m
    return torch.nn.Sequential(*mods)


def check_same(spec, seq, batch):
    """seq computes what netspec.build(spec) computes with seq's weights."""
    ref = netspec.build(spec)
    weighted = [m for m in seq if isinstance(m, (torch.nn.Conv2d,
                                                 torch.nn.Linear))]
    names = [L["name"] for L in spec["layers"]
             if L["kind"] in ("conv", "dense")]
    arrays = {}
    for name, m in zip(names, weighted):
        arrays[name + ".weight"] = m.weight.detach().numpy()
        if m.bias is not None:
            arrays[name + ".bias"] = m.bias.detach().numpy()
    ref.load(arrays)
    x = torch.rand((batch,) + tuple(spec["input"]))
    with torch.no_grad():
        a, b = seq(x), ref(x)
    if a.shape != b.shape or not torch.allclose(a, b, rtol=1e-4, atol=1e-5):
        raise SystemExit("torch_bench: the nn.Sequential of %s differs from "
                         "netspec.build()" % spec["name"])


def make_model(spec, which, batch):
    """(model, 'idiomatic' or 'netspec')."""
    if which == "idiomatic":
        seq = idiomatic(spec)
        if seq is not None:
            check_same(spec, seq, min(batch, 8))
            return seq, "idiomatic"
    return netspec.build(spec), "netspec"


def batch_data(spec, batch):
    x = torch.rand((batch,) + tuple(spec["input"]))
    out = spec["out_shape"]
    if spec["loss"] == "mse":
        y = torch.rand((batch,) + tuple(out))
    else:
        y = torch.randint(0, out[0], (batch,))
    return x, y


def window(fn, budget):
    """Seconds per call of fn over at least `budget` seconds, >= 3 calls."""
    calls, t0 = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        el = time.perf_counter() - t0
        if el >= budget and calls >= 3:
            return el / calls


def latency(model, x1):
    samples, t0 = [], time.perf_counter()
    with torch.no_grad():
        while len(samples) < LATENCY_MAX_CALLS and \
                (time.perf_counter() - t0 < LATENCY_BUDGET or
                 len(samples) < 5):
            a = time.perf_counter()
            model(x1)
            samples.append(time.perf_counter() - a)
    return statistics.median(samples)


def measure(spec, model, batch, budget):
    """(train img/s, inference img/s, batch-1 latency in s) once."""
    t = spec["train"]
    opt = torch.optim.SGD(model.parameters(), lr=t["lr"],
                          momentum=t["momentum"],
                          weight_decay=t["weight_decay"])
    loss_fn = netspec.loss_fn(spec)
    x, y = batch_data(spec, batch)
    # netspec turns oneDNN off for its checks (a wrong float32 weight
    # gradient in torch 1.13); a user's PyTorch runs with it on, so the
    # yardstick is timed with torch's defaults.
    torch.backends.mkldnn.enabled = DEFAULT_MKLDNN

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    def infer():
        with torch.no_grad():
            model(x)

    for _ in range(WARMUP):
        step()
        infer()
    tr = window(step, budget)
    inf = window(infer, budget)
    lat = latency(model, x[:1].clone())
    return batch / tr, batch / inf, lat


def blas_name():
    try:
        with open("/proc/self/maps") as f:
            libs = {os.path.basename(line.split()[-1]) for line in f
                    if ".so" in line}
    except OSError:
        return "unknown"
    found = sorted(x for x in libs if "blas" in x or "mkl" in x)
    return ",".join(found) or "none loaded"


def bench_net(path, threads, args):
    """Measures one network at each thread count; prints its lines."""
    spec = netspec.load(path)
    name = spec["name"]
    for T in threads:
        torch.manual_seed(0)
        model, how = make_model(spec, args.model, args.batch)
        torch.set_num_threads(T)
        best = [0.0, 0.0, float("inf")]
        for _ in range(args.reps):
            tr, inf, lat = measure(spec, model, args.batch, args.budget)
            best = [max(best[0], tr), max(best[1], inf), min(best[2], lat)]
        tag = "torch %s threads %d" % (name, T)
        print("%s train_img_per_s %.1f" % (tag, best[0]))
        print("%s infer_img_per_s %.1f" % (tag, best[1]))
        print("%s latency_us_b1 %.1f" % (tag, 1e6 * best[2]))
        print("%s model %s" % (tag, how))
        sys.stdout.flush()


def serve(args):
    """Requests `NET.net T` on stdin, one a line; after each one's lines,
    `end`.  bench/run.sh keeps one server so torch is imported once."""
    for line in sys.stdin:
        words = line.split()
        if len(words) == 2:
            bench_net(words[0], [int(words[1])], args)
        print("end", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("nets", nargs="*", metavar="NET.net")
    ap.add_argument("--threads", default="1,2",
                    type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--budget", type=float, default=1.0)
    ap.add_argument("--model", choices=("idiomatic", "netspec"),
                    default="idiomatic")
    ap.add_argument("--serve", action="store_true",
                    help="read `NET.net T` requests from stdin")
    args = ap.parse_args()
    print("torch_info version %s blas %s onednn %s"
          % (torch.__version__, blas_name(),
             "on" if DEFAULT_MKLDNN else "off"), flush=True)
    if args.serve:
        serve(args)
    for path in args.nets:
        bench_net(path, args.threads, args)


if __name__ == "__main__":
    main()
