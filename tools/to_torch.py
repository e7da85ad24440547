#!/usr/bin/python3
"""to_torch.py - a cnnc network in PyTorch, and weights both ways.

    to_torch.py NET.net
        print the equivalent torch.nn module and PyTorch's parameter count
    to_torch.py --count NET.net...
        "NAME PARAMETERS" per file (PyTorch's count: sum of numel)
    to_torch.py NET.net --load W.npz --input X.npy --output P.npy [--logits]
        evaluate cnnc weights in PyTorch: P as `./NET predict` writes it
        (softmax probabilities for softmax_cross_entropy), or the raw
        outputs as `./NET forward` with --logits
    to_torch.py NET.net --export W.npz [--seed S] [--train DIR --epochs N
                [--lr X] [--batch B]]
        PyTorch's parameters as a cnnc weights file: its default
        initialisation (torch.manual_seed(S)), then optionally N epochs of
        SGD (the spec's train (...) settings, or --lr, --batch) on the data
        set in DIR (CIFAR-10 binary or MNIST idx, read here with NumPy)
    to_torch.py --compare P1.npy P2.npy [L.npy]
        how far two prediction files are apart: largest difference, rows
        whose argmax differs, and the accuracy of each against labels L
    to_torch.py --check-golden [DIR]
        the module against every tests/golden case (PyTorch's outputs,
        made by tools/golden.py from tools/netspec.py's layers)

As a module (run with Debian's /usr/bin/python3, torch 1.13):
    import to_torch
    model = to_torch.module("examples/cifar10_conv.net")  # torch.nn.Sequential
    to_torch.load_npz(model, "w.npz"); to_torch.save_npz(model, "w2.npz")

The module is a torch.nn.Sequential whose children carry the layer names,
so state_dict() keys are cnnc's parameter names (c1.weight, c1.bias) and
the layouts are the same (LANGUAGE.md): a cnnc .npz loads as it is.  Layers
with a plain PyTorch equivalent become that built-in (nn.Conv2d, nn.Linear,
nn.MaxPool2d, ...); the rest (local, connect tables, symmetric kernels,
asymmetric or non-zero pooling padding) use the independent reference
layers of tools/netspec.py, which hold the same parameters.  A layer's
activation attribute becomes a child of its own, NAME_relu.
"""

import collections
import gzip
import os
import sys
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netspec  # noqa: E402

nn = torch.nn
# padding='same' with an even kernel: PyTorch pads a copy, as intended.
warnings.filterwarnings("ignore", message="Using padding='same'")
ACT = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
PAD_MODE = {"zero": "zeros", "valid": "zeros", "replicate": "replicate",
            "reflect": "reflect", "circular": "circular"}


def _even(pads):
    """Per-axis padding when both sides agree, else None."""
    if all(lo == hi for lo, hi in pads):
        return tuple(lo for lo, _ in pads)
    return None


def _conv(L):
    """nn.Conv1d/2d/3d, or None when PyTorch has no such convolution."""
    if L["connect"] is not None or L["symmetric"]:
        return None
    d = len(L["kernel"])
    cls = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[d - 1]
    pad = "same" if L["padding"] == "same" else _even(L["pads"])
    if pad is None:
        return None
    return cls(L["in_shape"][0], L["filters"], L["kernel"], L["stride"],
               pad, L["dilation"], bias=L["bias"],
               padding_mode=PAD_MODE.get(L["padding"], "zeros"))


def _pool(L):
    """nn.MaxPoolNd / nn.AvgPoolNd: implicit padding is zero (and never wins
    a max), symmetric, at most half the window: as cnnc's zero(N)."""
    d = len(L["kernel"])
    pad = _even(L["pads"])
    if L["padding"] not in ("valid", "zero") or pad is None or \
            any(2 * p > k for p, k in zip(pad, L["kernel"])):
        return None
    if L["kind"] == "maxpool":
        return (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)[d - 1](
            L["kernel"], L["stride"], pad)
    return (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)[d - 1](
        L["kernel"], L["stride"], pad, count_include_pad=True)


def _builtin(L):
    kind = L["kind"]
    if kind == "conv":
        return _conv(L)
    if kind in ("maxpool", "avgpool"):
        return _pool(L)
    if kind == "dense":
        return nn.Linear(L["in_shape"][0], L["units"], bias=L["bias"])
    if kind == "flatten":
        return nn.Flatten()
    if kind in ACT:
        return ACT[kind]()
    return None


def _reference(L):
    """netspec's layer without its activation (added as a child here)."""
    R = dict(L, activation="none") if "activation" in L else L
    return netspec._make_layer(R)


