"""netspec.py - an independent reference for the .net language: a parser
returning plain Python data, and a builder of the equivalent float32
torch.nn.Module.  It judges the compiler through the golden tests
(tools/golden.py), so it shares no code with compiler/ and stays close to
PyTorch built-ins.  Run with Debian's /usr/bin/python3 (torch 1.13, numpy).

Choices made where /work/shared/LANGUAGE.md is silent (what a PyTorch user
would expect):
  * Default layer name: kind + 1-based index of the layer statement among all
    layer statements (input/loss/train are not counted): conv1, maxpool2,
    flatten3.  A default name equal to an explicit one is a duplicate error.
  * `dense` after an unflattened rank > 1 tensor is an error (no implicit
    flatten).  `flatten` of a vector is allowed (a no-op).
  * Numbers may carry a leading `-` (the AST allows VAL_INT -3); integers are
    accepted where a decimal is expected (lr = 1).
  * `padding` takes only valid, same, zero(N), replicate(N), reflect(N),
    circular(N); a bare integer is not accepted.  `same` needs stride 1 on
    every axis (also for pooling, whose stride defaults to size).  For
    pooling, `same` pads with zeros (it is zero padding).  Total `same`
    padding per axis is dilation*(kernel-1); the start gets total//2, the end
    the rest (PyTorch's padding='same').
  * Padding is applied with F.pad (constant 0, or -inf for maxpool, replicate,
    reflect, circular), then the op runs unpadded, floor division of sizes
    (no ceil_mode).  reflect(N) needs N < input size on that axis, circular(N)
    N <= input size (PyTorch's limits).  A max window lying wholly in zero
    padding is rejected (its max would be -inf).
  * `connect` must have exactly `filters` lists; a list may not be empty.
    The forward uses weight * mask, so masked positions get gradient 0.
  * `symmetric = true`: the stored kernel is used as is (golden weights are
    symmetric); a hook replaces its gradient at each position by the sum over
    the position's tie group (its mirror images along any subset of spatial
    axes, each counted once), i.e. the gradient wrt the free parameter.
  * `local`: positions are the OUTPUT positions; weight
    [out, P1.., in, k1..], bias [out, P1..]; out[n,o,p] = bias[o,p] +
    sum_{c,j} w[o,p,c,j] * xpad[n, c, stride*p + dilation*j].
  * The `loss` statement is optional for parsing (None) but needed for
    loss_fn(); `train` is optional, its defaults are those of LANGUAGE.md.
  * `input`, `loss` and `train` may each appear at most once; `input` must
    come before the first layer.
"""

import math
import re

__all__ = ["SpecError", "parse", "load", "build", "loss_fn", "param_names"]

LAYER_KINDS = ("conv", "local", "maxpool", "avgpool", "dense", "flatten",
               "relu", "sigmoid", "tanh")
ACTIVATIONS = ("none", "relu", "sigmoid", "tanh")
PAD_CALLS = ("zero", "replicate", "reflect", "circular")
LOSSES = ("softmax_cross_entropy", "mse")
TRAIN_DEFAULTS = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.0,
                  "weight_decay": 0.0, "batch": 32, "epochs": 1, "seed": 0}


class SpecError(Exception):
    """A user error in the spec, GNU style: FILE:LINE:COL: error: MSG."""

    def __init__(self, msg, pos=None, filename="<spec>"):
        self.msg, self.pos, self.filename = msg, pos, filename
        line, col = pos if pos else (0, 0)
        super().__init__("%s:%d:%d: error: %s" % (filename, line, col, msg))


