#!/usr/bin/env python3
"""PyTorch reference vectors for depthwise convolutions (groups == Cin, Cout = m * Cin).

Writes cases.json (the parameters of each case) and cases.safetensors (its tensors, under
"<name>.x", ".w", ".b" when it has a bias, ".y"), next to this file. Run with a Python that has
torch and safetensors:

    python tests/golden/extra/depthwise/generate.py

Each case is torch.nn.functional.conv2d on the input zero-padded by F.pad with the case's
[top, bottom, left, right] pads (so asymmetric padding is PyTorch's too), then the case's
activation. Read by tests/depthwise_golden.rs.
"""
import json
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240607

ACTIVATIONS = {
    "identity": lambda y: y,
    "relu": F.relu,
    "relu6": F.relu6,
    "leaky_relu_0.1": lambda y: F.leaky_relu(y, 0.1),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "silu": F.silu,
}

# name, [N, Cin, H, W], multiplier, [kh, kw], [sh, sw], [top, bottom, left, right], [dh, dw],
# bias, activation
CASES = [
    ("mobilenet_3x3_s1", [1, 32, 20, 20], 1, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], True, "relu6"),
    ("mobilenet_3x3_s2", [1, 24, 19, 21], 1, [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], True, "relu6"),
    ("efficientnet_5x5_s1", [1, 16, 14, 14], 1, [5, 5], [1, 1], [2, 2, 2, 2], [1, 1], True, "silu"),
    ("efficientnet_5x5_s2", [1, 20, 28, 28], 1, [5, 5], [2, 2], [2, 2, 2, 2], [1, 1], False, "silu"),
    ("tf_same_5x5_s2_even", [1, 9, 16, 12], 1, [5, 5], [2, 2], [1, 2, 1, 2], [1, 1], True, "identity"),
    ("convnext_7x7", [2, 12, 15, 9], 1, [7, 7], [1, 1], [3, 3, 3, 3], [1, 1], True, "identity"),
    ("efficientnet_3x3_7x7_planes", [1, 40, 7, 7], 1, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], True, "sigmoid"),
    ("rect_3x5_s1x2", [1, 10, 13, 17], 1, [3, 5], [1, 2], [1, 1, 2, 2], [1, 1], True, "relu"),
    ("rect_1x7", [1, 8, 6, 30], 1, [1, 7], [1, 1], [0, 0, 3, 3], [1, 1], False, "identity"),
    ("rect_7x1", [1, 8, 30, 6], 1, [7, 1], [1, 1], [3, 3, 0, 0], [1, 1], True, "tanh"),
    ("stride3_4x4", [1, 11, 20, 23], 1, [4, 4], [3, 3], [1, 1, 1, 1], [1, 1], True, "identity"),
    ("stride_3x1", [1, 6, 17, 19], 1, [3, 3], [3, 1], [1, 0, 0, 1], [1, 1], True, "leaky_relu_0.1"),
    ("dilation2_3x3", [1, 14, 18, 18], 1, [3, 3], [1, 1], [2, 2, 2, 2], [2, 2], True, "relu"),
    ("dilation_2x3_3x2", [1, 7, 16, 21], 1, [3, 2], [1, 2], [2, 1, 0, 3], [2, 3], False, "identity"),
    ("multiplier2", [1, 6, 10, 10], 2, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], True, "identity"),
    ("multiplier3_s2", [2, 5, 13, 11], 3, [5, 3], [2, 2], [2, 1, 1, 2], [1, 1], True, "relu"),
    ("planes_1x1", [3, 10, 1, 1], 1, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], True, "identity"),
    ("tiny_2x3_5x5", [1, 4, 2, 3], 1, [5, 5], [1, 1], [2, 2, 2, 2], [1, 1], True, "identity"),
    ("kernel_11x11", [1, 9, 16, 16], 1, [11, 11], [1, 1], [5, 5, 5, 5], [1, 1], True, "identity"),
    ("pad_wider_than_kernel", [1, 3, 5, 6], 1, [3, 3], [1, 1], [3, 3, 3, 3], [1, 1], True, "identity"),
    ("channels_13_batch_2", [2, 13, 9, 33], 1, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], True, "relu6"),
    ("wide_3x3_s2_odd", [1, 17, 5, 77], 1, [3, 3], [2, 2], [0, 1, 0, 1], [1, 1], False, "identity"),
]


def main():
    torch.manual_seed(SEED)
    tensors, cases = {}, []
    for name, shape, m, kernel, stride, pads, dilation, bias, activation in CASES:
        n, cin, h, w = shape
        x = torch.randn(n, cin, h, w)
        weight = torch.randn(cin * m, 1, *kernel) * 0.3
        b = torch.randn(cin * m) if bias else None
        top, bottom, left, right = pads
        padded = F.pad(x, (left, right, top, bottom))
        y = F.conv2d(padded, weight, b, stride=stride, dilation=dilation, groups=cin)
        y = ACTIVATIONS[activation](y)
        tensors[f"{name}.x"] = x.contiguous()
        tensors[f"{name}.w"] = weight.contiguous()
        if bias:
            tensors[f"{name}.b"] = b.contiguous()
        tensors[f"{name}.y"] = y.contiguous()
        cases.append({
            "name": name,
            "stride": stride,
            "padding": pads,
            "dilation": dilation,
            "groups": cin,
            "bias": bias,
            "activation": activation,
        })
    save_file(tensors, os.path.join(HERE, "cases.safetensors"))
    header = {
        "generator": f"torch {torch.__version__}, {os.path.basename(__file__)}",
        "seed": SEED,
        "tolerance": "abs(got - want) <= 1e-4 + 1e-4 * abs(want)",
    }
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        # One case a line.
        lines = [json.dumps(case) for case in cases]
        f.write(json.dumps(header)[:-1] + ',\n "cases": [\n  ' + ",\n  ".join(lines) + "\n ]}\n")


if __name__ == "__main__":
    main()
