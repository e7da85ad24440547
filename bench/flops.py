#!/usr/bin/python3
"""flops.py - multiply-add FLOPs per image of the networks in .net files,
for bench/run.sh's "% of peak" column.  Shapes come from tools/netspec.py
(the reference parser, which needs no torch for this).

Counted: 2 FLOPs per multiply-add of conv, local and dense layers (a masked
`connect` conv counts only its connected input maps).  Not counted: bias,
activations, pooling, the loss and the optimizer step (all O(outputs), small
next to the multiply-adds).  Per image and per layer:
  fwd    the forward pass
  train  forward + backward data + backward weights = 3 * fwd
  needed train minus the first weighted layer's backward data: the gradient
         of the input images is never used, and neither cnnc nor PyTorch
         computes it.  The % of peak uses this one (work actually done).

Usage: bench/flops.py NET.net ...
Prints one line per file: `flops NAME fwd F train T needed N`."""

import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tools"))
import netspec  # noqa: E402


def layer_fwd(L):
    """Forward multiply-add FLOPs of one layer for one image (0 if none)."""
    if L["kind"] == "dense":
        return 2 * L["in_shape"][0] * L["units"]
    if L["kind"] not in ("conv", "local"):
        return 0
    taps = math.prod(L["kernel"])
    outputs = math.prod(L["out_shape"][1:])
    if L["kind"] == "conv" and L.get("connect"):
        inputs = sum(len(row) for row in L["connect"])
    else:
        inputs = L["filters"] * L["in_shape"][0]
    return 2 * outputs * inputs * taps


def count(spec):
    """(fwd, train, needed) FLOPs per image."""
    per = [layer_fwd(L) for L in spec["layers"]]
    fwd = sum(per)
    first = next((f for f in per if f), 0)
    return fwd, 3 * fwd, 3 * fwd - first


def main(paths):
    for path in paths:
        spec = netspec.load(path)
        fwd, train, needed = count(spec)
        print("flops %s fwd %d train %d needed %d" % (spec["name"], fwd, train,
                                                      needed))


if __name__ == "__main__":
    main(sys.argv[1:])