# ---------------------------------------------------------------- lexer

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<lcomment>(//|\#)[^\n]*)
  | (?P<bcomment>/\*.*?\*/)
  | (?P<num>-?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[{}\[\](),;=])
""", re.VERBOSE | re.DOTALL)


def _tokens(text, filename):
    """Yields (kind, value, (line, col)); kind is num/ident/punct/eof."""
    pos, line, linestart = 0, 1, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        where = (line, pos - linestart + 1)
        if not m:
            if text.startswith("/*", pos):
                raise SpecError("unterminated comment", where, filename)
            raise SpecError("unexpected character %r" % text[pos], where,
                            filename)
        kind, tok = m.lastgroup, m.group()
        if kind == "num":
            isint = re.fullmatch(r"-?\d+", tok) is not None
            yield "num", int(tok) if isint else float(tok), where
        elif kind in ("ident", "punct"):
            yield kind, tok, where
        nl = tok.count("\n")
        if nl:
            line += nl
            linestart = pos + tok.rindex("\n") + 1
        pos = m.end()
    yield "eof", None, (line, pos - linestart + 1)


# ---------------------------------------------------------------- parser
# Raw values: int, float, bool, str (identifier), list, or
# {"call": NAME, "arg": VALUE}.  Every attribute keeps its position.

class _Parser:
    def __init__(self, text, filename):
        self.toks = list(_tokens(text, filename))
        self.i = 0
        self.filename = filename

    def err(self, msg, pos=None):
        return SpecError(msg, pos or self.peek()[2], self.filename)

    def peek(self):
        return self.toks[self.i]

    def next(self):
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, value, what=None):
        kind, v, pos = self.next()
        if v != value or kind not in ("punct", "ident"):
            raise self.err("expected %s" % (what or "'%s'" % value), pos)
        return pos

    def ident(self, what):
        kind, v, pos = self.next()
        if kind != "ident":
            raise self.err("expected %s" % what, pos)
        return v, pos

    # network := 'network' IDENT '{' stmt* '}'
    def network(self):
        self.expect("network", "'network'")
        name, pos = self.ident("network name")
        self.expect("{")
        stmts = []
        while self.peek()[1] != "}" or self.peek()[0] != "punct":
            if self.peek()[0] == "eof":
                raise self.err("expected '}' before end of file")
            stmts.append(self.stmt())
        self.next()
        if self.peek()[0] != "eof":
            raise self.err("expected end of file after network")
        return name, pos, stmts

    # stmt := 'input' list ';' | 'loss' IDENT ';' | 'train' attrs? ';'
    #       | KIND IDENT? attrs? ';'
    def stmt(self):
        word, pos = self.ident("a statement")
        st = {"stmt": word, "pos": pos}
        if word == "input":
            st["dims"], st["dims_pos"] = self.value()
        elif word == "loss":
            st["name"], st["name_pos"] = self.ident("loss name")
        elif word == "train":
            st["attrs"] = self.attrs_opt()
        elif word in LAYER_KINDS:
            st["stmt"], st["kind"], st["name"], st["name_pos"] = \
                "layer", word, None, None
            if self.peek()[0] == "ident":
                st["name"], st["name_pos"] = self.ident("layer name")
            st["attrs"] = self.attrs_opt()
        else:
            raise self.err("unknown statement or layer kind '%s'" % word, pos)
        self.expect(";")
        return st

    # attrs := '(' [IDENT '=' value (',' IDENT '=' value)*] ')'
    def attrs_opt(self):
        attrs = []
        if self.peek()[1] != "(":
            return attrs
        self.next()
        if self.peek()[1] == ")":
            self.next()
            return attrs
        while True:
            key, kpos = self.ident("attribute name")
            self.expect("=")
            val, vpos = self.value()
            attrs.append((key, kpos, val, vpos))
            if self.peek()[1] == ",":
                self.next()
                continue
            self.expect(")", "',' or ')'")
            return attrs

    # value := NUM | 'true' | 'false' | IDENT | IDENT '(' value ')'
    #        | '[' [value (',' value)*] ']'
    def value(self):
        kind, v, pos = self.next()
        if kind == "num":
            return v, pos
        if kind == "ident":
            if v in ("true", "false"):
                return v == "true", pos
            if self.peek()[1] == "(":
                self.next()
                arg, _ = self.value()
                self.expect(")")
                return {"call": v, "arg": arg}, pos
            return v, pos
        if v == "[":
            items = []
            if self.peek()[1] != "]":
                while True:
                    items.append(self.value()[0])
                    if self.peek()[1] != ",":
                        break
                    self.next()
            self.expect("]", "',' or ']'")
            return items, pos
        raise self.err("expected a value", pos)


# ---------------------------------------------------------------- checker

def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class _Checker:
    def __init__(self, filename):
        self.filename = filename

    def err(self, msg, pos):
        return SpecError(msg, pos, self.filename)

    def attrs(self, attrs, allowed, required=()):
        """Dict key -> (value, value_pos); checks unknown/repeated/missing."""
        out = {}
        for key, kpos, val, vpos in attrs:
            if key not in allowed:
                raise self.err("unknown attribute '%s'" % key, kpos)
            if key in out:
                raise self.err("repeated attribute '%s'" % key, kpos)
            out[key] = (val, vpos)
        return out

    def require(self, got, required, pos, what):
        for key in required:
            if key not in got:
                raise self.err("%s needs attribute '%s'" % (what, key), pos)

    def pos_int(self, got, key, default, minimum=1):
        if key not in got:
            return default
        v, pos = got[key]
        if not _is_int(v) or v < minimum:
            raise self.err("'%s' must be an integer >= %d" % (key, minimum),
                           pos)
        return v

    def per_axis(self, got, key, default, rank, minimum=1):
        """int or [int]*rank -> tuple of rank ints."""
        if key not in got:
            return (default,) * rank
        v, pos = got[key]
        vals = v if isinstance(v, list) else [v]
        if isinstance(v, list) and len(v) != rank:
            raise self.err("'%s' needs %d values (one per spatial axis), got "
                           "%d" % (key, rank, len(v)), pos)
        for x in vals:
            if not _is_int(x) or x < minimum:
                raise self.err("'%s' must be integers >= %d" % (key, minimum),
                               pos)
        return tuple(vals) * (rank if not isinstance(v, list) else 1)

    def choice(self, got, key, default, choices):
        if key not in got:
            return default
        v, pos = got[key]
        if not isinstance(v, str) or v not in choices:
            raise self.err("'%s' must be one of %s" % (key, ", ".join(choices)),
                           pos)
        return v

    def boolean(self, got, key, default):
        if key not in got:
            return default
        v, pos = got[key]
        if not isinstance(v, bool):
            raise self.err("'%s' must be true or false" % key, pos)
        return v

    def padding(self, got, rank):
        """-> (mode, ((lo, hi), ...) or None); mode valid/same/zero/..."""
        v, pos = got.get("padding", ("valid", None))
        if v == "valid":
            return "valid", ((0, 0),) * rank
        if v == "same":  # resolved by the caller, which knows the kernel
            return v, None
        if isinstance(v, dict) and v["call"] in PAD_CALLS:
            n = self.per_axis({"padding": (v["arg"], pos)}, "padding", 0,
                              rank, minimum=0)
            return v["call"], tuple((p, p) for p in n)
        raise self.err("'padding' must be valid, same, zero(N), replicate(N), "
                       "reflect(N) or circular(N)", pos)


def _window(name, insize, k, s, d, pads, pos, chk):
    """Output size of one axis; errors on shrink to nothing."""
    lo, hi = pads
    span = d * (k - 1) + 1
    if insize + lo + hi < span:
        raise chk.err("layer '%s': kernel span %d larger than padded input "
                      "%d" % (name, span, insize + lo + hi), pos)
    return (insize + lo + hi - span) // s + 1


_LAYER_KEYS = {
    "conv": ("filters", "kernel", "stride", "dilation", "padding",
             "activation", "bias", "symmetric", "connect"),
    "local": ("filters", "kernel", "stride", "dilation", "padding",
              "activation", "bias"),
    "maxpool": ("size", "stride", "padding", "activation"),
    "avgpool": ("size", "stride", "padding", "activation"),
    "dense": ("units", "activation", "bias"),
}


def _check_layer(chk, st, index, shape):
    """Resolves one layer statement; returns the plain layer dict."""
    kind = st["kind"]
    name = st["name"] or "%s%d" % (kind, index)
    where = st["name_pos"] or st["pos"]
    got = chk.attrs(st["attrs"], _LAYER_KEYS.get(kind, ()))
    L = {"kind": kind, "name": name, "in_shape": tuple(shape),
         "line": st["pos"][0]}
    what = "layer '%s' (%s) with input %s" % (name, kind, list(shape))
    if kind in ("conv", "local", "maxpool", "avgpool"):
        rank = len(shape) - 1
        if rank not in (1, 2, 3):
            raise chk.err("%s: needs input [C, W], [C, H, W] or [C, D, H, W]"
                          % what, st["pos"])
        pool = kind.endswith("pool")
        if pool:
            chk.require(got, ("size",), where, what)
            k = chk.per_axis(got, "size", 1, rank)
            s = chk.per_axis(got, "stride", None, rank) \
                if "stride" in got else k
            d = (1,) * rank
        else:
            chk.require(got, ("filters", "kernel"), where, what)
            L["filters"] = chk.pos_int(got, "filters", None)
            k = chk.per_axis(got, "kernel", 1, rank)
            s = chk.per_axis(got, "stride", 1, rank)
            d = chk.per_axis(got, "dilation", 1, rank)
            L["bias"] = chk.boolean(got, "bias", True)
        mode, pads = chk.padding(got, rank)
        if mode == "same":
            if any(x != 1 for x in s):
                raise chk.err("%s: padding = same needs stride 1" % what,
                              got["padding"][1])
            tot = [dd * (kk - 1) for kk, dd in zip(k, d)]
            pads = tuple((t // 2, t - t // 2) for t in tot)
        spatial = shape[1:]
        for ax, (n, (lo, hi)) in enumerate(zip(spatial, pads)):
            if mode == "reflect" and max(lo, hi) >= n:
                raise chk.err("%s: reflect padding %d must be smaller than the "
                              "input size %d" % (what, max(lo, hi), n),
                              got["padding"][1])
            if mode == "circular" and max(lo, hi) > n:
                raise chk.err("%s: circular padding %d larger than the input "
                              "size %d" % (what, max(lo, hi), n),
                              got["padding"][1])
            if kind == "maxpool" and mode in ("zero", "same") and \
                    max(lo, hi) >= k[ax]:
                raise chk.err("%s: zero padding %d would give a window of "
                              "padding only (size %d)" % (what, max(lo, hi),
                                                          k[ax]),
                              got["padding"][1])
        out = [_window(name, n, kk, ss, dd, p, where, chk)
               for n, kk, ss, dd, p in zip(spatial, k, s, d, pads)]
        L.update(kernel=k, stride=s, dilation=d, padding=mode, pads=pads,
                 activation=chk.choice(got, "activation", "none",
                                       ACTIVATIONS))
        if pool:
            L["out_shape"] = (shape[0],) + tuple(out)
            return L
        L["out_shape"] = (L["filters"],) + tuple(out)
        if kind == "conv":
            L["symmetric"] = chk.boolean(got, "symmetric", False)
            if L["symmetric"] and any(kk % 2 == 0 for kk in k):
                raise chk.err("%s: symmetric needs odd kernel sizes" % what,
                              got["kernel"][1])
            L["connect"] = _check_connect(chk, got, L["filters"], shape[0],
                                          what)
        return L
    if kind == "dense":
        chk.require(got, ("units",), where, what)
        if len(shape) != 1:
            raise chk.err("%s: dense needs a vector input (add flatten)"
                          % what, st["pos"])
        L.update(units=chk.pos_int(got, "units", None),
                 bias=chk.boolean(got, "bias", True),
                 activation=chk.choice(got, "activation", "none",
                                       ACTIVATIONS))
        L["out_shape"] = (L["units"],)
        return L
    if st["attrs"]:
        raise chk.err("layer '%s' (%s) takes no attributes" % (name, kind),
                      st["attrs"][0][1])
    if kind == "flatten":
        L["out_shape"] = (math.prod(shape),)
    else:
        L["out_shape"] = tuple(shape)
    return L


def _check_connect(chk, got, filters, channels, what):
    if "connect" not in got:
        return None
    v, pos = got["connect"]
    if not isinstance(v, list) or len(v) != filters or \
            not all(isinstance(r, list) for r in v):
        raise chk.err("%s: 'connect' needs one list of input maps per filter "
                      "(%d lists)" % (what, filters), pos)
    for row in v:
        if not row or len(set(row)) != len(row) or \
                not all(_is_int(i) and 0 <= i < channels for i in row):
            raise chk.err("%s: 'connect' lists need distinct input maps in "
                          "0..%d" % (what, channels - 1), pos)
    return [list(r) for r in v]


def _check_train(chk, st):
    got = chk.attrs(st["attrs"], tuple(TRAIN_DEFAULTS))
    t = dict(TRAIN_DEFAULTS)
    for key, (v, pos) in got.items():
        if key == "optimizer":
            t[key] = chk.choice(got, key, "sgd", ("sgd",))
        elif key in ("lr", "momentum", "weight_decay"):
            if not _is_num(v) or v < 0:
                raise chk.err("'%s' must be a number >= 0" % key, pos)
            t[key] = float(v)
        else:
            t[key] = chk.pos_int(got, key, None,
                                 minimum=0 if key == "seed" else 1)
    return t


def parse(text, filename="<spec>"):
    """Parses and checks a whole .net file.  Returns a plain dict:
    {name, input: (dims), layers: [layer dicts], loss: str or None,
     train: {optimizer, lr, momentum, weight_decay, batch, epochs, seed},
     out_shape}.  Each layer dict has kind, name, in_shape, out_shape and its
    resolved attributes (per-axis tuples, pads ((lo, hi), ...), defaults)."""
    name, _, stmts = _Parser(text, filename).network()
    chk = _Checker(filename)
    spec = {"name": name, "input": None, "layers": [], "loss": None,
            "train": dict(TRAIN_DEFAULTS)}
    seen, shape, index, loss_pos = set(), None, 0, None
    for st in stmts:
        if st["stmt"] in seen and st["stmt"] != "layer":
            raise chk.err("repeated '%s' statement" % st["stmt"], st["pos"])
        seen.add(st["stmt"])
        if st["stmt"] == "input":
            dims = st["dims"]
            if not isinstance(dims, list) or not 1 <= len(dims) <= 4 or \
                    not all(_is_int(x) and x > 0 for x in dims):
                raise chk.err("input needs [N], [C, W], [C, H, W] or "
                              "[C, D, H, W] with sizes > 0", st["dims_pos"])
            spec["input"] = shape = tuple(dims)
        elif st["stmt"] == "loss":
            if st["name"] not in LOSSES:
                raise chk.err("unknown loss '%s'" % st["name"],
                              st["name_pos"])
            spec["loss"], loss_pos = st["name"], st["name_pos"]
        elif st["stmt"] == "train":
            spec["train"] = _check_train(chk, st)
        else:
            index += 1
            if shape is None:
                raise chk.err("layer before 'input'", st["pos"])
            L = _check_layer(chk, st, index, shape)
            if L["name"] in {x["name"] for x in spec["layers"]}:
                raise chk.err("duplicate layer name '%s'" % L["name"],
                              st["name_pos"] or st["pos"])
            spec["layers"].append(L)
            shape = L["out_shape"]
    if shape is None:
        raise chk.err("missing 'input' statement", None)
    spec["out_shape"] = shape
    if spec["loss"] == "softmax_cross_entropy" and len(shape) != 1:
        raise chk.err("softmax_cross_entropy needs a vector output, got %s"
                      % list(shape), loss_pos)
    return spec


def load(path):
    with open(path) as f:
        return parse(f.read(), path)


# ---------------------------------------------------------------- torch

def param_names(spec):
    """Parameter names in file order: LAYER.weight, LAYER.bias."""
    names = []
    for L in spec["layers"]:
        if L["kind"] in ("conv", "local", "dense"):
            names.append(L["name"] + ".weight")
            if L["bias"]:
                names.append(L["name"] + ".bias")
    return names


def param_shapes(spec):
    """{name: shape} with PyTorch layouts (see LANGUAGE.md)."""
    shapes = {}
    for L in spec["layers"]:
        n, cin = L["name"], L["in_shape"][0]
        if L["kind"] == "conv":
            shapes[n + ".weight"] = (L["filters"], cin) + L["kernel"]
            b = (L["filters"],)
        elif L["kind"] == "local":
            pos = L["out_shape"][1:]
            shapes[n + ".weight"] = (L["filters"],) + pos + (cin,) + \
                L["kernel"]
            b = (L["filters"],) + pos
        elif L["kind"] == "dense":
            shapes[n + ".weight"] = (L["units"], L["in_shape"][0])
            b = (L["units"],)
        else:
            continue
        if L["bias"]:
            shapes[n + ".bias"] = b
    return shapes


def fan_in(spec, name):
    """Inputs feeding one output neuron (for initialisation bounds)."""
    L = next(x for x in spec["layers"] if x["name"] == name.split(".")[0])
    if L["kind"] == "dense":
        return L["in_shape"][0]
    return L["in_shape"][0] * math.prod(L["kernel"])


def mirror_index(kernel):
    """For a kernel shape, a tuple of per-axis index arrays mapping each
    position to its tie-group representative min(j, k-1-j)."""
    return [[min(j, k - 1 - j) for j in range(k)] for k in kernel]


def symmetrize(w, nspatial):
    """Projects a [.., k1..kd] tensor onto mirror-symmetric kernels by
    copying each group's representative (first half) to the whole group."""
    for ax in range(nspatial):
        dim = w.dim() - nspatial + ax
        k = w.shape[dim]
        idx = [min(j, k - 1 - j) for j in range(k)]
        w = w.index_select(dim, _torch().tensor(idx))
    return w


def tie_sum(g, nspatial):
    """Gradient wrt the free parameter, at every stored position: the sum of
    g over the position's tie group (mirror images along any subset of the
    spatial axes, each distinct position once).  Axis by axis: g[j] +
    g[k-1-j], but the centre only once."""
    torch = _torch()
    for ax in range(nspatial):
        dim = g.dim() - nspatial + ax
        k = g.shape[dim]
        flipped = torch.flip(g, (dim,))
        centre = torch.zeros(k, dtype=g.dtype)
        centre[k // 2] = 1.0  # odd k only
        shape = [1] * g.dim()
        shape[dim] = k
        g = g + flipped * (1.0 - centre.reshape(shape))
    return g


def connect_mask(L):
    torch = _torch()
    m = torch.zeros(L["filters"], L["in_shape"][0])
    for o, row in enumerate(L["connect"]):
        m[o, row] = 1.0
    return m.reshape(m.shape + (1,) * len(L["kernel"]))


def _torch():
    """torch, with oneDNN (mkldnn) convolutions off: in Debian's torch
    1.13 their float32 weight gradient is wrong for some shapes (a 2-map
    [15, 14] kernel on a [17, 14] image: off by 200%, where float64 and the
    native kernels agree).  tools/randnet.py found it; check_netspec.py
    keeps the case."""
    import torch
    torch.backends.mkldnn.enabled = False
    return torch


def pad(x, mode, pads, fill=0.0):
    """Pads the spatial axes of [N, C, S...] with ((lo, hi), ...) per axis."""
    F = _torch().nn.functional
    flat = []
    for lo, hi in reversed(pads):  # F.pad lists the last axis first
        flat += [lo, hi]
    if not any(flat):
        return x
    if mode in ("zero", "same", "valid"):
        return F.pad(x, flat, mode="constant", value=fill)
    return F.pad(x, flat, mode=mode)


def patches(x, kernel, stride, dilation):
    """[N, C, S1..Sd] (already padded) -> [N, C, P1..Pd, k1..kd] with
    out[n, c, p, j] = x[n, c, stride*p + dilation*j]."""
    d = len(kernel)
    for ax, (k, s, dl) in enumerate(zip(kernel, stride, dilation)):
        span = dl * (k - 1) + 1
        x = x.unfold(2 + ax, span, s)[..., ::dl]
    # unfold appends the window axes in axis order: already [.., P.., k..]
    assert x.dim() == 2 + 2 * d
    return x


def _activation(name):
    torch = _torch()
    return {"none": lambda x: x, "relu": torch.relu,
            "sigmoid": torch.sigmoid, "tanh": torch.tanh}[name]


def _make_layer(L):
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional
    d = len(L["in_shape"]) - 1

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.spec = L
            for key, shape in param_shapes({"layers": [L]}).items():
                pname = key.split(".")[1]
                setattr(self, pname,
                        nn.Parameter(torch.zeros(shape, dtype=torch.float32)))
            if L["kind"] == "conv" and L["symmetric"]:
                self.weight.register_hook(lambda g: tie_sum(g, d))
            if L["kind"] == "conv" and L["connect"] is not None:
                self.register_buffer("mask", connect_mask(L))
            else:
                self.mask = None

        def forward(self, x):
            kind = L["kind"]
            if kind in ("relu", "sigmoid", "tanh"):
                return _activation(kind)(x)
            if kind == "flatten":
                return x.reshape(x.shape[0], -1)
            if kind == "dense":
                y = F.linear(x, self.weight, getattr(self, "bias", None))
            elif kind == "conv":
                w = self.weight if self.mask is None else self.weight * self.mask
                conv = (F.conv1d, F.conv2d, F.conv3d)[d - 1]
                y = conv(pad(x, L["padding"], L["pads"]), w,
                         getattr(self, "bias", None), L["stride"], 0,
                         L["dilation"])
            elif kind == "local":
                y = self._local(pad(x, L["padding"], L["pads"]))
            elif kind == "maxpool":
                xp = pad(x, L["padding"], L["pads"], fill=-math.inf)
                y = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[d - 1](
                    xp, L["kernel"], L["stride"])
            else:
                xp = pad(x, L["padding"], L["pads"])
                y = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[d - 1](
                    xp, L["kernel"], L["stride"])
            return _activation(L["activation"])(y)

        def _local(self, xp):
            n = xp.shape[0]
            P = L["out_shape"][1:]
            pt = patches(xp, L["kernel"], L["stride"], L["dilation"])
            # [N, C, P.., k..] -> [N, P.., C, k..] -> [N, L, C*K]
            perm = [0] + list(range(2, 2 + d)) + [1] + \
                list(range(2 + d, 2 + 2 * d))
            pt = pt.permute(perm).reshape(n, math.prod(P), -1)
            w = self.weight.reshape(L["filters"], math.prod(P), -1)
            y = torch.einsum("nlk,olk->nol", pt, w)
            y = y.reshape((n, L["filters"]) + tuple(P))
            if L["bias"]:
                y = y + self.bias
            return y

    return Layer()


def build(spec):
    """The float32 torch.nn.Module of a parsed spec.  Its parameters are
    zero; set them with model.load({name: array}).  model.params() maps
    'LAYER.weight' / 'LAYER.bias' to the nn.Parameter."""
    torch = _torch()

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.spec = spec
            self.layers = torch.nn.ModuleList(
                [_make_layer(L) for L in spec["layers"]])

        def params(self):
            out = {}
            for L, m in zip(spec["layers"], self.layers):
                for pname, p in m.named_parameters(recurse=False):
                    out[L["name"] + "." + pname] = p
            return out

        def load(self, arrays):
            with torch.no_grad():
                for name, p in self.params().items():
                    a = torch.as_tensor(arrays[name], dtype=torch.float32)
                    if tuple(a.shape) != tuple(p.shape):
                        raise ValueError("%s: shape %s, expected %s" %
                                         (name, tuple(a.shape),
                                          tuple(p.shape)))
                    p.copy_(a)
            return self

        def forward(self, x):
            for m in self.layers:
                x = m(x)
            return x

    return Net()


def loss_fn(spec):
    """torch loss module: CrossEntropyLoss (int64 labels [N]) or MSELoss
    (float32 targets [N, out...]); both mean-reduced."""
    torch = _torch()
    if spec["loss"] == "softmax_cross_entropy":
        return torch.nn.CrossEntropyLoss()
    if spec["loss"] == "mse":
        return torch.nn.MSELoss()
    raise ValueError("spec has no loss statement")


if __name__ == "__main__":
    import json
    import sys
    for path in sys.argv[1:]:
        try:
            print(json.dumps(load(path), indent=1, default=str))
        except SpecError as e:
            print(e, file=sys.stderr)
            sys.exit(1)