def module_from_spec(spec):
    children = collections.OrderedDict()
    for L in spec["layers"]:
        m = _builtin(L)
        children[L["name"]] = m if m is not None else _reference(L)
        act = L.get("activation", "none")
        if act != "none":
            key = L["name"] + "_" + act
            while key in children or key in {x["name"] for x in spec["layers"]}:
                key += "_"
            children[key] = ACT[act]()
    model = nn.Sequential(children)
    model.spec = spec
    return model


def module(path):
    """The torch.nn.Sequential of a .net file (float32, PyTorch's default
    initialisation; reference layers start at zero)."""
    return module_from_spec(netspec.load(path))


def param_names(model):
    return [k for k, _ in model.named_parameters()]


def load_npz(model, path):
    """Copies every parameter from a cnnc weights file (or checkpoint:
    momentum, _epoch and _rng are ignored); shapes must match exactly."""
    with np.load(path) as z:
        arrays = {}
        for name, p in model.named_parameters():
            if name not in z.files:
                raise ValueError("%s: no array '%s'" % (path, name))
            a = z[name]
            if a.shape != tuple(p.shape) or a.dtype != np.float32:
                raise ValueError("%s: '%s' is %s %s, expected float32 %s" %
                                 (path, name, a.dtype, a.shape,
                                  tuple(p.shape)))
            arrays[name] = a
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy(arrays[name]))
    return model


def save_npz(model, path):
    """The parameters as an uncompressed .npz keyed by cnnc's names."""
    arrays = {k: np.ascontiguousarray(v.detach().numpy(), dtype=np.float32)
              for k, v in model.named_parameters()}
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def init_reference_layers(model, seed):
    """PyTorch's default bound, U(+-1/sqrt(fan_in)), for the parameters of
    netspec layers (the built-ins initialise themselves), then the spec's
    constraints: symmetric kernels mirrored, masked connections zero."""
    gen = torch.Generator().manual_seed(seed)
    spec = model.spec
    for L in spec["layers"]:
        m = getattr(model, L["name"])
        if not isinstance(m, nn.Module) or not hasattr(m, "spec"):
            continue
        with torch.no_grad():
            for pname, p in m.named_parameters(recurse=False):
                b = 1.0 / np.sqrt(netspec.fan_in(spec, L["name"] + "." + pname))
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * b)
            if L["kind"] == "conv" and L["symmetric"]:
                m.weight.copy_(netspec.symmetrize(m.weight, len(L["kernel"])))
            if L["kind"] == "conv" and L["connect"] is not None:
                m.weight.mul_(netspec.connect_mask(L))


# ------------------------------------------------------------ data sets
def _read(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read()


def _idx(path):
    raw = _read(path if os.path.exists(path) else path + ".gz")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big")
            for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _cifar(paths):
    raw = np.concatenate([np.fromfile(p, np.uint8) for p in paths])
    rec = raw.reshape(-1, 3073)
    return rec[:, 1:].reshape(-1, 3, 32, 32), rec[:, 0]


def load_data(d):
    """(train_x uint8, train_y, test_x, test_y) from a CIFAR-10 binary or an
    MNIST idx directory, as `--data DIR` finds them."""
    sub = os.path.join(d, "cifar-10-batches-bin")
    d = sub if os.path.isdir(sub) else d
    if os.path.exists(os.path.join(d, "test_batch.bin")):
        train = [os.path.join(d, "data_batch_%d.bin" % i) for i in range(1, 6)]
        tx, ty = _cifar([p for p in train if os.path.exists(p)])
        vx, vy = _cifar([os.path.join(d, "test_batch.bin")])
        return tx, ty, vx, vy
    j = lambda n: os.path.join(d, n)  # noqa: E731
    return (_idx(j("train-images-idx3-ubyte"))[:, None],
            _idx(j("train-labels-idx1-ubyte")),
            _idx(j("t10k-images-idx3-ubyte"))[:, None],
            _idx(j("t10k-labels-idx1-ubyte")))


def as_input(model, x):
    """uint8 images to the model's float32 input, pixels / 255."""
    shape = model.spec["input"]
    return torch.from_numpy(x.astype(np.float32) / 255.0).reshape(
        (-1,) + tuple(shape))


def train(model, d, epochs, seed, overrides=None):
    """SGD with the spec's train (...) settings (lr and batch overridable);
    prints the test accuracy after every epoch."""
    t = dict(model.spec["train"], **(overrides or {}))
    tx, ty, vx, vy = load_data(d)
    x, y = as_input(model, tx), torch.from_numpy(ty.astype(np.int64))
    opt = torch.optim.SGD(model.parameters(), lr=t["lr"],
                          momentum=t["momentum"],
                          weight_decay=t["weight_decay"])
    loss_fn = netspec.loss_fn(model.spec)
    gen = torch.Generator().manual_seed(seed)
    for e in range(1, epochs + 1):
        order = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), t["batch"]):
            idx = order[i:i + t["batch"]]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        with torch.no_grad():
            pred = model(as_input(model, vx)).argmax(1).numpy()
        print("pytorch epoch %d/%d  test acc %.2f%%" %
              (e, epochs, 100.0 * float((pred == vy).mean())))


