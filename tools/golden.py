#!/usr/bin/python3
"""golden.py - writes the golden cases of tests/golden/ from PyTorch.

    /usr/bin/python3 tools/golden.py            # regenerate every case
    /usr/bin/python3 tools/golden.py lenet ...  # only the cases named
    /usr/bin/python3 tools/golden.py --list     # names and what they cover
    /usr/bin/python3 tools/golden.py --sensitivity [CASE...]
                                  # can each case see a missing weight decay,
                                  # momentum or second step?

A case is a directory tests/golden/CASE/ with
  net.net      the spec, verbatim
  weights.npz  parameters LAYER.weight / LAYER.bias, uniform(-b, b) with
               b = 1/sqrt(fan_in) (fan_in = in * prod(kernel), or in for
               dense), from a seed derived from the case name; symmetric
               kernels mirrored, connect-masked entries zero
  input.npy    float32 [N, input...], standard normal
  labels.npy   int64 class indices [N] (softmax_cross_entropy) or float32
               targets [N, output...] (mse, standard normal)
  grad.npz     loss (float32, shape ()), output (raw outputs [N, ...]) and
               NAME.grad for every parameter NAME, from PyTorch
  step.npz     every parameter NAME after `--steps 2` of torch.optim.SGD on
               the same batch, hyperparameters = the spec's train (...)
               overridden by the flags in `args`
  args         one line of extra flags for the `step` command (may be empty)
All arrays are float32 (labels int64), C order, saved with numpy.savez.
The answers come from tools/netspec.py (an independent parser and torch
builder), never from cnnc.  Output is deterministic: one thread, seeds fixed.

Adding a case = one entry in CASES: a spec string, N and the flags.
"""

import os
import sys
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netspec  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                    "tests", "golden")

LENET = """\
// LeNet-5 (LeCun et al., 1989) for 28x28 grayscale images.
network lenet {
    input [1, 28, 28];                      // channels, height, width

    conv    c1 (filters = 6, kernel = 5, padding = zero(2), activation = relu);
    maxpool s2 (size = 2, stride = 2);
    conv    c3 (filters = 16, kernel = 5, activation = relu);
    maxpool s4 (size = 2);
    flatten;
    dense   f5 (units = 120, activation = relu);
    dense   f6 (units = 84, activation = relu);
    dense   out (units = 10);

    loss  softmax_cross_entropy;
    train (optimizer = sgd, lr = 0.01, momentum = 0.9, batch = 64, epochs = 10, seed = 1);
}
"""

