#!/usr/bin/python3
"""randnet.py - random-network differential tester: cnnc against PyTorch.

    /usr/bin/python3 tools/randnet.py [--count N] [--seed S] [--keep DIR]
        [--shrink] [--cflags FLAGS] [--jobs J] [--mutants M] [--first I]
        [--net FILE [--batch N] [--step-args "..."]] [--verbose]

Each case is a random network drawn from the whole of LANGUAGE.md: vector,
1-D, 2-D and 3-D inputs; conv, local, maxpool, avgpool, dense, flatten,
relu, sigmoid, tanh; scalar and per-axis kernel/size, stride, dilation;
every padding mode (valid, same, zero, replicate, reflect, circular, scalar
and per-axis) in conv, local and pooling; activations, bias = false,
symmetric = true, connect tables; both losses; train (...) with any subset
of its keys; comments of the three kinds; explicit and default names.  It is
valid by construction (every layer is checked with tools/netspec.py as it is
added) and small (a few thousand activations), so a case takes well under a
second at -O0.  For each case:
  1. `cnnc --check` must accept it (netspec does);
  2. weights (uniform, ties and masks obeyed: golden.make_weights), a batch
     of 1..17 samples and labels are written, PyTorch's answers computed
     with golden.compute (tools/netspec.py) in float32 and in float64: if
     they differ the case fails as 'reference' (torch is wrong or the case
     ill-conditioned) and the float64 answers are expected;
  3. `cnnc net.net -o net`, then `net grad` and `net step --steps 2` with
     random --lr/--momentum/--weight-decay flags, with --threads 1 and
     --threads 3, each compared with build/npzcmp --atol 1e-4 --rtol 2e-3
     (as tests/golden/run.sh does);
  4. M mutants of the spec (a kernel at the padded input's size, padding at
     its limit, same with a stride, even symmetric kernels, bad connect
     tables, wrong list lengths, missing flatten, bad values and keys...)
     must be accepted by `cnnc --check` exactly when netspec accepts them.
One line per failing case (seed, case, stage, detail), then a summary; exit
status 1 if any case failed.  A case is a pure function of (seed, index):
`--first I --count 1` reruns case I.  `--shrink` reduces every failing case
greedily (drop layers, attributes, flags; shrink sizes, batch) while the
same stage still fails, and prints the minimal spec.  `--keep DIR` keeps
each failing case's directory (spec, data, expected and actual answers,
logs) as DIR/S-I/; without it the work happens in a temporary directory.
`--cflags` is passed to cnnc as CNNC_CFLAGS (e.g. -O0 builds 10x faster;
the default is cnnc's own -O2).  `--net FILE` runs one hand-written spec.
`--cnnc`/`--npzcmp` test another build.  docs/TESTING.md says more.
"""

import argparse
import copy
import math
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden  # noqa: E402
import netspec  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TOL = ["--atol", "1e-4", "--rtol", "2e-3"]
THREADS = (1, 3)
LIMIT_S = 60

# Size limits of a generated network (per sample), small and large: most
# cases are small and fast; one in six is large (images up to 32x32, up to
# 16 filters), so that a blocked or vectorised emitter meets rows and
# channel counts past its block sizes, with remainders.
#        activations per layer, parameters, multiply-adds per layer
LIMITS = {False: (3000, 12000, 150000), True: (40000, 80000, 4000000)}
BIG_SHARE = 1 / 6


# ------------------------------------------------------------ spec values

class Lit(str):
    """A number written verbatim (keeps '5e-2' as the user wrote it)."""


class Call:
    """padding = NAME(ARG)"""

    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg


def render_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Call):
        return "%s(%s)" % (v.fn, render_value(v.arg))
    if isinstance(v, list):
        return "[" + ", ".join(render_value(x) for x in v) + "]"
    return str(v)  # int, Lit, identifier


def render(spec):
    """The .net text of a spec structure: {name, input, layers: [{kind,
    name, attrs: [[key, value]], comment}], loss, train, header, order};
    a string is already the text (a mutant edited token by token)."""
    if isinstance(spec, str):
        return spec
    out = []
    if spec.get("header"):
        out.append(spec["header"])
    out.append("network %s {" % spec["name"])
    out.append("    input %s;" % render_value(spec["input"]))
    tail = []
    if spec["loss"] is not None:
        tail.append("    loss %s;" % spec["loss"])
    if spec["train"] is not None:
        attrs = ", ".join("%s = %s" % (k, render_value(v))
                          for k, v in spec["train"])
        tail.append("    train (%s);" % attrs if attrs or
                    spec.get("train_parens", True) else "    train;")
    if spec.get("train_first"):
        out += tail[::-1]
    for L in spec["layers"]:
        line = "    " + L["kind"]
        if L["name"]:
            line += " " + L["name"]
        if L["attrs"]:
            line += " (%s)" % ", ".join("%s = %s" % (k, render_value(v))
                                       for k, v in L["attrs"])
        out.append(line + ";" + (L.get("comment") or ""))
    if not spec.get("train_first"):
        out += tail
    out.append("}")
    return "\n".join(out) + "\n"


def attr(L, key, default=None):
    for k, v in L["attrs"]:
        if k == key:
            return v
    return default


def set_attr(L, key, value):
    for a in L["attrs"]:
        if a[0] == key:
            a[1] = value
            return
    L["attrs"].append([key, value])


def del_attr(L, key):
    L["attrs"] = [a for a in L["attrs"] if a[0] != key]


