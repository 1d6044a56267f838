"""Reference vectors from PyTorch for the ops EfficientNet, ConvNeXt and MobileNetV3 add:
the smooth and hard activations, ConvNeXt's LayerNorm2d, the squeeze-excitation product and
ConvNeXt's layer scale.

Run by hand, from the repository root, with any Python that has torch, torchvision and
safetensors (CI only reads the files this writes):

    /work/torchenv/bin/python tests/golden/extra/generate.py

It writes `ops_extra.json` and `ops_extra.safetensors` beside itself, in the format of
`tests/golden/ops.json`: cases `{"name", "op", "params", "tensors"}`, tensor `t` of case
`name` stored under `"<name>.<t>"` (float32, C order, NCHW), plus the generator's versions
and seed. `tests/ops_extra.rs` runs every case.

Cases (the seed fixes every random draw):

* `gelu` (`params.approximate`: `"none"` or `"tanh"`), `hardswish`, `hardsigmoid`,
  `sigmoid`, `silu`, `tanh`: `x -> y` on a wide range: magnitudes from 1e-40 (subnormal) to
  100 with both signs, +-20 and +-100 themselves, the hard activations' corners (+-3), and
  normal and uniform draws.
* `layer_norm2d` (`params.eps`): torchvision's `LayerNorm2d` (permute to NHWC, layer_norm
  over the channels, permute back) with random `weight` and `bias`, on inputs whose channels
  have different means and a large common offset (up to +100), which a one-pass variance
  would cancel away.
* `scale_channels`: `y = x * gate` with `gate` `[N, C, 1, 1]`, a sigmoid's output as in
  torchvision's `SqueezeExcitation`.
* `layer_scale`: `y = scale * x` with `scale` `[C, 1, 1]`, torchvision's `CNBlock`
  `layer_scale` as a checkpoint stores it.
"""

import json
import pathlib

import torch
import torchvision
from safetensors.torch import save_file
from torchvision.models.convnext import LayerNorm2d

SEED = 0
HERE = pathlib.Path(__file__).resolve().parent


def wide_input(count):
    """`count` values (a multiple of 16): fixed corners, log-spaced magnitudes of both signs,
    then uniform and normal draws; shuffled, shaped [1, count / 16, 4, 4]."""
    fixed = [0.0, -0.0, 20.0, -20.0, 100.0, -100.0, 3.0, -3.0, 2.999, -2.999, 3.001, -3.001,
             6.0, -6.0, 1e-3, -1e-3, 1e-7, -1e-7, 1e-20, -1e-20, 1e-38, -1e-38, 1e-40, -1e-40,
             5.0, -5.0, 10.0, -10.0, 30.0, -30.0, 88.0, -88.0]
    magnitudes = torch.logspace(-40, 2, 96)
    logs = torch.cat([magnitudes, -magnitudes])
    rest = count - len(fixed) - len(logs)
    uniform = torch.empty(rest // 2).uniform_(-20.0, 20.0)
    normal = torch.randn(rest - rest // 2) * 3.0
    x = torch.cat([torch.tensor(fixed), logs, uniform, normal]).float()
    x = x[torch.randperm(count)]
    return x.reshape(1, count // 16, 4, 4)


def main():
    torch.manual_seed(SEED)
    cases, tensors = [], {}

    def add(name, op, params, **named):
        cases.append({"name": name, "op": op, "params": params, "tensors": sorted(named)})
        for key, value in named.items():
            tensors[f"{name}.{key}"] = value.detach().contiguous().float()

    activations = [
        ("gelu", "gelu", {"approximate": "none"}, lambda x: torch.nn.functional.gelu(x)),
        ("gelu_tanh", "gelu", {"approximate": "tanh"},
         lambda x: torch.nn.functional.gelu(x, approximate="tanh")),
        ("hardswish", "hardswish", {}, torch.nn.functional.hardswish),
        ("hardsigmoid", "hardsigmoid", {}, torch.nn.functional.hardsigmoid),
        ("sigmoid", "sigmoid", {}, torch.sigmoid),
        ("silu", "silu", {}, torch.nn.functional.silu),
        ("tanh", "tanh", {}, torch.tanh),
    ]
    for name, op, params, f in activations:
        x = wide_input(1024)
        add(name, op, params, x=x, y=f(x))

    # (n, c, h, w, eps, offset): ConvNeXt's widths and eps, odd sizes, one channel, one
    # pixel, and offsets up to +100.
    norms = [
        (2, 96, 5, 7, 1e-6, 0.0),
        (1, 192, 3, 5, 1e-6, 100.0),
        (1, 384, 2, 3, 1e-6, -30.0),
        (2, 40, 6, 11, 1e-5, 100.0),
        (1, 17, 9, 1, 1e-5, 0.0),
        (1, 3, 5, 5, 1e-5, 100.0),
        (1, 1, 4, 4, 1e-5, 2.0),
        (3, 8, 1, 1, 1e-6, 0.0),
    ]
    for i, (n, c, h, w, eps, offset) in enumerate(norms):
        layer = LayerNorm2d(c, eps=eps)
        with torch.no_grad():
            layer.weight.copy_(torch.randn(c) * 0.5 + 1.0)
            layer.bias.copy_(torch.randn(c) * 0.5)
        channel_means = torch.randn(1, c, 1, 1) * 2.0
        x = torch.randn(n, c, h, w) * (0.5 + torch.rand(n, 1, h, w)) + channel_means + offset
        with torch.no_grad():
            y = layer(x)
        add(f"layer_norm2d_{i:03}", "layer_norm2d", {"eps": eps},
            x=x, weight=layer.weight, bias=layer.bias, y=y)

    for i, (n, c, h, w) in enumerate([(2, 24, 7, 9), (1, 40, 14, 14), (1, 5, 1, 3)]):
        x = torch.randn(n, c, h, w) * 2.0
        gate = torch.sigmoid(torch.randn(n, c, 1, 1) * 2.0)
        add(f"scale_channels_{i:03}", "scale_channels", {}, x=x, gate=gate, y=x * gate)

    for i, (n, c, h, w) in enumerate([(1, 96, 5, 5), (2, 8, 3, 7)]):
        x = torch.randn(n, c, h, w) * 2.0
        scale = torch.randn(c, 1, 1) * 0.1
        add(f"layer_scale_{i:03}", "layer_scale", {}, x=x, scale=scale, y=scale * x)

    save_file(tensors, str(HERE / "ops_extra.safetensors"))
    meta = {
        "generator": f"PyTorch {torch.__version__}, torchvision {torchvision.__version__}",
        "script": "tests/golden/extra/generate.py",
        "seed": SEED,
        "tolerance": "abs(got - want) <= 1e-4 + 1e-4 * abs(want)",
        "cases": cases,
    }
    (HERE / "ops_extra.json").write_text(json.dumps(meta, indent=1) + "\n")
    size = (HERE / "ops_extra.safetensors").stat().st_size
    print(f"{len(cases)} cases, {size / 1024:.0f} KiB of tensors")


if __name__ == "__main__":
    main()