# name: (what it covers, spec, N, step flags)
CASES = {
    "lenet": (
        "LANGUAGE.md's LeNet verbatim; momentum from the spec, lr and "
        "weight decay from flags",
        LENET, 5, "--lr 0.1 --weight-decay 0.1"),

    "conv_stride_dilation": (
        "2-D conv with scalar and per-axis stride/dilation/kernel, "
        "non-square input, relu/tanh attributes",
        """\
network conv_stride_dilation {
    input [2, 13, 11];
    conv a (filters = 4, kernel = 3, stride = 2, dilation = 2, activation = relu);
    conv b (filters = 3, kernel = [3, 2], stride = [1, 2], dilation = [2, 1], activation = tanh);
    flatten;
    dense (units = 5);
    loss softmax_cross_entropy;
    train (lr = 0.05, batch = 16);
}
""", 3, "--lr 0.1 --momentum 0.9 --weight-decay 0.1"),

    "conv_zero_pad": (
        "2-D conv with zero(N) and per-axis zero([a, b]) padding, stride 2 "
        "on padded input",
        """\
network conv_zero_pad {
    input [3, 9, 9];
    conv (filters = 4, kernel = 3, padding = zero(1), activation = relu);
    conv (filters = 2, kernel = [3, 5], stride = 2, padding = zero([2, 1]));
    flatten;
    dense (units = 4);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.1 --momentum 0.8 --weight-decay 0.2"),

    "avgpool_tanh": (
        "avgpool 2x2 stride 2, size 3 stride 1 (the averaging neuron), "
        "per-axis size/stride; tanh attribute and tanh layer",
        """\
/* average pooling in its forms */
network avgpool_tanh {
    input [2, 12, 12];
    conv c (filters = 3, kernel = 3, activation = tanh);   # 10x10
    avgpool p (size = 2);                                  # 5x5
    conv (filters = 4, kernel = 3, padding = zero(1));     # 5x5
    tanh;
    avgpool (size = 3, stride = 1);                        # 3x3
    avgpool (size = [2, 3], stride = [1, 2]);              # 2x1
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.05"),

    "maxpool_overlap": (
        "maxpool with overlapping windows (size 3 stride 2), per-axis "
        "size/stride, activation on a pool, relu layer before a maxpool",
        """\
network maxpool_overlap {
    input [2, 11, 10];
    conv (filters = 3, kernel = 2);                         # 10x9
    relu;
    maxpool (size = 3, stride = 2, activation = sigmoid);   # 4x4
    conv (filters = 5, kernel = 1, activation = tanh);
    maxpool (size = [2, 3], stride = [2, 1]);               # 2x2
    flatten;
    dense (units = 4);
    loss softmax_cross_entropy;
}
""", 4, "--lr 0.2 --momentum 0.5 --weight-decay 0.1"),

    "dense_only": (
        "vector input [20]: dense with relu, dense logits",
        """\
network dense_only {
    input [20];
    dense h (units = 16, activation = relu);
    dense (units = 5);
    loss softmax_cross_entropy;
}
""", 5, "--lr 0.1 --momentum 0.9 --weight-decay 0.1"),

    "sigmoid_mlp": (
        "flatten of an image, sigmoid attribute, sigmoid/tanh/relu layers",
        """\
network sigmoid_mlp {
    input [1, 6, 6];
    flatten;
    dense (units = 12, activation = sigmoid);
    dense (units = 10);
    sigmoid;
    dense (units = 8);
    tanh;
    dense (units = 6);
    relu;
    dense out (units = 3);
    loss softmax_cross_entropy;
}
""", 5, "--lr 0.5 --momentum 0.9 --weight-decay 0.02"),

    "conv_nobias": (
        "bias = false on conv and dense; lr, momentum and weight decay all "
        "from the spec's train (...) (empty flags)",
        """\
network conv_nobias {
    input [2, 8, 8];
    conv (filters = 3, kernel = 3, bias = false, activation = relu);
    conv (filters = 4, kernel = 3, bias = true);
    flatten;
    dense (units = 3, bias = false);
    loss softmax_cross_entropy;
    train (optimizer = sgd, lr = 0.1, momentum = 0.7, weight_decay = 0.1, batch = 8);
}
""", 3, ""),
}


def hyperparams(spec, args):
    """The spec's train (...) with the step flags applied."""
    hp = {k: spec["train"][k] for k in ("lr", "momentum", "weight_decay")}
    flags = {"--lr": "lr", "--momentum": "momentum",
             "--weight-decay": "weight_decay"}
    words = args.split()
    if len(words) % 2:
        raise ValueError("args: flags come in pairs: %r" % args)
    for flag, value in zip(words[0::2], words[1::2]):
        if flag not in flags:
            raise ValueError("args: unknown flag %s" % flag)
        hp[flags[flag]] = float(value)
    return hp


def make_weights(spec, gen):
    """Random parameters obeying the spec's ties and masks."""
    out = {}
    layers = {L["name"]: L for L in spec["layers"]}
    for name, shape in netspec.param_shapes(spec).items():
        b = 1.0 / np.sqrt(netspec.fan_in(spec, name))
        w = (torch.rand(shape, generator=gen) * 2 - 1) * b
        L = layers[name.split(".")[0]]
        if name.endswith(".weight") and L["kind"] == "conv":
            if L["symmetric"]:
                w = netspec.symmetrize(w, len(L["kernel"]))
            if L["connect"] is not None:
                w = w * netspec.connect_mask(L)
        out[name] = w.contiguous()
    return out


def make_batch(spec, n, gen):
    x = torch.randn((n,) + spec["input"], generator=gen)
    if spec["loss"] == "softmax_cross_entropy":
        y = torch.randint(0, spec["out_shape"][0], (n,), generator=gen)
    else:
        y = torch.randn((n,) + spec["out_shape"], generator=gen)
    return x, y


def f32(t):
    return np.ascontiguousarray(t.detach().numpy().astype(np.float32))


def compute(spec, weights, x, y, hp, steps=2):
    """-> (grad dict, stepped parameter dict), both name -> numpy."""
    loss_fn = netspec.loss_fn(spec)
    model = netspec.build(spec).load(weights)
    out = model(x)
    loss = loss_fn(out, y)
    loss.backward()
    grad = {"loss": f32(loss).reshape(()), "output": f32(out)}
    for name, p in model.params().items():
        grad[name + ".grad"] = f32(p.grad)

    model = netspec.build(spec).load(weights)
    params = model.params()
    opt = torch.optim.SGD(list(params.values()), lr=hp["lr"],
                          momentum=hp["momentum"],
                          weight_decay=hp["weight_decay"])
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return grad, {name: f32(p) for name, p in params.items()}


def write_case(name):
    _, text, n, args = CASES[name]
    spec = netspec.parse(text, name + "/net.net")
    gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    weights = make_weights(spec, gen)
    x, y = make_batch(spec, n, gen)
    grad, stepped = compute(spec, weights, x, y, hyperparams(spec, args))

    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "net.net"), "w") as f:
        f.write(text)
    with open(os.path.join(d, "args"), "w") as f:
        f.write(args + "\n")
    np.savez(os.path.join(d, "weights.npz"),
             **{k: f32(v) for k, v in weights.items()})
    np.save(os.path.join(d, "input.npy"), f32(x))
    np.save(os.path.join(d, "labels.npy"),
            y.numpy().astype(np.int64) if y.dtype == torch.int64 else f32(y))
    np.savez(os.path.join(d, "grad.npz"), **grad)
    np.savez(os.path.join(d, "step.npz"), **stepped)
    print("%-24s N=%d loss=%.6f params=%d" %
          (name, n, float(grad["loss"]), sum(v.numel() for v in
                                             weights.values())))