def try_parse(spec):
    """netspec's verdict: (parsed dict, None) or (None, message)."""
    try:
        return netspec.parse(render(spec), "net.net"), None
    except netspec.SpecError as e:
        return None, str(e)
    except Exception as e:  # a crash of the reference itself
        return None, "netspec raised %s: %s" % (type(e).__name__, e)


# ------------------------------------------------------------ generator

def per_axis(rng, vals):
    """A scalar when every axis agrees (most of the time), else a list."""
    if len(set(vals)) == 1 and rng.random() < 0.7:
        return vals[0]
    return list(vals)


def gen_float(rng, lo, hi, zero=0.1):
    if rng.random() < zero:
        return Lit(rng.choice(["0", "0.0"]))
    x = round(rng.uniform(lo, hi), 3)
    if rng.random() < 0.2:
        return Lit("%ge%d" % (x * 10, -1))  # 0.25 written 2.5e-1
    return Lit(repr(x))


def gen_padding(rng, kind, sizes, kernel):
    """A padding value (or None for the default) fitting these sizes."""
    mode = rng.choices(["default", "valid", "same", "zero", "replicate",
                        "reflect", "circular"], [3, 1, 3, 3, 2, 2, 2])[0]
    if mode == "default":
        return None
    if mode in ("valid", "same"):
        return mode
    ns = []
    for s, k in zip(sizes, kernel):
        hi = rng.choice([2, 3, 3, 5])
        if mode == "reflect":
            hi = min(hi, s - 1)
        if mode == "circular":
            hi = min(hi, s)
        if kind == "maxpool" and mode == "zero":
            hi = min(hi, k - 1)
        ns.append(rng.randint(0, max(hi, 0)))
    return Call(mode, per_axis(rng, ns))


def gen_window(rng, kind, shape, big):
    """conv / local / maxpool / avgpool attributes for input `shape`."""
    sizes, pool = shape[1:], kind.endswith("pool")
    sym = kind == "conv" and rng.random() < 0.2
    choices = ([1, 3, 5] if sym else [1, 2, 2, 3, 3, 4, 5]) + \
        ([7] if big else [])
    kernel = [rng.choice(choices) for _ in sizes]
    if rng.random() < 0.1:  # the window as large as the input
        kernel = [s + (0 if not sym or s % 2 else -1) for s in sizes]
    attrs = []
    if not pool:
        most = (20 if big else 5) if kind == "conv" else 3
        attrs.append(["filters", rng.randint(1, most)])
    attrs.append(["size" if pool else "kernel", per_axis(rng, kernel)])
    if rng.random() < (0.5 if pool else 0.3):
        attrs.append(["stride", per_axis(rng, [rng.choice([1, 1, 2, 3, 4])
                                              for _ in sizes])])
    if not pool and rng.random() < 0.25:
        attrs.append(["dilation", per_axis(rng, [rng.choice([1, 2, 3, 4])
                                                for _ in sizes])])
    pad = gen_padding(rng, kind, sizes, kernel)
    if pad is not None:
        attrs.append(["padding", pad])
        if pad == "same":  # stride 1 (pooling's default stride is size)
            attrs = [a for a in attrs if a[0] != "stride"]
            if pool:
                attrs.append(["stride", 1])
    gen_common(rng, kind, attrs, shape, sym)
    return attrs


def gen_common(rng, kind, attrs, shape, sym):
    """activation, bias, symmetric, connect (where the kind takes them)."""
    if rng.random() < 0.5:
        attrs.append(["activation", rng.choice(netspec.ACTIVATIONS)])
    if kind in ("conv", "local", "dense") and rng.random() < 0.3:
        attrs.append(["bias", rng.random() < 0.3])
    if kind == "conv" and (sym or rng.random() < 0.05):
        attrs.append(["symmetric", sym])
    if kind == "conv" and rng.random() < 0.25:
        filters = attr({"attrs": attrs}, "filters")
        rows = []
        for _ in range(filters):
            row = rng.sample(range(shape[0]), rng.randint(1, shape[0]))
            rows.append(row if rng.random() < 0.5 else sorted(row))
        attrs.append(["connect", rows])


def gen_layer(rng, shape, index, big):
    """A random layer statement for input `shape` (may be invalid)."""
    if len(shape) == 1:
        kind = rng.choices(["dense", "relu", "sigmoid", "tanh", "flatten"],
                           [8, 1, 1, 1, 0.3])[0]
    else:
        kind = rng.choices(["conv", "local", "maxpool", "avgpool", "relu",
                            "sigmoid", "tanh", "flatten"],
                           [6, 2, 2.5, 2.5, 0.6, 0.6, 0.6, 0.6])[0]
    L = {"kind": kind, "name": None, "attrs": []}
    if kind in ("conv", "local", "maxpool", "avgpool"):
        L["attrs"] = gen_window(rng, kind, shape, big)
    elif kind == "dense":
        L["attrs"] = [["units", rng.randint(1, 40 if big else 12)]]
        gen_common(rng, kind, L["attrs"], shape, False)
    if rng.random() < 0.3:
        rng.shuffle(L["attrs"])
    if rng.random() < 0.4:  # a name of its own, or its default spelt out
        L["name"] = rng.choice(["n%d_%s" % (index, kind[:2]),
                                "%s%d" % (kind, index)])
    return L


