#!/bin/sh
# torch_roundtrip.sh: weights move between cnnc and PyTorch with identical
# predictions, both ways (needs /usr/bin/python3 with Debian's python3-torch;
# not part of `make test`).  docs/PYTORCH.md records a run.
#   0. tools/to_torch.py's modules reproduce every golden case's outputs.
#   1. cnnc -> PyTorch: examples/cifar10_conv.net trained by the generated
#      program on a synthetic CIFAR-10 set; the saved .npz loaded into the
#      torch.nn module; both predict the same fresh samples.
#   2. PyTorch -> cnnc: the same network trained by PyTorch on the same
#      files, exported to .npz; `./net predict` and `./net eval` use it.
#   3. The layers PyTorch has no built-in for (connect tables, symmetric
#      and locally connected kernels): PyTorch-initialised weights of
#      examples/lenet5_1998.net, symmetric.net and local.net, predicted
#      by both on random inputs.
#   4. When Fashion-MNIST is installed (make deps): examples/lenet.net
#      trained one epoch by each side on the real data, the other side
#      predicting the 10,000 test images.
# Exits non-zero if any predictions differ in their argmax.
set -e
py=${PYTHON:-/usr/bin/python3}
b=${1:-build}
t=$b/roundtrip
tt="$py tools/to_torch.py"
rm -rf "$t" && mkdir -p "$t/data"
make -s all

echo "== 0. tools/to_torch.py against the golden outputs"
$tt --check-golden

echo "== 1. trained by cnnc, evaluated in PyTorch"
"$b/mkdata" cifar10 "$t/data" --train 3000 --test 1000 --seed 5 --npy "$t/fresh"
"$b/cnnc" examples/cifar10_conv.net -o "$t/net"
"$t/net" train --data "$t/data" --epochs 3 --batch 32 --lr 0.02 --seed 1 --save "$t/cnnc.npz" |
    grep -v '^saved'
"$t/net" predict --weights "$t/cnnc.npz" --input "$t/fresh-x.npy" --output "$t/cnnc_by_cnnc.npy"
$tt examples/cifar10_conv.net --load "$t/cnnc.npz" --input "$t/fresh-x.npy" \
    --output "$t/cnnc_by_torch.npy"
$tt --compare "$t/cnnc_by_cnnc.npy" "$t/cnnc_by_torch.npy" "$t/fresh-y.npy"

echo "== 2. trained by PyTorch, evaluated by cnnc"
$tt examples/cifar10_conv.net --export "$t/torch.npz" --seed 1 --train "$t/data" --epochs 3 \
    --batch 32 --lr 0.02
"$t/net" eval --data "$t/data" --weights "$t/torch.npz"
"$t/net" predict --weights "$t/torch.npz" --input "$t/fresh-x.npy" --output "$t/torch_by_cnnc.npy"
$tt examples/cifar10_conv.net --load "$t/torch.npz" --input "$t/fresh-x.npy" \
    --output "$t/torch_by_torch.npy"
$tt --compare "$t/torch_by_torch.npy" "$t/torch_by_cnnc.npy" "$t/fresh-y.npy"

echo "== 3. layers without a PyTorch built-in, PyTorch-initialised"
for name in lenet5_1998 symmetric local; do
    $py -c "import sys; sys.path.insert(0, 'tools'); import numpy as np, netspec
s = netspec.load('examples/$name.net')
np.save('$t/$name-x.npy', np.random.default_rng(3).random((64,) + s['input'], dtype=np.float32))"
    $tt examples/$name.net --export "$t/$name.npz" --seed 2 > /dev/null
    "$b/cnnc" examples/$name.net -o "$t/$name"
    "$t/$name" predict --weights "$t/$name.npz" --input "$t/$name-x.npy" --output "$t/$name-c.npy"
    $tt examples/$name.net --load "$t/$name.npz" --input "$t/$name-x.npy" --output "$t/$name-t.npy" \
        > /dev/null
    printf '%s: ' "$name"
    $tt --compare "$t/$name-t.npy" "$t/$name-c.npy"
done
fashion=${FASHION:-/usr/share/datasets/fashion-mnist}
if [ -d "$fashion" ]; then
    echo "== 4. Fashion-MNIST, lenet, one epoch each way"
    $py -c "import sys; sys.path.insert(0, 'tools'); import numpy as np, to_torch
m = to_torch.module('examples/lenet.net')
_, _, x, y = to_torch.load_data('$fashion')
np.save('$t/fm-x.npy', to_torch.as_input(m, x).numpy()); np.save('$t/fm-y.npy', y.astype(np.int64))"
    "$b/cnnc" examples/lenet.net -o "$t/lenet"
    "$t/lenet" train --data "$fashion" --epochs 1 --save "$t/fm-cnnc.npz" | grep '^epoch'
    "$t/lenet" predict --weights "$t/fm-cnnc.npz" --input "$t/fm-x.npy" --output "$t/fm-cc.npy"
    $tt examples/lenet.net --load "$t/fm-cnnc.npz" --input "$t/fm-x.npy" --output "$t/fm-ct.npy" \
        > /dev/null
    $tt --compare "$t/fm-cc.npy" "$t/fm-ct.npy" "$t/fm-y.npy"
    $tt examples/lenet.net --export "$t/fm-torch.npz" --seed 1 --train "$fashion" --epochs 1
    "$t/lenet" eval --data "$fashion" --weights "$t/fm-torch.npz"
    "$t/lenet" predict --weights "$t/fm-torch.npz" --input "$t/fm-x.npy" --output "$t/fm-tc.npy"
    $tt examples/lenet.net --load "$t/fm-torch.npz" --input "$t/fm-x.npy" --output "$t/fm-tt.npy" \
        > /dev/null
    $tt --compare "$t/fm-tt.npy" "$t/fm-tc.npy" "$t/fm-y.npy"
fi
echo "round trip: identical predictions both ways"