def sensitivity(name, atol=1e-4, rtol=2e-3):
    """How many tolerances (run.sh's npzcmp: |a-e| <= atol + rtol*|e|) the
    step answer moves if the implementation forgot weight decay, momentum,
    or the second step: each figure should be well above 1, or the case
    cannot catch that mistake."""
    _, text, n, args = CASES[name]
    spec = netspec.parse(text, name + "/net.net")
    gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    weights = make_weights(spec, gen)
    x, y = make_batch(spec, n, gen)
    hp = hyperparams(spec, args)
    _, good = compute(spec, weights, x, y, hp)
    figures = []
    for what, hp2, steps in (("no-wd", dict(hp, weight_decay=0), 2),
                             ("no-momentum", dict(hp, momentum=0), 2),
                             ("one-step", hp, 1)):
        _, bad = compute(spec, weights, x, y, hp2, steps)
        worst = max(float((abs(bad[k] - good[k]) /
                           (atol + rtol * abs(good[k]))).max()) for k in good)
        figures.append("%s %.1f" % (what, worst))
    print("%-24s %s" % (name, "  ".join(figures)))


def main(argv):
    torch.set_num_threads(1)
    if argv[:1] == ["--sensitivity"]:
        for name in argv[1:] or list(CASES):
            sensitivity(name)
        return 0
    if argv[:1] == ["--list"]:
        for name, case in CASES.items():
            print("%-24s %s" % (name, case[0]))
        return 0
    names = argv or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        print("golden.py: unknown case(s): %s" % " ".join(unknown),
              file=sys.stderr)
        return 2
    for name in names:
        write_case(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