def layer_cost(P):
    """(largest activation, parameters, largest multiply-adds) of a parsed
    spec."""
    act, macs = max(math.prod(P["input"]), 1), 0
    for L in P["layers"]:
        out = math.prod(L["out_shape"])
        act = max(act, out)
        k = math.prod(L.get("kernel", (1,)))
        if L["kind"] in ("conv", "local"):
            macs = max(macs, out * L["in_shape"][0] * k)
        elif L["kind"] == "dense":
            macs = max(macs, out * L["in_shape"][0])
    params = sum(math.prod(s) for s in netspec.param_shapes(P).values())
    return act, params, macs


def affordable(P, big):
    return all(x <= most for x, most in zip(layer_cost(P), LIMITS[big]))


def gen_input(rng, big):
    rank = rng.choices([0, 1, 2, 3], [1, 3, 4, 3])[0]
    if rank == 0:
        return [rng.randint(1, 100 if big else 24)]
    hi = {1: 24, 2: 10, 3: 6}[rank] * (4 if big and rank == 1 else
                                        3 if big else 1)
    sizes = [rng.randint(2, hi) if rng.random() < 0.92 else 1
             for _ in range(rank)]
    return [rng.choice([1, 1, 2, 2, 3, 4] +
                       ([5, 7, 8, 9, 12, 16] if big else []))] + sizes


def gen_body(rng, spec, nlayers, big):
    """Appends up to nlayers valid, affordable layers to spec."""
    P, _ = try_parse(spec)
    for _ in range(nlayers):
        for _attempt in range(25):
            L = gen_layer(rng, P["out_shape"], len(spec["layers"]) + 1, big)
            spec["layers"].append(L)
            Q, _ = try_parse(spec)
            if Q is not None and affordable(Q, big):
                P = Q
                break
            spec["layers"].pop()
    return P


def gen_tail(rng, spec, P, big):
    """The loss, and a flatten + dense when the loss needs a vector."""
    out = P["out_shape"]
    ce = rng.random() < 0.6
    if len(out) > 1 and (ce or math.prod(out) > 400 or rng.random() < 0.3):
        n = len(spec["layers"])
        spec["layers"].append({"kind": "flatten", "name": None, "attrs": []})
        spec["layers"].append({"kind": "dense", "name": None,
                               "attrs": [["units", rng.randint(1, 6)]]})
        if rng.random() < 0.3:
            spec["layers"][n + 1]["attrs"].append(
                ["activation", rng.choice(netspec.ACTIVATIONS)])
        if not affordable(try_parse(spec)[0] or P, big):
            spec["layers"] = spec["layers"][:n]
            ce = False
    if not spec["layers"]:  # nothing fitted (a tiny input): an activation
        spec["layers"].append({"kind": rng.choice(["relu", "tanh"]),
                               "name": None, "attrs": []})
    spec["loss"] = "softmax_cross_entropy" if ce else "mse"


def gen_train(rng):
    if rng.random() < 0.3:
        return None
    keys = [("optimizer", lambda: "sgd"),
            ("lr", lambda: gen_float(rng, 0.01, 0.5, 0.05)),
            ("momentum", lambda: gen_float(rng, 0.0, 0.95)),
            ("weight_decay", lambda: gen_float(rng, 0.0, 0.2)),
            ("batch", lambda: rng.randint(1, 64)),
            ("epochs", lambda: rng.randint(1, 5)),
            ("seed", lambda: rng.randint(0, 1000))]
    chosen = [(k, f()) for k, f in keys if rng.random() < 0.5]
    if rng.random() < 0.3:
        rng.shuffle(chosen)
    return [list(kv) for kv in chosen]


def gen_args(rng):
    args = []
    if rng.random() < 0.6:
        args += ["--lr", str(round(rng.uniform(0.02, 0.5), 3))]
    if rng.random() < 0.5:
        args += ["--momentum", str(rng.choice([0, 0.5, 0.9, 0.95]))]
    if rng.random() < 0.5:
        args += ["--weight-decay", str(rng.choice([0, 0.01, 0.1, 0.2]))]
    return args


def gen_decor(rng, spec):
    """Comments of the three kinds, explicit default names."""
    if rng.random() < 0.2:
        spec["header"] = rng.choice(["// random network", "# random",
                                     "/* random\n   network */"])
    for L in spec["layers"]:
        if rng.random() < 0.1:
            L["comment"] = rng.choice(["  // c", "  # c", "  /* c */"])
    spec["train_first"] = rng.random() < 0.1


def gen_case(seed, index, large=BIG_SHARE):
    """The case (seed, index): a valid spec, batch size and step flags;
    `large` is the share of large cases."""
    key = "%s:%d" % (seed, index)
    rng = random.Random(key)
    big = rng.random() < large
    spec = {"name": "r%d" % index, "input": gen_input(rng, big),
            "layers": [], "loss": None, "train": None}
    P = gen_body(rng, spec, rng.randint(2, 6), big)
    gen_tail(rng, spec, P, big)
    spec["train"] = gen_train(rng)
    gen_decor(rng, spec)
    return {"key": key, "spec": spec, "n": rng.randint(1, 17),
            "args": gen_args(rng), "mutants": rng.randint(0, 2**31),
            "big": big, "labels32": rng.random() < 0.2}


# ------------------------------------------------------------ mutants
# Each takes (rng, spec, parsed) and edits spec in place towards a rule's
# boundary: the result may or may not be valid; cnnc and netspec must agree.

WINDOWED = ("conv", "local", "maxpool", "avgpool")


def pick(rng, spec, kinds):
    idx = [i for i, L in enumerate(spec["layers"]) if L["kind"] in kinds]
    return rng.choice(idx) if idx else None