# ------------------------------------------------------------- commands
def predict(model, x, logits):
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    if not logits and model.spec["loss"] == "softmax_cross_entropy":
        out = torch.softmax(out, dim=1)
    return np.ascontiguousarray(out.numpy(), dtype=np.float32)


def compare(a_path, b_path, labels_path=None):
    a, b = np.load(a_path), np.load(b_path)
    if a.shape != b.shape:
        raise SystemExit("to_torch.py: %s is %s, %s is %s" %
                         (a_path, a.shape, b_path, b.shape))
    flat_a, flat_b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    differ = int((flat_a.argmax(1) != flat_b.argmax(1)).sum())
    print("%d samples: largest difference %.3g, argmax differs in %d" %
          (len(a), float(np.abs(a - b).max()), differ))
    if labels_path:
        y = np.load(labels_path)
        for path, p in ((a_path, flat_a), (b_path, flat_b)):
            print("  accuracy of %s: %.4f" %
                  (os.path.basename(path), float((p.argmax(1) == y).mean())))
    return 0 if differ == 0 else 1


def check_golden(root):
    """Largest |module output - PyTorch's golden output| over every case."""
    worst, n = 0.0, 0
    for case in sorted(os.listdir(root)):
        d = os.path.join(root, case)
        if not os.path.isfile(os.path.join(d, "net.net")):
            continue
        model = load_npz(module(os.path.join(d, "net.net")),
                         os.path.join(d, "weights.npz"))
        out = predict(model, np.load(os.path.join(d, "input.npy")), True)
        with np.load(os.path.join(d, "grad.npz")) as g:
            err = float(np.abs(out - g["output"]).max())
        worst, n = max(worst, err), n + 1
        if err > 1e-5:
            print("%s: outputs differ by %.3g" % (case, err))
    print("%d golden cases: largest difference %.3g" % (n, worst))
    return 0 if worst <= 1e-5 else 1


def _opts(argv):
    o = {"net": None, "logits": False}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--logits":
            o["logits"] = True
        elif a.startswith("--"):
            if i + 1 >= len(argv):
                raise SystemExit("to_torch.py: %s needs a value" % a)
            o[a[2:]] = argv[i + 1]
            i += 1
        elif o["net"] is None:
            o["net"] = a
        else:
            raise SystemExit("to_torch.py: unexpected argument %r" % a)
        i += 1
    if o["net"] is None:
        raise SystemExit(__doc__.split("\n\n")[1])
    return o


def main(argv):
    torch.set_num_threads(1)
    if argv[:1] == ["--compare"] and len(argv) in (3, 4):
        return compare(*argv[1:])
    if argv[:1] == ["--check-golden"]:
        here = os.path.dirname(os.path.abspath(__file__))
        return check_golden(argv[1] if len(argv) > 1 else
                            os.path.join(here, "..", "tests", "golden"))
    if argv[:1] == ["--count"]:
        for path in argv[1:]:
            model = module(path)
            print("%s %d" % (model.spec["name"],
                             sum(p.numel() for p in model.parameters())))
        return 0
    o = _opts(argv)
    model = module(o["net"])
    if "load" in o:
        load_npz(model, o["load"])
        x = np.load(o["input"])
        np.save(o["output"], predict(model, x, o["logits"]))
        print("wrote %s (%d samples)" % (o["output"], len(x)))
    elif "export" in o:
        seed = int(o.get("seed", 1))
        torch.manual_seed(seed)
        model = module(o["net"])
        init_reference_layers(model, seed)
        if "train" in o:
            over = {k: f(o[k]) for k, f in (("lr", float), ("batch", int))
                    if k in o}
            train(model, o["train"], int(o.get("epochs", 1)), seed, over)
        save_npz(model, o["export"])
        print("wrote %s" % o["export"])
    else:
        print(model)
        print("parameters: %d" % sum(p.numel() for p in model.parameters()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
