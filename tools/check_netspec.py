#!/usr/bin/python3
"""check_netspec.py - checks the reference (tools/netspec.py) that judges the
golden tests, against things it does not share code with:
  * the LeNet of LANGUAGE.md against a hand-written torch.nn.Sequential
    (outputs, loss, gradients, 2 SGD steps);
  * every windowed layer (conv, local, maxpool, avgpool in 1-D/2-D/3-D, all
    padding modes, per-axis kernel/stride/dilation, connect) against a naive
    float64 loop over LANGUAGE.md's formula "output i reads input
    stride*i + dilation*j - pad", with its own padding index rules;
  * padding against PyTorch built-ins: nn.ConvNd(padding='same'), conv
    padding_mode replicate/reflect/circular, nn.MaxPoolNd / nn.AvgPoolNd
    (count_include_pad) with zero padding;
  * the tied-weight gradient convention (symmetric) by finite differences
    on the free parameters, and masked gradients (connect) are zero;
  * the parser: comments, default names, shapes, and rejected specs.
Run: /usr/bin/python3 tools/check_netspec.py   (prints 'N passed, N failed')
"""

import itertools
import warnings
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netspec  # noqa: E402
import golden  # noqa: E402

torch.set_num_threads(1)
# nn.Conv(padding="same") with an even kernel warns that it copies: expected
warnings.filterwarnings("ignore", message="Using padding=.same.")
RESULTS = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    if not ok:
        print("FAIL %s %s" % (name, detail))


def close(name, a, b, tol=1e-9):
    a = np.asarray(a.detach() if torch.is_tensor(a) else a, np.float64)
    b = np.asarray(b.detach() if torch.is_tensor(b) else b, np.float64)
    ok = a.shape == b.shape and np.allclose(a, b, rtol=tol, atol=tol)
    err = float(np.abs(a - b).max()) if a.shape == b.shape else None
    check(name, ok, "shape %s vs %s, max err %s" % (a.shape, b.shape, err))


# ------------------------------------------------------------ naive layers

def src_index(i, n, lo, mode):
    """Index into an unpadded axis of size n for padded-coordinate i (the
    position stride*p + dilation*j, measured from the padded start), or
    None for a zero-padding position."""
    t = i - lo
    if 0 <= t < n:
        return t
    if mode in ("zero", "same", "valid"):
        return None
    if mode == "replicate":
        return min(max(t, 0), n - 1)
    if mode == "reflect":  # mirror without repeating the edge
        return -t if t < 0 else 2 * (n - 1) - t
    if mode == "circular":
        return t % n
    raise ValueError(mode)


def taps(L, p):
    """For output position p: [(j, source index or None)] over the kernel."""
    spatial = L["in_shape"][1:]
    out = []
    for j in itertools.product(*[range(k) for k in L["kernel"]]):
        src = []
        for ax in range(len(spatial)):
            i = L["stride"][ax] * p[ax] + L["dilation"][ax] * j[ax]
            src.append(src_index(i, spatial[ax], L["pads"][ax][0],
                                 L["padding"]))
        out.append((j, None if None in src else tuple(src)))
    return out


def naive(L, x, w=None, b=None):
    """float64 numpy forward of one windowed layer, from the formula."""
    n = x.shape[0]
    P = L["out_shape"][1:]
    y = np.zeros((n,) + tuple(L["out_shape"]))
    for p in itertools.product(*[range(s) for s in P]):
        tp = taps(L, p)
        for s in range(n):
            if L["kind"] in ("maxpool", "avgpool"):
                for c in range(x.shape[1]):
                    vals = [x[(s, c) + src] for _, src in tp if src]
                    if L["kind"] == "maxpool":
                        y[(s, c) + p] = max(vals)
                    else:  # zero padding counted in the mean
                        y[(s, c) + p] = sum(vals) / len(tp)
                continue
            for o in range(L["filters"]):
                acc = 0.0
                for j, src in tp:
                    if src is None:
                        continue
                    if L["kind"] == "conv":
                        acc += np.dot(w[(o, slice(None)) + j],
                                      x[(s, slice(None)) + src])
                    else:  # local: weight [out, P.., in, k..]
                        acc += np.dot(w[(o,) + p + (slice(None),) + j],
                                      x[(s, slice(None)) + src])
                if b is not None:
                    acc += b[o] if L["kind"] == "conv" else b[(o,) + p]
                y[(s, o) + p] = acc
    act = L["activation"]
    if act == "relu":
        y = np.maximum(y, 0)
    elif act == "sigmoid":
        y = 1 / (1 + np.exp(-y))
    elif act == "tanh":
        y = np.tanh(y)
    return y