def mut_kernel_edge(rng, spec, P):
    """A window of the padded input's size, or one more / one less."""
    i = pick(rng, spec, WINDOWED)
    if i is None:
        return
    L, Q = spec["layers"][i], P["layers"][i]
    dl = Q["dilation"]
    ks = [max(1, (n + lo + hi - 1) // d + 1 + rng.choice([-1, 0, 0, 1]))
          for n, (lo, hi), d in zip(Q["in_shape"][1:], Q["pads"] or
                                    [(0, 0)] * len(dl), dl)]
    set_attr(L, "size" if L["kind"].endswith("pool") else "kernel",
             per_axis(rng, ks))


def mut_pad_edge(rng, spec, P):
    """reflect / circular / maxpool zero padding at its limit."""
    i = pick(rng, spec, WINDOWED)
    if i is None:
        return
    L, Q = spec["layers"][i], P["layers"][i]
    mode = rng.choice(["reflect", "circular", "zero", "replicate"])
    ref = Q["kernel"] if mode == "zero" else Q["in_shape"][1:]
    ns = [max(0, n + rng.choice([-1, 0, 1])) for n in ref]
    set_attr(L, "padding", Call(mode, per_axis(rng, ns)))


def mut_same_stride(rng, spec, P):
    i = pick(rng, spec, WINDOWED)
    if i is not None:
        set_attr(spec["layers"][i], "padding", "same")
        if rng.random() < 0.5:
            set_attr(spec["layers"][i], "stride", rng.choice([1, 2, [1, 2]]))


def mut_symmetric(rng, spec, P):
    i = pick(rng, spec, ("conv", "local"))
    if i is not None:
        L = spec["layers"][i]
        set_attr(L, "symmetric", True)
        if rng.random() < 0.5:
            set_attr(L, "kernel", rng.choice([1, 2, 3, 4, [3, 2], [1, 3, 5]]))


def mut_connect(rng, spec, P):
    i = pick(rng, spec, ("conv", "local", "dense"))
    if i is None:
        return
    L = spec["layers"][i]
    f = attr(L, "filters", 2)
    f = f if isinstance(f, int) and not isinstance(f, bool) else 2
    rows = [[rng.randint(0, 4) for _ in range(rng.randint(0, 3))]
            for _ in range(max(0, f + rng.choice([-1, 0, 0, 1])))]
    set_attr(L, "connect", rng.choice([rows, [0, 1], 3, [[0, -1]]]))


def mut_list_len(rng, spec, P):
    i = pick(rng, spec, WINDOWED)
    if i is None:
        return
    L = spec["layers"][i]
    key = rng.choice(["kernel", "stride", "dilation", "size", "padding"])
    val = [rng.randint(1, 3) for _ in range(rng.randint(0, 4))]
    set_attr(L, key, Call("zero", val) if key == "padding" else val)


def mut_drop_layer(rng, spec, P):
    if len(spec["layers"]) > 1:
        del spec["layers"][rng.randrange(len(spec["layers"]))]


def mut_names(rng, spec, P):
    """A name equal to another layer's (explicit or default) name."""
    names = [L["name"] or "%s%d" % (L["kind"], i + 1)
             for i, L in enumerate(spec["layers"])]
    i = rng.randrange(len(names))
    spec["layers"][i]["name"] = rng.choice(names + ["%s%d" % (
        rng.choice(netspec.LAYER_KINDS), rng.randint(1, 8))])


def mut_bad_value(rng, spec, P):
    i = rng.randrange(len(spec["layers"]))
    L = spec["layers"][i]
    key = rng.choice(["filters", "units", "kernel", "size", "stride",
                      "dilation", "padding", "activation", "bias",
                      "symmetric", "connect"])
    val = rng.choice([0, -1, Lit("1.5"), Lit("2.0"), "relu", True, [], [0],
                      "valid", Call("zero", -1), Call("same", 1), 1, "zero",
                      Call("reflect", [1, 0]), Call("mirror", 1), "softmax",
                      Call("zero", Call("zero", 1))])
    if rng.random() < 0.5 or attr(L, key) is not None:
        set_attr(L, key, val)
    else:
        L["attrs"].append([key, val])
    if rng.random() < 0.2 and L["attrs"]:
        L["attrs"].append(list(rng.choice(L["attrs"])))  # repeated key


def mut_train(rng, spec, P):
    key = rng.choice(["optimizer", "lr", "momentum", "weight_decay", "batch",
                      "epochs", "seed", "nesterov", "lr"])
    val = rng.choice([0, 1, -1, Lit("-0.5"), Lit("1e-3"), Lit("2.5"), "sgd",
                      "adam", True, [1], Lit("1e40")])
    spec["train"] = (spec["train"] or []) + [[key, val]]


def mut_input(rng, spec, P):
    dims = list(spec["input"])
    if not dims:
        return
    op = rng.choice(["zero", "drop", "add", "empty", "float"])
    if op == "zero":
        dims[rng.randrange(len(dims))] = 0
    elif op == "drop" and len(dims) > 1:
        dims.pop()
    elif op == "add":
        dims.append(rng.randint(1, 4))
    elif op == "empty":
        dims = []
    else:
        dims[0] = Lit("2.0")
    spec["input"] = dims


def mut_loss(rng, spec, P):
    spec["loss"] = rng.choice(["mse", "softmax_cross_entropy", "hinge"])


MUTATIONS = [mut_kernel_edge, mut_kernel_edge, mut_pad_edge, mut_pad_edge,
             mut_same_stride, mut_symmetric, mut_connect, mut_list_len,
             mut_drop_layer, mut_names, mut_bad_value, mut_bad_value,
             mut_train, mut_input, mut_loss]


TOKEN = re.compile(r"\s+|//[^\n]*|#[^\n]*|/\*.*?\*/|"
                   r"-?\d+(\.\d*)?([eE][+-]?\d+)?|\w+|.", re.S)
WORDS = list(netspec.LAYER_KINDS) + list(netspec.ACTIVATIONS) + [
    "network", "input", "loss", "train", "mse", "sgd", "true", "false",
    "valid", "same", "zero", "reflect", "filters", "kernel", "size",
    "stride", "padding", "units", "connect", "symmetric", "lr", "batch"]
# Small numbers only: sizes past 2^31 are cnnc's documented limit.
NUMBERS = ["0", "1", "2", "3", "7", "-1", "2.5", "1e-3", "0.0"]


def mut_text(rng, text):
    """One token deleted, repeated, swapped or replaced: syntax errors and
    odd but valid forms for both parsers."""
    toks = [m.group() for m in TOKEN.finditer(text)]
    idx = [i for i, t in enumerate(toks) if not t.isspace()]
    i = rng.choice(idx)
    op = rng.choice(["delete", "repeat", "swap", "number", "word", "punct"])
    if op == "delete":
        toks[i] = " "
    elif op == "repeat":
        toks[i] += " " + toks[i]
    elif op == "swap" and i + 2 < len(toks):
        toks[i], toks[i + 2] = toks[i + 2], toks[i]
    elif op == "number":
        toks[i] = rng.choice(NUMBERS)
    elif op == "word":
        toks[i] = rng.choice(WORDS)
    else:
        toks[i] = rng.choice(list("()[]{},;=") + ["/*", "//", "#"])
    return "".join(toks)


def gen_mutants(case, P, count):
    """count specs near case's: edited attributes, or edited text."""
    rng = random.Random(case["mutants"])
    out = []
    for _ in range(count):
        spec = copy.deepcopy(case["spec"])
        if rng.random() < 0.25:
            spec = render(spec)
            for _ in range(rng.choice([1, 1, 2])):
                spec = mut_text(rng, spec)
        else:
            for _ in range(rng.choice([1, 1, 1, 2])):
                rng.choice(MUTATIONS)(rng, spec, P)
        out.append(spec)
    return out


# ------------------------------------------------------------ running

def run(cmd, log, env=None, timeout=LIMIT_S):
    """Runs cmd, appending its output to log; returns (exit code, output);
    a timeout is exit code 124."""
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env,
                           timeout=timeout)
        code, out = r.returncode, r.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired:
        code, out = 124, "timed out after %d s\n" % timeout
    with open(log, "a") as f:
        f.write("$ %s\n%s" % (" ".join(cmd), out))
    return code, out


