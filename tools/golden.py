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

Adding a case = one entry in CASES: a spec string, N and the flags (and,
rarely, an entry in OPTIONS for a batch of one sign, or weights of one sign
or zero).  Cases ex_NAME test examples/NAME.net verbatim (read from the
file).
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

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                        "examples")


def example(name):
    """The text of examples/NAME.net: its golden case tests it verbatim."""
    with open(os.path.join(EXAMPLES, name + ".net")) as f:
        return f.read()


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

    "dense_small_batch": (
        "a batch of 2 (fewer samples than the SIMD dense tiles hold: the "
        "one-sample kernels run): 8-unit tiles and a remainder, inputs "
        "that leave a tail after whole vectors of 4, 8 and 16, every "
        "activation, no bias",
        """\
network dense_small_batch {
    input [37];
    dense (units = 19, activation = tanh);
    dense (units = 8, activation = sigmoid, bias = false);
    dense (units = 17, activation = relu);
    dense (units = 5);
    loss softmax_cross_entropy;
}
""", 2, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    "dense_split": (
        "dense layers big enough (>= 16384 weights) that threads split "
        "their units: inputs and units not multiples of the vector width "
        "or the 4-unit tile, tanh, sigmoid without bias, 7 samples",
        """\
network dense_split {
    input [3, 5, 7];
    flatten;
    dense h1 (units = 203, activation = tanh);
    dense h2 (units = 90, activation = sigmoid, bias = false);
    dense out (units = 7);
    loss softmax_cross_entropy;
}
""", 7, "--lr 0.2 --momentum 0.9 --weight-decay 0.05"),

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

    # ------------------------------------------------ conv, per rank
    "conv1d": (
        "1-D conv, multi-channel: stride 2 with dilation 2, dilation 3, "
        "bias = false",
        """\
network conv1d {
    input [3, 23];
    conv a (filters = 4, kernel = 5, stride = 2, dilation = 2, activation = relu);  # 8
    conv b (filters = 5, kernel = 2, dilation = 3, bias = false, activation = tanh); # 5
    flatten;
    dense (units = 4);
    loss softmax_cross_entropy;
}
""", 4, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "conv3d": (
        "3-D conv, multi-channel, per-axis kernel/stride/dilation lists, "
        "non-cubic input",
        """\
network conv3d {
    input [2, 7, 8, 6];
    conv a (filters = 3, kernel = [3, 2, 3], stride = [1, 2, 1], dilation = [2, 1, 1], activation = relu);  # 3x4x4
    conv b (filters = 4, kernel = 2, stride = [1, 2, 2], activation = tanh);  # 2x2x2
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    # ------------------------------------------------ conv, padding modes
    "conv_same_1d": (
        "1-D padding = same: even total with dilation (k 4, d 2), odd "
        "totals (k 2; k 6; k 2 d 3: the extra one at the end)",
        """\
network conv_same_1d {
    input [2, 15];
    conv (filters = 3, kernel = 4, dilation = 2, padding = same, activation = tanh);  # total 6
    conv (filters = 3, kernel = 2, padding = same, activation = relu);                # total 1
    conv (filters = 2, kernel = 6, padding = same);                                   # total 5
    conv (filters = 2, kernel = 2, dilation = 3, padding = same, activation = tanh);  # total 3
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "conv_same_2d": (
        "2-D padding = same: even totals (k 3), odd totals (k [4, 2]), "
        "with per-axis dilation (k [3, 2] d [2, 3])",
        """\
network conv_same_2d {
    input [2, 9, 8];
    conv a (filters = 3, kernel = 3, padding = same, activation = tanh);
    conv b (filters = 3, kernel = [4, 2], padding = same, activation = relu);
    conv c (filters = 2, kernel = [3, 2], dilation = [2, 3], padding = same);
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "conv_same_3d": (
        "3-D padding = same: totals 1, 4, 3 (k [2, 3, 4] d [1, 2, 1]) and "
        "4, 2, 4 (k 3 d [2, 1, 2])",
        """\
network conv_same_3d {
    input [2, 5, 6, 7];
    conv (filters = 3, kernel = [2, 3, 4], dilation = [1, 2, 1], padding = same, activation = tanh);
    conv (filters = 2, kernel = 3, dilation = [2, 1, 2], padding = same);
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 2, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "conv_replicate_2d": (
        "2-D replicate(N) scalar and per-axis, with stride 2 and dilation "
        "2; replicate(3) wider than the 3-wide input",
        """\
network conv_replicate_2d {
    input [2, 7, 6];
    conv (filters = 3, kernel = 3, padding = replicate(1), activation = tanh);                        # 7x6
    conv (filters = 3, kernel = [3, 4], stride = 2, padding = replicate([2, 1]), activation = relu);  # 5x3
    conv (filters = 2, kernel = 3, dilation = 2, padding = replicate(3));                             # 7x5
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "conv_reflect_2d": (
        "2-D reflect(N) scalar and per-axis, stride [2, 1], dilation 2, "
        "reflect(3) on a 4-high input (largest allowed)",
        """\
network conv_reflect_2d {
    input [2, 8, 7];
    conv (filters = 3, kernel = 3, padding = reflect(2), activation = tanh);                               # 10x9
    conv (filters = 3, kernel = [5, 3], stride = [2, 1], padding = reflect([1, 3]), activation = relu);   # 4x13
    conv (filters = 2, kernel = 3, dilation = 2, padding = reflect(3));                                    # 6x15
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "conv_circular_2d": (
        "2-D circular(N) scalar and per-axis (one axis 0), stride, "
        "dilation, circular(2) on a 2-wide input (N = size)",
        """\
network conv_circular_2d {
    input [2, 6, 7];
    conv (filters = 3, kernel = 3, padding = circular(1), activation = tanh);                                # 6x7
    conv (filters = 3, kernel = [3, 5], stride = [1, 2], padding = circular([2, 0]), activation = relu);    # 8x2
    conv (filters = 2, kernel = [3, 2], dilation = [2, 1], padding = circular([3, 2]));                     # 10x5
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    # ------------------------------------------------ filters in lanes
    # Small outputs with 16+ filters: cnnc's forward puts the filters in
    # the vector lanes (compiler/emit_convfl.c) instead of the flat-grid
    # sweep; every rank, dilation, padding, activation, no bias, and
    # filter counts that do not fill whole vectors.
    "conv_lanes_1d": (
        "1-D, 16 and 20 filters, dilation 2, zero padding, no bias, tanh",
        """\
network conv_lanes_1d {
    input [4, 30];
    conv a (filters = 16, kernel = 5, dilation = 2, padding = zero(1), bias = false, activation = relu);  # 24
    conv b (filters = 20, kernel = 3, activation = tanh);                                                 # 22
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "conv_lanes_2d": (
        "2-D, 20 filters with per-axis kernel and dilation, replicate "
        "padding, sigmoid; then 16 filters, relu",
        """\
network conv_lanes_2d {
    input [3, 9, 11];
    conv a (filters = 20, kernel = [3, 4], dilation = [1, 2], padding = replicate(1), activation = sigmoid);  # 9x7
    conv b (filters = 16, kernel = 3, activation = relu);                                                      # 7x5
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "conv_lanes_3d": (
        "3-D, 16 filters, zero padding, per-axis kernel; then 24 filters",
        """\
network conv_lanes_3d {
    input [2, 4, 5, 6];
    conv a (filters = 16, kernel = [2, 3, 3], padding = zero(1), activation = relu);  # 5x5x6
    conv b (filters = 24, kernel = 2, activation = tanh);                               # 4x4x5
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "conv_dense_2d": (
        "convs whose kernel covers the whole input (output 1x1), which take "
        "the dense kernels: 5x5 over 5x5 with tanh, then 1x1 over 1x1 without "
        "bias, sigmoid, after an ordinary conv (so its data gradient counts)",
        """\
network conv_dense_2d {
    input [3, 7, 7];
    conv a (filters = 6, kernel = 3, activation = relu);                    # 5x5
    conv b (filters = 40, kernel = 5, activation = tanh);                   # 1x1
    conv c (filters = 12, kernel = 1, bias = false, activation = sigmoid);  # 1x1
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 5, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "conv_dense_split": (
        "whole-input convs in 3-D; the first has 20,480 weights, so its "
        "threads split the filters (the dense unit split), and no data "
        "gradient",
        """\
network conv_dense_split {
    input [4, 4, 4, 4];
    conv a (filters = 80, kernel = 4, activation = relu);   # [80, 1, 1, 1]
    conv b (filters = 24, kernel = 1, activation = tanh);   # [24, 1, 1, 1]
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 18, "--lr 0.1 --momentum 0.9"),

    "conv_dense_1d": (
        "a 1-D conv whose kernel covers the whole signal: the dense kernels",
        """\
network conv_dense_1d {
    input [8, 7];
    conv a (filters = 20, kernel = 7, activation = relu);   # [20, 1]
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 7, "--lr 0.1 --momentum 0.9"),

    # ------------------------------------------------ Winograd F(2x2, 3x3)
    "wino_2d": (
        "3x3 layers on the Winograd path: 9-20 maps (not whole vectors), "
        "odd output sizes (tiles that stick out), zero / replicate / valid "
        "padding, bias and none, relu / tanh / sigmoid, chained (data "
        "gradients through two of them)",
        """\
network wino_2d {
    input [9, 13, 15];
    conv a (filters = 17, kernel = 3, padding = zero(1), activation = relu);                       # 13x15
    conv b (filters = 20, kernel = 3, padding = replicate(1), bias = false, activation = tanh);    # 13x15
    conv c (filters = 18, kernel = 3, activation = sigmoid);                                        # 11x13
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "wino_tied": (
        "Winograd layers with a connection table and with a symmetric "
        "kernel, no activation",
        """\
network wino_tied {
    input [8, 14, 12];
    conv a (filters = 16, kernel = 3, padding = zero(1), activation = relu,
            connect = [[0], [1, 2], [2, 3, 4], [4, 5, 6, 7], [0, 7], [6], [1, 3, 5, 7], [0, 2, 4, 6],
                       [0, 1, 2, 3, 4, 5, 6, 7], [5], [3, 4], [7, 0, 1], [2, 6], [1], [0, 3, 6], [4, 7]]);  # 14x12
    conv b (filters = 16, kernel = 3, symmetric = true, padding = zero(1));                    # 14x12
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "wino_pairs": (
        "Winograd rows of tiles half a vector wide, two tile rows a vector: "
        "4 outputs wide (SSE2/NEON, also the data gradient), 8 wide (AVX2), "
        "odd tile rows",
        """\
network wino_pairs {
    input [8, 7, 4];
    conv a (filters = 16, kernel = 3, padding = zero(1), activation = relu);                   # 7x4
    conv b (filters = 17, kernel = 3, padding = zero([1, 3]), activation = tanh);             # 7x8
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "wino_wide": (
        "cifar10_wide's c3 and c4 (32 -> 64 -> 64 maps, 16x16, zero "
        "padding, relu): the error of Winograd at full size",
        """\
network wino_wide {
    input [32, 16, 16];
    conv c3 (filters = 64, kernel = 3, padding = zero(1), activation = relu);
    conv c4 (filters = 64, kernel = 3, padding = zero(1), activation = relu);
    maxpool p2 (size = 2);
    flatten;
    dense (units = 10);
    loss softmax_cross_entropy;
}
""", 2, "--lr 0.05 --momentum 0.9"),

    "wino_f4": (
        "Winograd F(4x4, 3x3) at cifar10_wide's c2 size (32 -> 32 maps, "
        "32x32: 64 tiles), then 16x14 outputs whose 4x4 tiles stick out "
        "(columns; tanh), every pass; 2 samples",
        """\
network wino_f4 {
    input [32, 32, 32];
    conv c2 (filters = 32, kernel = 3, padding = zero(1), activation = relu);          # 32x32
    maxpool (size = 2);                                                                 # 16x16
    conv d (filters = 16, kernel = 3, padding = zero([1, 0]), activation = tanh);      # 16x14
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 2, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "stride_2d": (
        "strided 2-D on the fast kernels: stride 2 zero(1), then per-axis "
        "stride [2, 3] with dilation [1, 2] and replicate padding (3 does "
        "not divide the width), 32 filters",
        """\
network stride_2d {
    input [3, 17, 19];
    conv a (filters = 16, kernel = 3, stride = 2, padding = zero(1), activation = relu);                   # 9x10
    conv b (filters = 32, kernel = 3, stride = [2, 3], dilation = [1, 2], padding = replicate(1), activation = relu);  # 5x3
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "stride_1d": (
        "strided 1-D: stride 3 replicate(2) with 16 filters, then stride 2 "
        "dilation 2 with 6 filters, then stride 2 valid with 32 filters",
        """\
network stride_1d {
    input [4, 130];
    conv a (filters = 16, kernel = 5, stride = 3, padding = replicate(2), activation = tanh);  # 44
    conv b (filters = 6, kernel = 3, stride = 2, dilation = 2, activation = sigmoid);          # 20
    conv c (filters = 32, kernel = 2, stride = 2, activation = relu);                          # 10
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "stride_3d": (
        "strided 3-D: per-axis stride [2, 1, 3] with zero(1), 16 filters; "
        "then stride 2 valid with 4 filters",
        """\
network stride_3d {
    input [2, 9, 10, 11];
    conv a (filters = 16, kernel = [3, 2, 3], stride = [2, 1, 3], padding = zero(1), activation = relu);  # 5x11x4
    conv b (filters = 4, kernel = 2, stride = 2, activation = tanh);                                      # 2x5x2
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "stride_wide": (
        "strided 2-D with 72 filters (too many for the filters-in-lanes "
        "forward on AVX-512: the flat-grid sweep), stride 3 valid; then a "
        "connect table with stride [1, 2]",
        """\
network stride_wide {
    input [3, 26, 25];
    conv a (filters = 72, kernel = 3, stride = 3, activation = relu);                                  # 8x8
    conv b (filters = 4, kernel = 2, stride = [1, 2], connect = [[0, 5, 70], [1], [2, 3, 4, 71], [9, 40]], activation = relu);  # 7x4
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "stride_chain": (
        "three chained stride-2 3x3 zero(1) convs 3->16->32->64 with "
        "symmetric kernels in the middle (the s2conv benchmark's shape, "
        "smaller)",
        """\
network stride_chain {
    input [3, 18, 18];
    conv a (filters = 16, kernel = 3, stride = 2, padding = zero(1), activation = relu);                    # 9x9
    conv b (filters = 32, kernel = 3, stride = 2, padding = zero(1), symmetric = true, activation = relu);  # 5x5
    conv c (filters = 64, kernel = 3, stride = 2, padding = zero(1), activation = relu);                    # 3x3
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "stride_dgc": (
        "the compact data gradient of strided layers: 1-D stride 3 "
        "dilation 2 zero(2) with tanh into 32 filters; 3-D stride "
        "[1, 2, 2] then [2, 1, 1] (outputs contiguous along rows), sigmoid",
        """\
network stride_dgc {
    input [4, 6, 9, 10];
    conv a (filters = 16, kernel = 3, stride = [1, 2, 2], padding = zero(1), activation = relu);  # 6x5x5
    conv b (filters = 32, kernel = [2, 3, 3], stride = [2, 1, 1], activation = sigmoid);         # 3x3x3
    conv c (filters = 16, kernel = 2, stride = [1, 2, 2], padding = zero(1), activation = tanh);  # 4x2x2
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "conv_direct": (
        "forward tiles that store each output row straight into y (one "
        "tile a row, the last row through the flat grid): 17 filters in "
        "blocks of 8 and 9 on AVX-512 (valid 5x5 on the input itself), "
        "bias = false and zero(1) after a pool (SSE2, NEON)",
        """\
network conv_direct {
    input [3, 20, 20];
    conv c1 (filters = 17, kernel = 5, activation = relu);                     # 16x16
    maxpool s2 (size = 2);
    conv c3 (filters = 6, kernel = 3, padding = zero(1), bias = false);        # 8x8
    flatten;
    dense (units = 4);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9"),

    "conv_dgr": (
        "the compact data gradient of stride-1 layers whose padded rows "
        "fit a vector (a row gather from the outputs, AVX-512): zero(1) "
        "with 16-float rows, dilation [2, 3], zero(2) into 32 filters",
        """\
network conv_dgr {
    input [3, 12, 14];
    conv a (filters = 6, kernel = 3, padding = zero(1), activation = relu);                  # 12x14
    conv b (filters = 16, kernel = 3, padding = zero(1), activation = relu);                 # 12x14
    conv c (filters = 16, kernel = [3, 2], dilation = [2, 3], activation = tanh);            # 8x11
    conv d (filters = 32, kernel = 5, padding = zero(2), activation = sigmoid);              # 8x11
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "conv_sparse": (
        "the sparse data gradient of convs feeding a max pool whose windows "
        "do not overlap (AVX-512): 11x11 outputs into 2x2 windows (the last "
        "row and column in none), 32 filters (two masks of lanes) with "
        "kernel [3, 2], dilation [2, 1], zero(2), tanh, into 2x2 windows "
        "3 apart; relu ties only among zeros, whose gradient is zero",
        """\
network conv_sparse {
    input [3, 15, 15];
    conv a (filters = 6, kernel = 3, activation = relu);                                              # 13x13
    conv b (filters = 16, kernel = 3, activation = relu);                                             # 11x11
    maxpool (size = 2);                                                                               # 5x5
    conv c (filters = 32, kernel = [3, 2], dilation = [2, 1], padding = zero(2), activation = tanh);  # 5x8
    maxpool (size = 2, stride = 3);                                                                   # 2x3
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "conv_sparse_wg": (
        "the sparse weight gradient of convs feeding a max pool whose "
        "windows do not overlap (AVX-512): 3 filters on the flat grid with "
        "kernel [3, 7] (7 taps a row), dilation [2, 1], zero(1), 1,002 "
        "positions (two chunks of the list); 16 filters with stride 2, "
        "replicate(2), tanh and 8 input maps (40 rows: two passes); a 3-D "
        "layer with kernel [2, 3, 6] into 2x2x1 windows",
        """\
network conv_sparse_wg {
    input [2, 26, 40];
    conv a (filters = 3, kernel = [3, 7], dilation = [2, 1], padding = zero(1), activation = relu);   # 24x36
    maxpool (size = 2);                                                                               # 12x18
    conv b (filters = 8, kernel = 3, padding = zero(1), activation = relu);                           # 12x18
    conv c (filters = 16, kernel = 5, stride = 2, padding = replicate(2), activation = tanh);         # 6x9
    maxpool (size = 2);                                                                               # 3x4
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "conv_pool_lists": (
        "a first conv whose max pool hands over its gradient as lists "
        "(AVX-512): no activation (every window's argmax listed), no bias, "
        "kernel [2, 5], zero([1, 2]); 16x21 outputs into 2x2 windows, the "
        "last column in none",
        """\
network conv_pool_lists {
    input [2, 15, 21];
    conv a (filters = 4, kernel = [2, 5], padding = zero([1, 2]), bias = false);   # 16x21
    maxpool (size = 2);                                                           # 8x10
    conv b (filters = 3, kernel = 3, activation = relu);                          # 6x8
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9"),

    "conv_pool_lists_dx": (
        "lists from the pool into a conv with the sparse data gradient "
        "(AVX-512): 32 filters (two vectors of GT lanes), kernel [3, 5], "
        "zero(1), relu; 10x9 outputs into 2x2 windows, the last column in "
        "none",
        """\
network conv_pool_lists_dx {
    input [3, 12, 13];
    conv a (filters = 6, kernel = 3, activation = relu);                                   # 10x11
    conv b (filters = 32, kernel = [3, 5], padding = zero(1), activation = relu);          # 10x9
    maxpool (size = 2);                                                                    # 5x4
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9"),

    "conv_sparse_wg3d": (
        "the sparse weight gradient in 3-D: kernel [2, 3, 6] (rows over two "
        "outer axes), 5 filters, relu, into 2x2x2 windows",
        """\
network conv_sparse_wg3d {
    input [3, 6, 9, 14];
    conv a (filters = 5, kernel = [2, 3, 6], activation = relu);                                      # 5x7x9
    maxpool (size = 2);                                                                               # 2x3x4
    flatten;
    dense (units = 4);
    loss softmax_cross_entropy;
}
""", 2, "--lr 0.2 --momentum 0.9"),

    "conv_sparse_cl": (
        "the sparse weight gradient with the maps last (AVX-512): 12 input "
        "maps (transposed by scalars), kernel [2, 5], zero([1, 2]), four "
        "vectors a row, the last 12 lanes; 7 maps (transposed by permutes), "
        "kernel 3 into 3x3 windows, 6 accumulators in two sets",
        """\
network conv_sparse_cl {
    input [12, 12, 15];
    conv a (filters = 7, kernel = [2, 5], padding = zero([1, 2]), activation = relu);   # 13x15
    maxpool (size = 2);                                                                # 6x7
    conv b (filters = 4, kernel = 3, activation = relu);                               # 4x5
    maxpool (size = 3);                                                                # 1x1
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9"),

    "stride_dgc_1d": (
        "compact data gradient in 1-D: stride 2 zero(1) with 48 outputs "
        "(whole vectors), stride 3 with dilation 2 and zero(2), tanh, "
        "32 filters, then stride 2",
        """\
network stride_dgc_1d {
    input [4, 100];
    conv a (filters = 8, kernel = 5, activation = relu);                                                  # 96
    conv b (filters = 32, kernel = 4, stride = 2, padding = zero(1), activation = relu);                  # 48
    conv c (filters = 32, kernel = 4, stride = 3, dilation = 2, padding = zero(2), activation = tanh);    # 16
    conv d (filters = 16, kernel = 3, stride = 2, activation = relu);                                     # 7
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "stride_vt": (
        "strided lanes tiles one vector wide, their results transposed in "
        "registers: 16 maps stride 2 zero(1) relu on 16-wide rows, then "
        "72 maps (blocks, the last with 8) stride [2, 1], no activation",
        """\
network stride_vt {
    input [3, 32, 32];
    conv a (filters = 16, kernel = 3, stride = 2, padding = zero(1), activation = relu);  # 16x16
    conv b (filters = 72, kernel = [3, 1], stride = [2, 1]);                               # 7x16
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "conv_pad_1d": (
        "1-D zero / replicate / reflect / circular padding, with stride "
        "2 and 3 and dilation 2; circular(5) on a 13-long signal",
        """\
network conv_pad_1d {
    input [2, 12];
    conv (filters = 3, kernel = 3, padding = zero(2), activation = tanh);                     # 14
    conv (filters = 3, kernel = 4, stride = 2, padding = replicate(3), activation = relu);    # 9
    conv (filters = 3, kernel = 3, dilation = 2, padding = reflect(4), activation = tanh);    # 13
    conv (filters = 2, kernel = 5, stride = 3, padding = circular(5));                        # 7
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 4, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "conv_pad_3d": (
        "3-D replicate / reflect / circular / zero padding, per-axis lists "
        "(one axis 0), stride [1, 2, 2]",
        """\
network conv_pad_3d {
    input [2, 4, 5, 6];
    conv (filters = 3, kernel = 3, padding = replicate(1), activation = tanh);                          # 4x5x6
    conv (filters = 3, kernel = [2, 3, 3], padding = reflect([1, 2, 1]), activation = relu);            # 5x7x6
    conv (filters = 2, kernel = [3, 3, 2], stride = [1, 2, 2], padding = circular([1, 1, 2]));          # 5x4x5
    conv (filters = 2, kernel = [2, 2, 3], padding = zero([0, 1, 2]), activation = tanh);               # 4x5x7
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 2, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "large_stride": (
        "strides larger than the kernel (conv stride [6, 4] with zero "
        "padding, maxpool size 2 stride 3, local stride [1, 2]): skipped "
        "inputs get no gradient",
        """\
network large_stride {
    input [2, 19, 18];
    conv (filters = 3, kernel = 3, stride = [6, 4], padding = zero(1), activation = relu);  # 4x5
    maxpool (size = 2, stride = 3);                                                         # 1x2
    local (filters = 2, kernel = 1, stride = [1, 2], activation = tanh);                    # 1x1
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 4, "--lr 0.3 --momentum 0.9 --weight-decay 0.1"),

    "kernel_full_1d": (
        "1-D: conv kernel 11 = its reflect(2)-padded 7-long input "
        "(output size 1), after circular(1)",
        """\
network kernel_full_1d {
    input [3, 7];
    conv (filters = 4, kernel = 3, padding = circular(1), activation = tanh);  # 7
    conv (filters = 3, kernel = 11, padding = reflect(2), activation = relu);  # 1
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "kernel_full_2d": (
        "2-D: maxpool and local with window = padded input (1x1 output), "
        "global avgpool",
        """\
network kernel_full_2d {
    input [2, 6, 5];
    conv a (filters = 4, kernel = 3, padding = same, activation = tanh);  # 6x5
    maxpool (size = 3, stride = 1, padding = zero(1));                    # 6x5
    local l (filters = 3, kernel = [8, 5], padding = replicate([1, 0]));  # 1x1
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "global_avgpool": (
        "avgpool whose window is the whole (zero-padded) image: output "
        "1x1, every input counted with weight 1/(padded size)",
        """\
network global_avgpool {
    input [2, 6, 5];
    conv (filters = 4, kernel = 3, activation = relu);     # 4x3
    avgpool (size = [6, 5], padding = zero(1));            # 1x1
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    # ------------------------------------------------ symmetric, connect
    "symmetric_1d": (
        "symmetric = true in 1-D: k 5, k 3 with stride 2 and replicate, "
        "k 3 dilation 2 zero padding without bias",
        """\
network symmetric_1d {
    input [2, 16];
    conv a (filters = 3, kernel = 5, symmetric = true, activation = tanh);                                      # 12
    conv b (filters = 4, kernel = 3, symmetric = true, stride = 2, padding = replicate(1), activation = relu);  # 6
    conv c (filters = 2, kernel = 3, symmetric = true, dilation = 2, padding = zero(2), bias = false);          # 6
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 4, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "symmetric_2d": (
        "symmetric = true in 2-D: k [3, 5] same, k 3 stride 2 reflect, "
        "k [5, 1] circular",
        """\
network symmetric_2d {
    input [2, 10, 9];
    conv a (filters = 3, kernel = [3, 5], symmetric = true, padding = same, activation = tanh);                # 10x9
    conv b (filters = 3, kernel = 3, symmetric = true, stride = 2, padding = reflect(1), activation = relu);  # 5x5
    conv c (filters = 2, kernel = [5, 1], symmetric = true, padding = circular([2, 0]));                      # 5x5
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "symmetric_3d": (
        "symmetric = true in 3-D: k 3, and k [1, 3, 5] with per-axis zero "
        "padding and stride",
        """\
network symmetric_3d {
    input [2, 5, 6, 7];
    conv a (filters = 3, kernel = 3, symmetric = true, activation = tanh);                                     # 3x4x5
    conv b (filters = 2, kernel = [1, 3, 5], symmetric = true, padding = zero([0, 1, 2]), stride = [1, 1, 2]);  # 3x4x3
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 2, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "connect_2d": (
        "connect tables in 2-D: single-map rows, unordered rows, a full "
        "row; with bias = false and zero padding",
        """\
network connect_2d {
    input [4, 8, 8];
    conv a (filters = 5, kernel = 3, connect = [[0], [1, 2], [2, 3, 0], [3], [0, 1, 2, 3]], activation = tanh);
    conv b (filters = 3, kernel = 3, connect = [[0, 4], [1, 2, 3], [4, 3, 2, 1, 0]], bias = false, padding = zero(1));
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "connect_1d": (
        "connect in 1-D with stride and dilation",
        """\
network connect_1d {
    input [3, 14];
    conv a (filters = 4, kernel = 3, dilation = 2, connect = [[0, 1], [1, 2], [2], [0, 2]], activation = relu);  # 10
    conv b (filters = 2, kernel = 4, stride = 2, connect = [[3, 0], [1, 2, 3]]);                                  # 4
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 4, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "connect_3d": (
        "connect in 3-D with replicate padding",
        """\
network connect_3d {
    input [3, 4, 5, 5];
    conv a (filters = 3, kernel = [2, 3, 3], padding = replicate(1), connect = [[0, 2], [1], [2, 1, 0]], activation = tanh);  # 5x5x5
    conv b (filters = 2, kernel = 3, stride = 2, connect = [[0], [1, 2]]);                                                  # 2x2x2
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 2, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "symmetric_connect": (
        "symmetric and connect together (tied and masked), 2-D, with "
        "replicate padding and stride 2",
        """\
network symmetric_connect {
    input [3, 9, 9];
    conv a (filters = 4, kernel = 3, symmetric = true, connect = [[0, 1], [1, 2], [2, 0], [0, 1, 2]],
            padding = replicate(1), activation = tanh);                                                # 9x9
    conv b (filters = 2, kernel = [5, 3], symmetric = true, connect = [[0, 3], [1, 2, 3]], stride = 2);  # 3x4
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "symmetric_connect_1d": (
        "symmetric and connect together in 1-D, k 5 with circular padding",
        """\
network symmetric_connect_1d {
    input [3, 12];
    conv a (filters = 3, kernel = 5, symmetric = true, connect = [[0], [1, 2], [0, 2]], padding = circular(2), activation = tanh);  # 12
    conv b (filters = 2, kernel = 3, symmetric = true, connect = [[0, 1], [2]], dilation = 2);                                     # 8
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 4, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    # ------------------------------------------------ local
    "local_1d": (
        "local in 1-D: with bias, stride 2 + dilation 2 + zero padding, "
        "replicate padding without bias",
        """\
network local_1d {
    input [2, 14];
    local a (filters = 3, kernel = 3, activation = tanh);                                             # 12
    local b (filters = 3, kernel = 3, stride = 2, dilation = 2, padding = zero(2), activation = relu);  # 6
    local c (filters = 2, kernel = 2, bias = false, padding = replicate(1));                          # 7
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 4, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "local_2d": (
        "local in 2-D: per-axis kernel/stride/dilation, replicate / "
        "reflect / circular padding, bias = false",
        """\
network local_2d {
    input [2, 8, 7];
    local a (filters = 3, kernel = [3, 2], stride = [2, 1], bias = false, padding = replicate(1), activation = tanh);  # 4x8
    local b (filters = 2, kernel = 3, dilation = [1, 2], padding = reflect([1, 2]), activation = relu);               # 4x8
    local c (filters = 2, kernel = 2, stride = 2, padding = circular(1));                                             # 3x5
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "local_3d": (
        "local in 3-D: per-axis zero padding; stride [1, 2, 2] with "
        "dilation [2, 1, 1] and bias = false",
        """\
network local_3d {
    input [2, 4, 5, 5];
    local a (filters = 2, kernel = [2, 3, 3], padding = zero([0, 1, 1]), activation = tanh);  # 3x5x5
    local b (filters = 3, kernel = 2, stride = [1, 2, 2], dilation = [2, 1, 1], bias = false);  # 1x2x2
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "local_same": (
        "local with padding = same (odd total [1, 2], dilated total 2) "
        "and circular padding, 2-D",
        """\
network local_same {
    input [2, 7, 6];
    local (filters = 2, kernel = [2, 3], padding = same, activation = tanh);  # 7x6
    local (filters = 2, kernel = 2, dilation = 2, padding = same);             # 7x6
    local (filters = 2, kernel = 3, stride = 2, padding = circular([2, 1]), activation = relu);  # 5x3
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    # ------------------------------------------------ pooling
    "maxpool_1d": (
        "maxpool in 1-D: size 3 stride 2 zero(1) with relu, default "
        "stride, stride 1 replicate(1) with tanh",
        """\
network maxpool_1d {
    input [2, 20];
    conv (filters = 3, kernel = 3, activation = tanh);                               # 18
    maxpool (size = 3, stride = 2, padding = zero(1), activation = relu);            # 9
    maxpool (size = 2);                                                              # 4
    maxpool (size = 2, stride = 1, padding = replicate(1), activation = tanh);       # 5
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 4, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "maxpool_3d": (
        "maxpool in 3-D: per-axis size/stride/zero padding with sigmoid, "
        "default stride",
        """\
network maxpool_3d {
    input [2, 6, 7, 6];
    conv (filters = 3, kernel = 2, activation = tanh);                                                   # 5x6x5
    maxpool (size = [2, 3, 2], stride = [1, 2, 2], padding = zero([1, 1, 0]), activation = sigmoid);     # 6x3x2
    maxpool (size = 2);                                                                                  # 3x1x1
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    "maxpool_negative": (
        "zero padding never wins a max: all-negative input (first layer "
        "a zero-padded maxpool), and a bias-free 1x1 conv with positive "
        "weights keeps it negative before two more zero-padded maxpools",
        """\
network maxpool_negative {
    input [2, 7, 7];
    maxpool (size = 2, stride = 2, padding = zero(1));                  # 4x4
    conv c (filters = 3, kernel = 1, bias = false);                     # 4x4, all < 0
    maxpool (size = 3, stride = 1, padding = zero(1));                  # 4x4
    maxpool (size = 2, stride = 1, padding = zero(1), activation = tanh);  # 5x5
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    "maxpool_negative_1d": (
        "zero-padded maxpool on all-negative values in 1-D: a 1x1 conv "
        "with positive weights, then padded pools (stride 1 and 2, same)",
        """\
network maxpool_negative_1d {
    input [3, 9];
    conv c (filters = 2, kernel = 1, bias = false);                # 9, all < 0
    maxpool (size = 3, stride = 2, padding = zero(1));             # 5
    maxpool (size = 2, stride = 1, padding = same);                # 5
    maxpool (size = 3, stride = 1, padding = zero(2));             # 7
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 4, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    "maxpool_pad_modes": (
        "maxpool with replicate, reflect (per-axis), circular (per-axis) "
        "and same padding, 2-D",
        """\
network maxpool_pad_modes {
    input [2, 8, 7];
    conv (filters = 3, kernel = 3, activation = tanh);                          # 6x5
    maxpool (size = 3, stride = 1, padding = replicate(1));                     # 6x5
    maxpool (size = [3, 2], stride = 1, padding = reflect([2, 1]));             # 8x6
    maxpool (size = 3, stride = 2, padding = circular([1, 2]));                 # 4x4
    maxpool (size = [2, 3], stride = 1, padding = same);                        # 4x4
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    "avgpool_1d": (
        "avgpool in 1-D: zero(1) counted in the mean, sigmoid; default "
        "stride; the averaging neuron with replicate(1) and tanh",
        """\
network avgpool_1d {
    input [2, 18];
    conv (filters = 3, kernel = 3, activation = relu);                               # 16
    avgpool (size = 3, stride = 2, padding = zero(1), activation = sigmoid);         # 8
    avgpool (size = 2);                                                              # 4
    avgpool (size = 3, stride = 1, padding = replicate(1), activation = tanh);       # 4
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 4, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    "avgpool_3d": (
        "avgpool in 3-D: per-axis size/stride/zero padding with relu, "
        "default stride",
        """\
network avgpool_3d {
    input [2, 6, 6, 7];
    conv (filters = 2, kernel = [1, 2, 2], activation = tanh);                                        # 6x5x6
    avgpool (size = [2, 3, 2], stride = [2, 1, 2], padding = zero([0, 1, 1]), activation = relu);    # 3x5x4
    avgpool (size = 2);                                                                               # 1x2x2
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    "avgpool_pad_modes": (
        "avgpool with zero (count_include_pad), replicate, reflect, "
        "circular and same padding, 2-D, per-axis lists",
        """\
network avgpool_pad_modes {
    input [2, 7, 8];
    conv (filters = 3, kernel = 2, activation = tanh);                          # 6x7
    avgpool (size = 3, stride = 1, padding = zero(1));                          # 6x7
    avgpool (size = 3, stride = 1, padding = replicate([1, 2]));                # 6x9
    avgpool (size = [2, 3], stride = [2, 1], padding = reflect(1));             # 4x9
    avgpool (size = 3, stride = 2, padding = circular([1, 1]));                 # 2x5
    avgpool (size = 2, stride = 1, padding = same);                             # 2x5
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    "pool_pad_1d": (
        "1-D pooling with same (odd totals 1 and 3), reflect(2), "
        "circular(2), replicate(2)",
        """\
network pool_pad_1d {
    input [3, 11];
    conv (filters = 2, kernel = 2, activation = tanh);                  # 10
    maxpool (size = 2, stride = 1, padding = same);                     # 10
    avgpool (size = 4, stride = 1, padding = same);                     # 10
    maxpool (size = 3, stride = 2, padding = reflect(2));               # 6
    avgpool (size = 3, stride = 2, padding = circular(2));              # 4
    maxpool (size = 2, stride = 1, padding = replicate(2));             # 7
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 4, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    "pool_pad_3d": (
        "3-D pooling with replicate, reflect, circular (per-axis) and same",
        """\
network pool_pad_3d {
    input [2, 5, 6, 6];
    conv (filters = 2, kernel = 2, activation = tanh);                                  # 4x5x5
    maxpool (size = 3, stride = 1, padding = replicate([1, 1, 0]));                     # 4x5x3
    avgpool (size = 2, stride = 1, padding = reflect([1, 0, 1]));                       # 5x4x4
    maxpool (size = [2, 3, 3], stride = [2, 1, 1], padding = circular(1));              # 3x4x4
    avgpool (size = [3, 2, 2], stride = 1, padding = same);                             # 3x4x4
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 2, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    "pool_default_stride": (
        "default pooling stride = size, per axis, sizes that do not divide "
        "the input (floor)",
        """\
network pool_default_stride {
    input [2, 11, 9];
    conv (filters = 3, kernel = 2, activation = relu);  # 10x8
    maxpool (size = [3, 2]);                            # 3x4
    avgpool (size = [1, 3]);                            # 3x1
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 4, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    "pool_wide_2d": (
        "pooling rows of 16 and more outputs (whole SIMD vectors and a "
        "shifted last one): stride 1 and 2, overlapping and tiling "
        "windows, windows that leave a margin uncovered, relu on a pool",
        """\
network pool_wide_2d {
    input [2, 6, 41];
    conv (filters = 3, kernel = 2, activation = tanh);     # 5x40
    maxpool (size = 2, stride = 1);                        # 4x39
    avgpool (size = [1, 3], stride = 1);                   # 4x37
    maxpool (size = 2);                                    # 2x18
    avgpool (size = 2, activation = relu);                 # 1x9
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    "pool_wide_1d": (
        "wide 1-D pooling: size 3 stride 2 zero(1), averaging neuron with "
        "replicate(1), size 2 leaving one input uncovered, size 1 stride 2",
        """\
network pool_wide_1d {
    input [2, 70];
    conv (filters = 3, kernel = 3, activation = tanh);          # 68
    maxpool (size = 3, stride = 2, padding = zero(1));          # 34
    avgpool (size = 2, stride = 1, padding = replicate(1));     # 35
    maxpool (size = 2);                                         # 17
    avgpool (size = 1, stride = 2);                             # 9
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    "pool_wide_3d": (
        "wide 3-D pooling: size 2 on a zero-padded axis, then a stride-1 "
        "window over two axes",
        """\
network pool_wide_3d {
    input [1, 4, 3, 36];
    conv (filters = 2, kernel = [1, 1, 3], activation = tanh);  # 4x3x34
    maxpool (size = 2, padding = zero([0, 1, 0]));              # 2x2x17
    avgpool (size = [2, 1, 2], stride = 1);                     # 1x2x16
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    "pool_ties": (
        "maxpool ties: conv c has zero weights, so every position of a map "
        "holds its bias and every window ties; the first window element "
        "must win (PyTorch's rule), else c's weight gradient differs; wide "
        "rows, stride 1 and 2, overlapping and tiling windows",
        """\
network pool_ties {
    input [2, 7, 40];
    conv c (filters = 2, kernel = [2, 3]);                 # 6x38, all = bias
    maxpool (size = 2, stride = 1);                        # 5x37
    maxpool (size = 2);                                    # 2x18
    maxpool (size = [1, 3], stride = [1, 2]);              # 2x8
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    # ------------------------------------------------ activations, vectors
    "act_image_1d": (
        "standalone relu / sigmoid / tanh layers on 1-D signals (relu on "
        "the raw input first), and relu on the flattened vector",
        """\
network act_image_1d {
    input [2, 10];
    relu;
    conv (filters = 3, kernel = 3);          # 8
    sigmoid;
    conv (filters = 3, kernel = 2);          # 7
    tanh;
    maxpool (size = 2);                      # 3
    flatten;
    relu;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 5, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    "act_image_3d": (
        "standalone tanh / relu / sigmoid layers on 3-D volumes",
        """\
network act_image_3d {
    input [2, 3, 4, 4];
    tanh;
    conv (filters = 3, kernel = 2);          # 2x3x3
    relu;
    avgpool (size = [1, 2, 2], stride = 1);  # 2x2x2
    sigmoid;
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 4, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    "act_vector": (
        "input [N] vector: standalone tanh on the input, sigmoid / relu "
        "layers between dense layers, dense without bias",
        """\
network act_vector {
    input [12];
    tanh;
    dense (units = 10);
    sigmoid;
    dense (units = 8, bias = false);
    relu;
    dense (units = 4);
    loss softmax_cross_entropy;
}
""", 6, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    # ------------------------------------------------ mse
    "mse_vector": (
        "loss mse on a vector output [4] (mean over N*4), tanh layer last",
        """\
network mse_vector {
    input [10];
    dense (units = 8, activation = sigmoid);
    dense (units = 4);
    tanh;
    loss mse;
    train (lr = 0.5, momentum = 0.9, weight_decay = 0.1);
}
""", 5, ""),

    "mse_autoencoder": (
        "loss mse on an image-shaped output [2, 8, 8] (a conv "
        "autoencoder-like net ending in a conv)",
        """\
network mse_autoencoder {
    input [2, 8, 8];
    conv enc (filters = 4, kernel = 3, padding = same, activation = tanh);       # 4x8x8
    conv mid (filters = 3, kernel = 3, padding = reflect(1), activation = relu);  # 3x8x8
    conv dec (filters = 2, kernel = 3, padding = replicate(1));                  # 2x8x8
    loss mse;
}
""", 3, "--lr 0.5 --momentum 0.9 --weight-decay 0.1"),

    "mse_conv1d": (
        "loss mse on a 1-D signal output [3, 4], ending in an avgpool "
        "with an activation",
        """\
network mse_conv1d {
    input [2, 16];
    conv (filters = 3, kernel = 3, padding = zero(1), activation = relu);  # 16
    avgpool (size = 4, activation = tanh);                                 # 4
    loss mse;
}
""", 4, "--lr 1 --momentum 0.9 --weight-decay 0.1"),

    "mse_3d": (
        "loss mse on a 3-D volume output [2, 2, 4, 4], ending in a local "
        "layer with sigmoid",
        """\
network mse_3d {
    input [1, 4, 6, 6];
    conv (filters = 3, kernel = 3, activation = tanh);                 # 2x4x4
    local (filters = 2, kernel = 1, activation = sigmoid);             # 2x4x4
    loss mse;
}
""", 3, "--lr 2 --momentum 0.9 --weight-decay 0.1"),

    # ------------------------------------------------ mixed deep networks
    "mixed_1d": (
        "deep 1-D net: same + dilation, symmetric with reflect, local, "
        "padded maxpool/avgpool with activations, relu layer, dense stack",
        """\
network mixed_1d {
    input [2, 40];
    conv c1 (filters = 4, kernel = 4, dilation = 2, padding = same, activation = relu);       # 40
    maxpool (size = 3, stride = 2, padding = zero(1));                                        # 20
    conv c2 (filters = 4, kernel = 5, symmetric = true, padding = reflect(2), activation = tanh);  # 20
    local l3 (filters = 3, kernel = 3, stride = 2, padding = replicate(1));                   # 10
    relu;
    avgpool (size = 3, stride = 1, padding = circular(1), activation = sigmoid);              # 10
    conv c4 (filters = 5, kernel = 3, stride = 3, connect = [[0], [1, 2], [2], [0, 1, 2], [1]]);  # 3
    flatten;
    dense (units = 8, activation = tanh);
    dense (units = 4);
    loss softmax_cross_entropy;
}
""", 4, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "mixed_2d": (
        "deep 2-D net: reflect conv, symmetric + connect, overlapping "
        "maxpool, local, replicate avgpool, conv with kernel = padded "
        "input (1x1), dense with tanh",
        """\
network mixed_2d {
    input [3, 14, 13];
    conv c1 (filters = 4, kernel = 3, padding = reflect(1), activation = relu);          # 14x13
    conv c2 (filters = 4, kernel = 3, symmetric = true, connect = [[0, 1], [1, 2], [2, 3], [3, 0, 1]],
             padding = same, activation = tanh);                                         # 14x13
    maxpool (size = 3, stride = 2);                                                      # 6x6
    local l3 (filters = 3, kernel = [3, 2], padding = zero([1, 0]), activation = tanh);  # 6x5
    avgpool (size = 3, stride = 1, padding = replicate(1));                              # 6x5
    conv c4 (filters = 6, kernel = [8, 5], padding = circular([1, 0]), activation = sigmoid);  # 1x1
    flatten;
    dense (units = 5, activation = tanh);
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.3 --momentum 0.9 --weight-decay 0.1"),

    "mixed_3d": (
        "deep 3-D net: replicate conv, maxpool, symmetric conv, local, "
        "avgpool with padding, conv with kernel = input (1x1x1)",
        """\
network mixed_3d {
    input [2, 6, 8, 8];
    conv c1 (filters = 3, kernel = 3, padding = replicate(1), activation = relu);        # 6x8x8
    maxpool (size = 2);                                                                  # 3x4x4
    conv c2 (filters = 3, kernel = [1, 3, 3], symmetric = true, padding = zero([0, 1, 1]), activation = tanh);  # 3x4x4
    local l3 (filters = 2, kernel = 2, activation = tanh);                               # 2x3x3
    avgpool (size = 2, stride = 1, padding = zero([0, 1, 1]));                           # 1x4x4
    conv c4 (filters = 4, kernel = [1, 4, 4], activation = sigmoid);                     # 1x1x1
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 2, "--lr 0.3 --momentum 0.9 --weight-decay 0.1"),

    "mixed_mse": (
        "deep 2-D net to an image-shaped mse target: local, symmetric, "
        "pooling with activations, ending in a conv with bias = false",
        """\
network mixed_mse {
    input [2, 10, 10];
    conv c1 (filters = 3, kernel = 3, padding = zero(1), activation = tanh);          # 10x10
    avgpool (size = 2, activation = relu);                                            # 5x5
    local l2 (filters = 3, kernel = 3, padding = reflect(1), activation = sigmoid);   # 5x5
    conv c3 (filters = 3, kernel = 3, symmetric = true, padding = circular(1));       # 5x5
    maxpool (size = 2, stride = 1, padding = same, activation = tanh);                # 5x5
    conv c4 (filters = 2, kernel = 2, bias = false);                                  # 4x4
    loss mse;
}
""", 3, "--lr 1 --momentum 0.9 --weight-decay 0.1"),

    # ------------------------------------------------ found by tools/randnet.py
    "long_table_2d": (
        "randnet: a conv reading 32 maps through a 5x5 kernel (800 input "
        "rows per output); main's SIMD emitter wrote its 800-entry offset "
        "table on one line, which emit() cut at 4095 characters: the "
        "generated C did not compile",
        """\
network long_table_2d {
    input [32, 12, 12];
    conv c (filters = 2, kernel = 5, activation = tanh);  # 8x8
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 3, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "long_table_3d": (
        "randnet's minimal case of the same bug, 3-D: kernel [3, 4, 4] on "
        "15 maps (720 offsets), a 1x1x1 conv before it",
        """\
network long_table_3d {
    input [1, 10, 5, 5];
    conv (filters = 15, kernel = 1);
    conv (kernel = [3, 4, 4], filters = 1);  # [1, 8, 2, 2]
    flatten;
    loss softmax_cross_entropy;
}
""", 2, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    "conv_onednn_trap": (
        "randnet: a 2-map kernel as wide as its 14-wide image ([16, 14] on "
        "[2, 18, 14]), whose float32 weight gradient oneDNN got wrong in "
        "Debian's torch 1.13 (netspec now runs without it)",
        """\
network conv_onednn_trap {
    input [2, 18, 14];
    conv c (filters = 3, kernel = [16, 14], activation = tanh);  # [3, 3, 1]
    flatten;
    dense (units = 3);
    loss softmax_cross_entropy;
}
""", 2, "--lr 0.2 --momentum 0.9 --weight-decay 0.1"),

    # ------------------------------------------------ the examples
    "ex_conv1d_signal": (
        "examples/conv1d_signal.net verbatim",
        example("conv1d_signal"), 2, "--lr 0.1 --weight-decay 0.1"),

    "ex_conv3d_volume": (
        "examples/conv3d_volume.net verbatim",
        example("conv3d_volume"), 2, "--lr 0.1 --weight-decay 0.1"),

    "ex_symmetric": (
        "examples/symmetric.net verbatim",
        example("symmetric"), 3, "--lr 0.1 --weight-decay 0.1"),

    "ex_local": (
        "examples/local.net verbatim",
        example("local"), 3, "--lr 0.1 --weight-decay 0.1"),

    "ex_averaging": (
        "examples/averaging.net verbatim",
        example("averaging"), 3, "--lr 0.1 --weight-decay 0.1"),

    "ex_lenet5_1998": (
        "examples/lenet5_1998.net verbatim: the 1998 C3 connection table, "
        "C5 as a 5x5 conv on 5x5 maps",
        example("lenet5_1998"), 3, "--lr 0.1 --weight-decay 0.1"),
}

# Cases whose batch or weights need a sign: name -> {"input": "negative"
# (every input value < 0), "positive": [parameter names made > 0]}.
OPTIONS = {
    "maxpool_negative": {"input": "negative", "positive": ["c.weight"]},
    "maxpool_negative_1d": {"input": "negative", "positive": ["c.weight"]},
    "pool_ties": {"zero": ["c.weight"]},
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


def make_weights(spec, gen, opts=None):
    """Random parameters obeying the spec's ties and masks; those named in
    opts["positive"] made positive, those in opts["zero"] zero."""
    positive = (opts or {}).get("positive", ())
    zero = (opts or {}).get("zero", ())
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
        if name in positive:
            w = w.abs() + 0.05 * b
        if name in zero:
            w = torch.zeros_like(w)
        out[name] = w.contiguous()
    return out


def make_batch(spec, n, gen, opts=None):
    x = torch.randn((n,) + spec["input"], generator=gen)
    if (opts or {}).get("input") == "negative":
        x = -x.abs() - 0.1
    if spec["loss"] == "softmax_cross_entropy":
        y = torch.randint(0, spec["out_shape"][0], (n,), generator=gen)
    else:
        y = torch.randn((n,) + spec["out_shape"], generator=gen)
    return x, y


def f32(t):
    return np.ascontiguousarray(t.detach().numpy().astype(np.float32))


def compute(spec, weights, x, y, hp, steps=2, dtype=torch.float32):
    """-> (grad dict, stepped parameter dict), both name -> numpy float32.
    dtype=torch.float64 does the same in double precision (randnet checks
    torch's float32 kernels with it)."""
    loss_fn = netspec.loss_fn(spec)
    x = x.to(dtype)
    y = y.to(dtype) if y.is_floating_point() else y
    model = netspec.build(spec).load(weights).to(dtype)
    out = model(x)
    loss = loss_fn(out, y)
    params = model.params()
    if not params:  # a network of pooling and activations only
        return {"loss": f32(loss).reshape(()), "output": f32(out)}, {}
    loss.backward()
    grad = {"loss": f32(loss).reshape(()), "output": f32(out)}
    for name, p in params.items():
        grad[name + ".grad"] = f32(p.grad)

    model = netspec.build(spec).load(weights).to(dtype)
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
    opts = OPTIONS.get(name, {})
    weights = make_weights(spec, gen, opts)
    x, y = make_batch(spec, n, gen, opts)
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
    opts = OPTIONS.get(name, {})
    weights = make_weights(spec, gen, opts)
    x, y = make_batch(spec, n, gen, opts)
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