def one_layer(input_dims, layer):
    text = "network t { input %s; %s; }" % (list(input_dims), layer)
    spec = netspec.parse(text)
    return spec, spec["layers"][0]


def random_model(spec, seed, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    weights = golden.make_weights(spec, gen)
    model = netspec.build(spec).load(weights).to(dtype)
    return model, weights, gen


WINDOWED = [
    # (input, layer) - every padding mode in 1-D, 2-D, 3-D, per-axis forms
    ([2, 9], "conv (filters = 3, kernel = 3, stride = 2, dilation = 2, padding = zero(2))"),
    ([2, 8], "conv (filters = 2, kernel = 4, padding = same, activation = tanh)"),
    ([2, 7], "conv (filters = 2, kernel = 3, padding = reflect(2))"),
    ([2, 5], "conv (filters = 2, kernel = 3, dilation = 2, padding = circular(3))"),
    ([3, 7, 6], "conv (filters = 4, kernel = [3, 2], stride = [2, 1], dilation = [1, 2], padding = replicate([2, 1]), activation = relu)"),
    ([3, 7, 6], "conv (filters = 2, kernel = [2, 4], dilation = [3, 1], padding = same)"),
    ([3, 6, 6], "conv (filters = 2, kernel = 3, padding = reflect([1, 2]), bias = false)"),
    ([3, 6, 5], "conv (filters = 2, kernel = 3, stride = 2, padding = circular([1, 5]), activation = sigmoid)"),
    ([4, 6, 6], "conv (filters = 3, kernel = 3, padding = zero(1), connect = [[0, 1], [1, 2, 3], [3]])"),
    ([2, 4, 5, 6], "conv (filters = 2, kernel = [2, 3, 3], stride = [1, 2, 1], dilation = [1, 1, 2], padding = zero([1, 0, 2]))"),
    ([2, 4, 5, 4], "conv (filters = 2, kernel = 3, padding = reflect(1))"),
    ([2, 4, 5, 4], "conv (filters = 2, kernel = [3, 2, 3], padding = same)"),
    ([2, 3, 4, 4], "conv (filters = 2, kernel = 3, padding = replicate([2, 1, 1]), symmetric = true)"),
    ([2, 3, 4, 3], "conv (filters = 2, kernel = 3, padding = circular(1))"),
    ([2, 9], "local (filters = 3, kernel = 3, stride = 2, padding = replicate(1))"),
    ([3, 6, 7], "local (filters = 2, kernel = [3, 2], stride = [1, 2], dilation = [2, 1], padding = zero([1, 2]), activation = tanh)"),
    ([2, 5, 5], "local (filters = 2, kernel = 3, padding = same, bias = false)"),
    ([2, 4, 4, 5], "local (filters = 2, kernel = [2, 2, 3], padding = reflect(1))"),
    ([2, 9], "maxpool (size = 3, stride = 2, padding = zero(1))"),
    ([2, 9], "avgpool (size = 2, padding = replicate(1))"),
    ([2, 7, 8], "maxpool (size = [3, 2], stride = [1, 2], padding = zero([2, 1]))"),
    ([2, 7, 8], "avgpool (size = 3, stride = 1, padding = same)"),
    ([2, 7, 8], "maxpool (size = 3, stride = 1, padding = same)"),
    ([2, 6, 6], "avgpool (size = 3, stride = 2, padding = zero(1), activation = relu)"),
    ([2, 6, 6], "maxpool (size = 2, padding = circular(1))"),
    ([2, 6, 6], "avgpool (size = 3, stride = 3, padding = reflect([2, 1]))"),
    ([2, 4, 5, 6], "maxpool (size = [2, 3, 2], stride = [2, 1, 2], padding = zero(1))"),
    ([2, 4, 5, 6], "avgpool (size = 2, padding = zero([1, 1, 0]))"),
    ([2, 9], "conv (filters = 2, kernel = 3, padding = valid)"),
    ([2, 6, 7], "maxpool (size = 2, padding = valid)"),
]


def check_windowed():
    for i, (dims, layer) in enumerate(WINDOWED):
        spec, L = one_layer(dims, layer)
        model, weights, gen = random_model(spec, 100 + i)
        x = torch.randn((3,) + tuple(dims), generator=gen,
                        dtype=torch.float64)
        y = model(x)
        check("shape %s" % layer, tuple(y.shape[1:]) == L["out_shape"],
              "%s vs %s" % (tuple(y.shape[1:]), L["out_shape"]))
        w = weights.get(L["name"] + ".weight")
        b = weights.get(L["name"] + ".bias")
        close("naive %s %s" % (dims, layer), y,
              naive(L, x.numpy(), None if w is None else w.double().numpy(),
                    None if b is None else b.double().numpy()))
        # autograd of the padded/unfolded ops against finite differences
        if L["kind"] != "conv" or not L["symmetric"]:
            xs = x[:1].clone().requires_grad_(True)
            check("gradcheck %s" % layer,
                  torch.autograd.gradcheck(lambda t: model(t), (xs,)))


# Layers whose float32 weight gradient Debian's torch 1.13 got wrong with
# oneDNN (mkldnn) convolutions on; netspec turns them off.
FLOAT32_TRAPS = [
    ([2, 17, 14], "conv (filters = 1, kernel = [15, 14])"),
    ([2, 19, 14], "conv (filters = 1, kernel = [17, 14])"),
    ([2, 18, 14], "conv (filters = 3, kernel = [16, 14])"),
]


def check_float32():
    """The reference in float32 (what golden.py writes) against the same
    model in float64: gradients agree to float32 accuracy.  A wrong
    float32 kernel in torch shows here."""
    for i, (dims, layer) in enumerate(FLOAT32_TRAPS + WINDOWED[:6]):
        spec, L = one_layer(dims, layer)
        grads = []
        for dtype in (torch.float32, torch.float64):
            model, _, gen = random_model(spec, 300 + i, dtype)
            x = torch.randn((2,) + tuple(dims), generator=gen)
            g = torch.randn((2,) + L["out_shape"], generator=gen)
            model(x.to(dtype)).backward(g.to(dtype))
            grads.append(model.params()[L["name"] + ".weight"].grad)
        err = float((grads[0].double() - grads[1]).abs().max())
        scale = float(grads[1].abs().max())
        check("float32 %s %s" % (dims, layer), err <= 1e-5 * (1 + scale),
              "max err %.3g (largest %.3g)" % (err, scale))


def check_builtins():
    """Padding against PyTorch's own implementations."""
    g = torch.Generator().manual_seed(7)
    convs = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    cases = [
        ([2, 9], 4, 2, "same", "zeros", "same"),
        ([2, 9], 3, 3, "same", "zeros", "same"),
        ([2, 7, 8], (2, 3), (1, 2), "same", "zeros", "same"),
        ([2, 4, 5, 6], (2, 3, 4), 1, "same", "zeros", "same"),
        ([2, 7, 8], 3, 1, "replicate(2)", "replicate", 2),
        ([2, 7, 8], 3, 2, "reflect(2)", "reflect", 2),
        ([2, 7, 8], 3, 1, "circular(3)", "circular", 3),
        ([2, 9], 3, 1, "replicate(1)", "replicate", 1),
        ([2, 9], 3, 2, "circular(2)", "circular", 2),
        ([2, 4, 5, 6], 3, 1, "replicate(1)", "replicate", 1),
        ([2, 4, 5, 6], 3, 1, "circular(2)", "circular", 2),
        ([2, 7, 8], (3, 2), (2, 1), "zero([1, 2])", "zeros", (1, 2)),
    ]
    for dims, k, dil, pad, tmode, tpad in cases:
        d = len(dims) - 1
        lst = lambda v: str(list(v)) if isinstance(v, tuple) else str(v)
        spec, L = one_layer(dims, "conv (filters = 3, kernel = %s, dilation "
                            "= %s, padding = %s)" % (lst(k), lst(dil), pad))
        model, weights, _ = random_model(spec, 1)
        ref = convs[d - 1](dims[0], 3, k, dilation=dil, padding=tpad,
                           padding_mode=tmode).double()
        with torch.no_grad():
            ref.weight.copy_(weights[L["name"] + ".weight"])
            ref.bias.copy_(weights[L["name"] + ".bias"])
        x = torch.randn([2] + dims, generator=g, dtype=torch.float64)
        close("builtin conv %s %s" % (dims, pad), model(x), ref(x))
    pools = {"maxpool": (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d),
             "avgpool": (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)}
    for kind, dims, k, s, p in [("maxpool", [2, 9], 3, 2, 1),
                                ("maxpool", [2, 7, 8], 4, 1, 2),
                                ("avgpool", [2, 7, 8], 3, 2, 1),
                                ("avgpool", [2, 4, 5, 6], 2, 1, 1),
                                ("maxpool", [2, 4, 5, 6], 3, 2, 1)]:
        spec, L = one_layer(dims, "%s (size = %d, stride = %d, padding = "
                            "zero(%d))" % (kind, k, s, p))
        model, _, _ = random_model(spec, 1)
        args = {"count_include_pad": True} if kind == "avgpool" else {}
        ref = pools[kind][len(dims) - 2](k, s, p, **args)
        x = -torch.rand([2] + dims, generator=g, dtype=torch.float64)  # < 0
        close("builtin %s %s pad %d" % (kind, dims, p), model(x), ref(x))


def lenet_sequential():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def check_lenet():
    spec = netspec.parse(golden.LENET)
    check("lenet names", netspec.param_names(spec) == [
        "c1.weight", "c1.bias", "c3.weight", "c3.bias", "f5.weight",
        "f5.bias", "f6.weight", "f6.bias", "out.weight", "out.bias"])
    check("lenet flatten name", spec["layers"][4]["name"] == "flatten5")
    gen = torch.Generator().manual_seed(3)
    weights = golden.make_weights(spec, gen)
    x, y = golden.make_batch(spec, 5, gen)
    seq = lenet_sequential()
    with torch.no_grad():
        for p, name in zip(seq.parameters(), netspec.param_names(spec)):
            p.copy_(weights[name])
    out = seq(x)
    loss = nn.CrossEntropyLoss()(out, y)
    loss.backward()
    hp = {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.05}
    grad, stepped = golden.compute(spec, weights, x, y, hp)
    close("lenet output", grad["output"], out, 1e-6)
    close("lenet loss", grad["loss"], loss, 1e-6)
    for p, name in zip(seq.parameters(), netspec.param_names(spec)):
        close("lenet grad " + name, grad[name + ".grad"], p.grad, 1e-6)
    opt = torch.optim.SGD(seq.parameters(), **hp)
    for _ in range(2):
        opt.zero_grad()
        nn.CrossEntropyLoss()(seq(x), y).backward()
        opt.step()
    for p, name in zip(seq.parameters(), netspec.param_names(spec)):
        close("lenet step " + name, stepped[name], p, 1e-6)


def check_symmetric():
    """The reported gradient at each stored position must be dL/d(free
    parameter of its tie group): checked by finite differences on the free
    parameters, in float64."""
    for i, (dims, layer) in enumerate([
            ([2, 9], "conv (filters = 2, kernel = 5, symmetric = true)"),
            ([2, 7, 7], "conv (filters = 3, kernel = [3, 5], stride = 2, padding = zero(1), symmetric = true, activation = tanh)"),
            ([3, 6, 6], "conv (filters = 2, kernel = 3, symmetric = true, connect = [[0, 2], [1]])"),
            ([1, 5, 5, 5], "conv (filters = 2, kernel = [3, 1, 3], padding = replicate(1), symmetric = true)")]):
        spec, L = one_layer(dims, layer)
        model, weights, gen = random_model(spec, 200 + i)
        wname = L["name"] + ".weight"
        w = weights[wname].double()
        d = len(L["kernel"])
        close("symmetric init " + layer, w, netspec.symmetrize(w, d), 0)
        for ax in range(d):
            close("mirror axis %d %s" % (ax, layer), w,
                  torch.flip(w, (w.dim() - d + ax,)), 0)
        x = torch.randn((2,) + tuple(dims), generator=gen,
                        dtype=torch.float64)
        target = torch.randn((2,) + L["out_shape"], generator=gen,
                             dtype=torch.float64)

        def loss_of(weight):
            with torch.no_grad():
                model.layers[0].weight.copy_(weight)
            return float(((model(x) - target) ** 2).sum())

        model.layers[0].weight.grad = None
        ((model(x) - target) ** 2).sum().backward()
        reported = model.layers[0].weight.grad.clone()
        # each tie group: perturb all its members together (the free param)
        rep = netspec.symmetrize(torch.arange(w.numel(), dtype=torch.float64)
                                 .reshape(w.shape), d)
        fd = torch.zeros_like(w)
        eps = 1e-6
        for g in torch.unique(rep):
            members = rep == g
            up, down = w.clone(), w.clone()
            up[members] += eps
            down[members] -= eps
            fd[members] = (loss_of(up) - loss_of(down)) / (2 * eps)
        if L["connect"] is not None:
            mask = netspec.connect_mask(L).expand(w.shape).bool()
            check("masked grad zero " + layer,
                  bool((reported[~mask] == 0).all()))
            fd = fd * mask
        close("symmetric grad = d/d(free param) " + layer, reported, fd,
              1e-6)


def check_connect():
    spec, L = one_layer([4, 6, 6], "conv c (filters = 3, kernel = 3, "
                        "connect = [[0, 1], [1, 2, 3], [3]])")
    model, weights, gen = random_model(spec, 5)
    # masked entries stored as zero
    w = weights["c.weight"]
    check("connect stored zeros", bool((w[0, 2:] == 0).all() and
                                       (w[1, 0] == 0).all() and
                                       (w[2, :3] == 0).all()))
    # garbage in masked entries must not change the output
    x = torch.randn(2, 4, 6, 6, generator=gen, dtype=torch.float64)
    y0 = model(x)
    with torch.no_grad():
        model.layers[0].weight[0, 3] += 5.0
    close("connect ignores masked values", model(x), y0)
    model.layers[0].weight.grad = None
    model(x).sum().backward()
    gw = model.layers[0].weight.grad
    check("connect grad zero where masked",
          bool((gw[0, 2:] == 0).all() and (gw[1, 0] == 0).all() and
               (gw[2, :3] == 0).all()) and bool((gw[0, :2] != 0).all()))


def check_local_vs_conv():
    """A local layer whose every position holds the same kernel is a conv."""
    spec, L = one_layer([3, 7, 6], "local l (filters = 2, kernel = [3, 2], "
                        "stride = [2, 1], padding = zero(1))")
    cspec, _ = one_layer([3, 7, 6], "conv l (filters = 2, kernel = [3, 2], "
                         "stride = [2, 1], padding = zero(1))")
    cmodel, cw, gen = random_model(cspec, 9)
    P = L["out_shape"][1:]
    w = cw["l.weight"].reshape(2, 1, 1, 3, 3, 2).expand((2,) + P + (3, 3, 2))
    b = cw["l.bias"].reshape(2, 1, 1).expand((2,) + P)
    model = netspec.build(spec).load({"l.weight": w.contiguous(),
                                      "l.bias": b.contiguous()}).double()
    x = torch.randn(2, 3, 7, 6, generator=gen, dtype=torch.float64)
    close("local with shared weights = conv", model(x), cmodel(x))


def check_mse():
    spec = netspec.parse("network m { input [2, 5]; conv (filters = 2, "
                         "kernel = 3); loss mse; }")
    model, _, gen = random_model(spec, 4)
    x = torch.randn(3, 2, 5, generator=gen, dtype=torch.float64)
    t = torch.randn(3, 2, 3, generator=gen, dtype=torch.float64)
    out = model(x)
    close("mse is the mean over all elements",
          netspec.loss_fn(spec)(out, t), ((out - t) ** 2).mean())


PARSE_OK = """
/* block
   comment */ network   p{input[3,8,8];# hash comment
conv(filters=2,kernel=3,padding=zero(1));   // slash comment
maxpool named(size=2); relu; flatten; dense(units=4,bias=false);
dense(units = 2); tanh; loss mse;
train(lr=1e-2, momentum=0.5, weight_decay=1e-4, seed=3, epochs=2, batch=4,
      optimizer=sgd);
}
"""

PARSE_BAD = [
    ("input [3, 8, 8]; conv (filters = 2);", "needs attribute 'kernel'"),
    ("input [3, 8, 8]; conv (filters = 2, kernel = 3, size = 2);",
     "unknown attribute 'size'"),
    ("input [3, 8, 8]; conv (filters = 2, filters = 2, kernel = 3);",
     "repeated attribute"),
    ("input [3, 8, 8]; conv (filters = 2.5, kernel = 3);", "'filters'"),
    ("input [3, 8, 8]; conv (filters = 2, kernel = [3, 3, 3]);",
     "needs 2 values"),
    ("input [3, 8, 8]; dense (units = 2);", "vector input"),
    ("input [3, 8, 8]; conv (filters = 2, kernel = 9);", "larger"),
    ("input [3, 8, 8]; conv (filters = 2, kernel = 3, stride = 2, "
     "padding = same);", "stride 1"),
    ("input [3, 8, 8]; conv (filters = 2, kernel = 2, symmetric = true);",
     "odd"),
    ("input [3, 8, 8]; conv (filters = 2, kernel = 3, connect = [[0], [3]]);",
     "connect"),
    ("input [3, 8, 8]; conv (filters = 2, kernel = 3, connect = [[0, 0], "
     "[1]]);", "connect"),
    ("input [3, 8, 8]; conv (filters = 2, kernel = 3, padding = reflect(8));",
     "reflect"),
    ("input [3, 8, 8]; relu (size = 2);", "unknown attribute 'size'"),
    ("input [3, 8, 8]; relu a; relu a;", "duplicate"),
    ("input [3, 8, 8]; relu relu2; relu;", "duplicate"),
    ("input [3, 8, 8]; loss softmax_cross_entropy;", "vector output"),
    ("input [3, 8, 8]; softmax;", "unknown statement"),
    ("input [3, 8, 8]; flatten; dense (units = 2, activation = elu);",
     "'activation'"),
    ("input [3, 8, 8]; conv (filters = 2, kernel = 3, padding = 1);",
     "'padding'"),
    ("input [3, 8, 8, 8, 8];", "input needs"),
    ("input [3, 8, 8]; /* unterminated", "unterminated"),
]


def check_parser():
    spec = netspec.parse(PARSE_OK)
    check("parse names", [L["name"] for L in spec["layers"]] == [
        "conv1", "named", "relu3", "flatten4", "dense5", "dense6", "tanh7"])
    check("parse shapes", [L["out_shape"] for L in spec["layers"]] == [
        (2, 8, 8), (2, 4, 4), (2, 4, 4), (32,), (4,), (2,), (2,)])
    check("parse train", spec["train"] == {
        "optimizer": "sgd", "lr": 0.01, "momentum": 0.5,
        "weight_decay": 1e-4, "batch": 4, "epochs": 2, "seed": 3})
    for body, msg in PARSE_BAD:
        try:
            netspec.parse("network b {\n" + body + "\n}", "b.net")
            check("rejects " + body, False, "accepted")
        except netspec.SpecError as e:
            check("rejects " + body, msg in str(e) and
                  str(e).startswith("b.net:2:"), str(e))


def check_golden_cases():
    """Every case spec parses, its torch output shape is the spec's, and
    its weights obey its ties and masks."""
    for name, (_, text, n, args) in golden.CASES.items():
        spec = netspec.parse(text)
        golden.hyperparams(spec, args)
        gen = torch.Generator().manual_seed(1)
        weights = golden.make_weights(spec, gen)
        x, _ = golden.make_batch(spec, n, gen)
        out = netspec.build(spec).load(weights)(x)
        check("golden %s shape" % name,
              tuple(out.shape) == (n,) + spec["out_shape"])


def main():
    for fn in (check_parser, check_lenet, check_windowed, check_float32,
               check_builtins,
               check_symmetric, check_connect, check_local_vs_conv,
               check_mse, check_golden_cases):
        before = dict(RESULTS)
        fn()
        print("%-22s %d passed, %d failed" % (
            fn.__name__, RESULTS["passed"] - before["passed"],
            RESULTS["failed"] - before["failed"]))
    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