def cnnc_accepts(cfg, path, log):
    """True/False for `cnnc --check`, or a string if it crashed."""
    code, out = run([cfg.cnnc, "--check", path], log)
    if code in (0, 1):
        return code == 0
    return "cnnc --check exited with %d: %s" % (code, out.strip()[-200:])


def mismatches(out):
    """npzcmp's failing keys, 'KEY (max abs err E)'."""
    bad = []
    for line in out.splitlines():
        m = re.match(r"(\S+)\s+(MISMATCH|MISSING|SHAPE)(.*)", line)
        if m:
            e = re.search(r"max abs err (\S+);", m.group(3))
            bad.append("%s %s" % (m.group(1), e.group(1) if e else
                                  m.group(2).lower()))
    return ", ".join(bad) or out.strip()[-200:]


def write_data(case, P, d):
    """Weights, batch and PyTorch's answers for case into directory d.
    Returns None, or how torch's float32 answers differ from its float64
    ones (then the float64 ones are the expected answers)."""
    gen = torch.Generator().manual_seed(zlib.crc32(case["key"].encode()))
    weights = golden.make_weights(P, gen)
    x, y = golden.make_batch(P, case["n"], gen)
    hp = golden.hyperparams(P, " ".join(case["args"]))
    grad, stepped = golden.compute(P, weights, x, y, hp)
    grad64, stepped64 = golden.compute(P, weights, x, y, hp,
                                       dtype=torch.float64)
    np.savez(os.path.join(d, "weights.npz"),
             **{k: golden.f32(v) for k, v in weights.items()})
    np.save(os.path.join(d, "input.npy"), golden.f32(x))
    itype = np.int32 if case.get("labels32") else np.int64  # both allowed
    np.save(os.path.join(d, "labels.npy"), y.numpy().astype(itype)
            if y.dtype == torch.int64 else golden.f32(y))
    unstable = reference_check({**grad, **stepped}, {**grad64, **stepped64})
    if unstable:
        grad, stepped = grad64, stepped64
    np.savez(os.path.join(d, "expected_grad.npz"), **grad)
    np.savez(os.path.join(d, "expected_step.npz"), **stepped)
    with open(os.path.join(d, "args"), "w") as f:
        f.write(" ".join(case["args"]) + "\n")
    return unstable


def reference_check(f32, f64):
    """The reference against itself in float64, at the golden tolerance:
    None, or which arrays differ (a wrong float32 kernel in torch, or a
    case too ill-conditioned to judge cnnc by)."""
    bad = []
    for k, e in f64.items():
        err = np.abs(f32[k].astype(np.float64) - e)
        if (err > 1e-4 + 2e-3 * np.abs(e)).any():
            bad.append("%s %.3g" % (k, err.max()))
    return ", ".join(bad) or None


def run_program(cfg, case, d, cmd, threads, log):
    """One `net grad` or `net step --steps 2` run and its comparison:
    None if it agrees with PyTorch, else what went wrong."""
    data = ["--weights", d + "/weights.npz", "--input", d + "/input.npy",
            "--labels", d + "/labels.npy", "--threads", str(threads)]
    extra = ["--steps", "2"] + case["args"] if cmd == "step" else []
    got = "%s/%s_t%d.npz" % (d, cmd, threads)
    code, out = run([d + "/net", cmd] + data + extra + ["--output", got],
                    log)
    if code != 0:
        return "exit %d: %s" % (code, out.strip()[-200:])
    code, out = run([cfg.npzcmp] + TOL + ["%s/expected_%s.npz" % (d, cmd),
                                          got], log)
    return None if code == 0 else mismatches(out)


def first_error(out):
    """The first error line of a failed build (the C compiler's or
    cnnc's), without the temporary directory's name."""
    lines = [ln for ln in out.splitlines() if "error" in ln] or \
        out.strip().splitlines()[-1:] or ["(no output)"]
    return re.sub(r"^\S*/net\.c:", "net.c:", lines[0].strip())


def run_valid(cfg, case, P, d, log, want=None):
    """Builds a valid case and compares every run; [(stage, detail)]."""
    unstable = write_data(case, P, d)
    fails = [("reference", "torch float32 vs float64: " + unstable)] \
        if unstable else []
    env = dict(os.environ, CNNC_CFLAGS=cfg.cflags)
    code, out = run([cfg.cnnc, d + "/net.net", "-o", d + "/net"], log, env,
                    timeout=300)
    if code != 0:
        return fails + [("build", "exit %d: %s" % (code, first_error(out)))]
    for t in THREADS:
        for cmd in ("grad", "step"):
            stage = "%s t%d" % (cmd, t)
            if want is None or want == stage:
                why = run_program(cfg, case, d, cmd, t, log)
                if why:
                    fails.append((stage, why))
    return fails


ACCEPT_STAGES = ("accept", "reject", "crash", "netspec crash")


def accept_check(cfg, spec, path, log):
    """None if cnnc and netspec agree on whether spec is valid."""
    with open(path, "w") as f:
        f.write(render(spec))
    P, why = try_parse(spec)
    cc = cnnc_accepts(cfg, path, log)
    if isinstance(cc, str):
        return ("crash", cc)
    if why and why.startswith("netspec raised"):
        return ("netspec crash", why)
    if cc == (P is not None):
        return None
    if cc:
        return ("accept", "cnnc accepts, netspec rejects: %s" % why)
    return ("reject", "cnnc rejects, netspec accepts: %s" %
            last_error(path, log))


def last_error(path, log):
    with open(log) as f:
        lines = [ln for ln in f.read().splitlines() if ": error: " in ln]
    return lines[-1].split(": error: ", 1)[1] if lines else "?"


def run_case(cfg, case, d, nmutants=0, want=None):
    """Every check of one case in directory d: [(stage, detail, spec)],
    spec being the case's or the failing mutant's.  want = one stage:
    only that check (for shrinking)."""
    log, path = os.path.join(d, "log"), os.path.join(d, "net.net")
    spec = case["spec"]
    P, why = try_parse(spec)
    if want is None or want in ACCEPT_STAGES:
        bad = accept_check(cfg, spec, path, log)
        if bad or want is not None:
            return [bad + (spec,)] if bad else []
    else:
        with open(path, "w") as f:
            f.write(render(spec))
    if P is None:
        return [("generator", "netspec rejects the case: %s" % why, spec)]
    fails = [f + (spec,) for f in run_valid(cfg, case, P, d, log, want)]
    for i, m in enumerate(gen_mutants(case, P, nmutants)):
        bad = accept_check(cfg, m, os.path.join(d, "mutant%d.net" % i), log)
        if bad:
            fails.append((bad[0], "mutant%d.net: %s" % (i, bad[1]), m))
    return fails


# ------------------------------------------------------------ shrinking

REQUIRED = {"filters", "kernel", "size", "units"}


def smaller(v):
    """Simpler versions of one attribute value."""
    if isinstance(v, bool) or isinstance(v, Lit):
        return []
    if isinstance(v, int):
        return sorted({x for x in (1, v // 2, v - 1) if 0 < x < v})
    if isinstance(v, Call):
        return ["valid"] + [Call(v.fn, a) for a in smaller(v.arg)]
    if not isinstance(v, list):
        return []
    out = []
    if v and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        out.append(v[0])
    for i, x in enumerate(v):
        if isinstance(x, list) and len(x) > 1:  # a connect row
            out += [v[:i] + [x[:j] + x[j + 1:]] + v[i + 1:]
                    for j in range(len(x))]
        else:
            out += [v[:i] + [y] + v[i + 1:] for y in smaller(x)]
    return out


def spec_candidates(spec):
    """Specs one simplification smaller than spec (none for a text)."""
    if isinstance(spec, str):
        return
    def edit(fn):
        s = copy.deepcopy(spec)
        fn(s)
        return s
    for i in range(len(spec["layers"])):
        yield edit(lambda s: s["layers"].pop(i))
    if spec.get("header") or spec.get("train_first") or spec["train"]:
        yield edit(lambda s: s.update(header=None, train_first=False,
                                      train=None))
    for i, L in enumerate(spec["layers"]):
        if L["name"] or L.get("comment"):
            yield edit(lambda s: s["layers"][i].update(name=None,
                                                       comment=None))
        for j, (k, v) in enumerate(L["attrs"]):
            if k not in REQUIRED:
                yield edit(lambda s: s["layers"][i]["attrs"].pop(j))
            for w in smaller(v):
                yield edit(lambda s: s["layers"][i]["attrs"][j]
                           .__setitem__(1, w))
    for j, _ in enumerate(spec["train"] or []):
        yield edit(lambda s: s["train"].pop(j))
    for w in smaller(spec["input"]):
        yield edit(lambda s: s.update(input=w))


def case_candidates(case):
    """Cases one simplification smaller: batch, flags, then the spec."""
    if case["n"] > 1:
        yield dict(case, n=1)
        yield dict(case, n=case["n"] // 2)
    a = case["args"]
    for i in range(0, len(a), 2):
        yield dict(case, args=a[:i] + a[i + 2:])
    for s in spec_candidates(case["spec"]):
        yield dict(case, spec=s)


def shrink(cfg, case, fail, workdir):
    """Greedily the smallest case whose check `fail` still fails (for a
    disagreement on acceptance or a build failure: with the same message,
    so that shrinking does not drift to another bug)."""
    stage = fail[0]
    runtime = stage not in ACCEPT_STAGES
    same = (lambda f: f[0] == stage) if runtime and stage != "build" else \
        (lambda f: signature(f) == signature(fail))
    tries, changed = 0, True
    while changed:
        changed = False
        for cand in case_candidates(case):
            if runtime and try_parse(cand["spec"])[0] is None:
                continue
            tries += 1
            d = tempfile.mkdtemp(dir=workdir)
            fails = run_case(cfg, cand, d, 0, stage)
            shutil.rmtree(d, ignore_errors=True)
            if any(same(f) for f in fails):
                case, changed = cand, True
                break
    return case, tries


# ------------------------------------------------------------ coverage

def forms(spec, P):
    """The language forms a valid case uses, as short strings."""
    rank = len(P["input"]) - 1
    out = {"input %s" % ("vector" if rank == 0 else "%d-D" % rank),
           "loss " + P["loss"]}
    for S, L in zip(spec["layers"], P["layers"]):
        r = len(L["in_shape"]) - 1
        kind = L["kind"]
        out.add("%s %s" % (kind, "vector" if r == 0 else "%d-D" % r))
        if kind in WINDOWED:
            group = "pool" if kind.endswith("pool") else kind
            out.add("%s padding %s" % (kind, L["padding"]))
            out.add("%d-D padding %s" % (r, L["padding"]))
            if isinstance(attr(S, "padding"), Call) and \
                    isinstance(attr(S, "padding").arg, list):
                out.add("per-axis padding (%s)" % group)
            for key, val in (("stride", L["stride"]),
                             ("dilation", L["dilation"])):
                if max(val) > 1:
                    out.add("%s %s > 1" % (group, key))
            for key, val in S["attrs"]:
                if isinstance(val, list) and key != "connect" and r > 1:
                    out.add("per-axis list (%s)" % key)
        for key in ("symmetric", "connect"):
            if L.get(key):
                out.add("conv %s %d-D" % (key, r))
        if L.get("bias") is False:
            out.add("bias = false (%s)" % kind)
        if L.get("activation", "none") != "none":
            out.add("activation = %s" % L["activation"])
    for k, _ in spec["train"] or []:
        out.add("train %s" % k)
    return out


# ------------------------------------------------------------ driver

def one(job):
    """Runs case `index` (in a worker): its record for the summary."""
    cfg, index = job
    torch.set_num_threads(1)
    case = gen_case(cfg.seed, index, cfg.large)
    d = tempfile.mkdtemp(dir=cfg.tmp, prefix="c%d-" % index)
    t0 = time.time()
    try:
        fails = run_case(cfg, case, d, cfg.mutants)
    except Exception as e:  # a bug of this tester: say so, go on
        fails = [("tester", "%s: %s" % (type(e).__name__, e), case["spec"])]
    rec = {"index": index, "key": case["key"], "fails": fails,
           "secs": time.time() - t0, "forms": set(), "shrunk": None}
    P, _ = try_parse(case["spec"])
    if P is not None:
        rec["forms"] = forms(case["spec"], P) | {
            "size " + ("large" if case["big"] else "small")}
        if case["labels32"] and P["loss"] == "softmax_cross_entropy":
            rec["forms"].add("int32 labels")
    if fails and cfg.keep:
        dst = os.path.join(cfg.keep, case["key"].replace(":", "-"))
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(d, dst)
    shutil.rmtree(d, ignore_errors=True)
    if fails and cfg.shrink and fails[0][0] != "tester":
        try:
            rec["shrunk"] = shrink(cfg, dict(case, spec=fails[0][2]),
                                   fails[0], cfg.tmp)
        except Exception as e:  # a bug of this tester: say so, go on
            rec["fails"].append(("tester", "shrink: %s: %s" %
                                 (type(e).__name__, e), case["spec"]))
    return rec


def report(rec, out):
    """One line per failing case: its stages, then each distinct detail."""
    if rec["fails"]:
        stages = ", ".join(f[0] for f in rec["fails"])
        details = []
        for f in rec["fails"]:
            if f[1] not in details:
                details.append(f[1])
        out.write("FAIL %s (%s) %s\n" % (rec["key"], stages,
                                          " | ".join(details)))
    if rec["shrunk"]:
        case, tries = rec["shrunk"]
        out.write("  minimal (after %d tries): batch %d, step flags '%s'\n"
                  % (tries, case["n"], " ".join(case["args"])))
        out.write("".join("  | " + ln + "\n"
                          for ln in render(case["spec"]).splitlines()))
    out.flush()


def signature(fail):
    """A failure without its numbers, names and places: groups alike ones
    (a disagreement on acceptance by netspec's or cnnc's message)."""
    stage, detail = fail[0], re.sub(r"^mutant\d+\.net: ", "", fail[1])
    if stage in ACCEPT_STAGES:
        detail = detail.split(": error: ")[-1].split(" accepts: ")[-1]
        detail = re.sub(r"^.*\(input \[[\d, ]*\]\): ", "", detail)
        detail = re.sub(r"'[A-Za-z_]\w*'", "'X'", detail)
    elif stage.startswith(("grad", "step")):
        stage = stage.split()[0]
        detail = " ".join(sorted({re.sub(r"^\w+\.", "", k.split()[0])
                                  for k in detail.split(", ")}))
    return stage + ": " + re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "N", detail)


def summary(recs, secs, cfg):
    failed = [r for r in recs if r["fails"]]
    stages, kinds = {}, {}
    for r in failed:
        for f in r["fails"]:
            stages[f[0]] = stages.get(f[0], 0) + 1
        for sig in {signature(f) for f in r["fails"]}:
            kinds.setdefault(sig, []).append(r["key"])
    for sig, keys in sorted(kinds.items(), key=lambda kv: -len(kv[1])):
        print("%5d cases  %s  (e.g. %s)" % (len(keys), sig,
                                             " ".join(keys[:3])))
    covered = {}
    for r in recs:
        for f in r["forms"]:
            covered[f] = covered.get(f, 0) + 1
    if cfg.verbose:
        for f in sorted(covered):
            print("  %5d  %s" % (covered[f], f))
    print("randnet: seed %s, %d cases (%d mutants each), %d failed%s; "
          "%d forms covered; %.0f s" %
          (cfg.seed, len(recs), cfg.mutants, len(failed),
           " (" + ", ".join("%s %d" % kv for kv in sorted(stages.items()))
           + ")" if stages else "", len(covered), secs))
    return 1 if failed else 0


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--seed", default="1")
    ap.add_argument("--first", type=int, default=0,
                    help="index of the first case (rerun one: --first I "
                    "--count 1)")
    ap.add_argument("--keep", help="keep failing cases' directories here")
    ap.add_argument("--shrink", action="store_true")
    ap.add_argument("--cflags", default="",
                    help="CNNC_CFLAGS for the generated program's build")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--large", type=float, default=BIG_SHARE,
                    help="share of large cases (default 1/6)")
    ap.add_argument("--mutants", type=int, default=3,
                    help="accept/reject mutants per case")
    ap.add_argument("--net", help="run this .net file instead")
    ap.add_argument("--batch", type=int, default=3, help="with --net")
    ap.add_argument("--step-args", default="", help="with --net")
    ap.add_argument("--verbose", action="store_true",
                    help="print the forms covered")
    ap.add_argument("--cnnc", default=os.path.join(ROOT, "build", "cnnc"))
    ap.add_argument("--npzcmp", default=os.path.join(ROOT, "build",
                                                     "npzcmp"))
    return ap.parse_args(argv)


def run_net_file(cfg):
    """--net FILE: one hand-written spec, checked as a generated one."""
    with open(cfg.net) as f:
        text = f.read()
    d = tempfile.mkdtemp(dir=cfg.tmp)
    shutil.copy(cfg.net, os.path.join(d, "net.net"))
    case = {"key": "net:" + os.path.basename(cfg.net), "n": cfg.batch,
            "args": cfg.step_args.split()}
    log = os.path.join(d, "log")
    try:
        P = netspec.parse(text, cfg.net)
    except netspec.SpecError as e:
        print("netspec rejects %s: %s" % (cfg.net, e))
        return 1
    fails = run_valid(cfg, case, P, d, log)
    for stage, detail in fails:
        print("FAIL %s %s: %s" % (cfg.net, stage, detail))
    if cfg.keep:
        shutil.copytree(d, os.path.join(cfg.keep, os.path.basename(
            cfg.net)), dirs_exist_ok=True)
    print("%s: %s" % (cfg.net, "FAIL" if fails else "ok"))
    return 1 if fails else 0


def main(argv):
    cfg = parse_args(argv)
    cfg.cnnc, cfg.npzcmp = os.path.abspath(cfg.cnnc), \
        os.path.abspath(cfg.npzcmp)
    cfg.keep = os.path.abspath(cfg.keep) if cfg.keep else None
    if cfg.keep:
        os.makedirs(cfg.keep, exist_ok=True)
    cfg.tmp = tempfile.mkdtemp(prefix="randnet-")
    torch.set_num_threads(1)
    try:
        if cfg.net:
            return run_net_file(cfg)
        t0 = time.time()
        jobs = [(cfg, i) for i in range(cfg.first, cfg.first + cfg.count)]
        recs = []
        if cfg.jobs > 1:
            with multiprocessing.Pool(cfg.jobs) as pool:
                for rec in pool.imap(one, jobs):
                    report(rec, sys.stdout)
                    recs.append(rec)
        else:
            for job in jobs:
                rec = one(job)
                report(rec, sys.stdout)
                recs.append(rec)
        return summary(recs, time.time() - t0, cfg)
    finally:
        shutil.rmtree(cfg.tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
