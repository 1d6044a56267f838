"""Reference vectors from PyTorch for the kernels that take only some layers: transposed
convolutions whose kernel tiles the output (kernel = stride, no padding, output padding or
dilation: `ops/conv_transpose2d/shuffle.rs`) and max pools at stride 1 that keep a narrow
plane's size (`ops/pool/small.rs`). No case of `ops.json` has either shape.

Run by hand, from the repository root, with any Python that has torch and safetensors (CI
only reads the files this writes):

    /work/torchenv/bin/python tests/golden/tiles/generate.py

It writes `ops_tiles.json` and `ops_tiles.safetensors` beside itself, in the format of
`tests/golden/ops.json` (cases `{"name", "op", "params", "tensors"}`, tensor `t` of case
`name` under `"<name>.<t>"`, float32, C order, NCHW), plus the generator's versions and seed.
`tests/ops_golden.rs` runs every case.

Cases (the seed fixes every random draw):

* `conv_transpose2d`: U-Net's 2x2/2 decoder at 64 channels on 17x19 (the shuffle kernel's
  first block of 256 pixels ends inside an input row), grouped, batched, without bias, a 2x3
  kernel at stride (2, 3), a 1x1 at stride 1, and 4x4/4.
* `max_pool2d`: 3x3 at stride 1, padding 1, `ceil_mode` on and off, on planes of 1x1 to 8x8
  and 11x5, with NaN, both zeros and both infinities in the input.
"""

import json
import pathlib

import torch
from safetensors.torch import save_file

SEED = 0
HERE = pathlib.Path(__file__).resolve().parent


def main():
    torch.manual_seed(SEED)
    cases, tensors = [], {}

    def add(name, op, params, **named):
        cases.append({"name": name, "op": op, "params": params, "tensors": sorted(named)})
        for key, value in named.items():
            tensors[f"{name}.{key}"] = value.detach().contiguous().float()

    # (n, cin, cout, h, w, kernel, groups, bias)
    transposed = [
        (1, 64, 64, 17, 19, (2, 2), 1, True),
        (2, 16, 24, 5, 7, (2, 2), 2, True),
        (1, 12, 8, 6, 5, (2, 2), 1, False),
        (2, 6, 9, 4, 3, (2, 3), 3, True),
        (1, 10, 7, 5, 6, (1, 1), 1, True),
        (1, 8, 4, 3, 5, (4, 4), 1, True),
    ]
    for i, (n, cin, cout, h, w, kernel, groups, bias) in enumerate(transposed):
        layer = torch.nn.ConvTranspose2d(cin, cout, kernel, stride=kernel, groups=groups,
                                         bias=bias)
        x = torch.randn(n, cin, h, w)
        with torch.no_grad():
            y = layer(x)
        params = {"stride": list(kernel), "padding": [0, 0], "output_padding": [0, 0],
                  "dilation": [1, 1], "groups": groups, "bias": bias}
        named = {"x": x, "w": layer.weight, "y": y}
        if bias:
            named["b"] = layer.bias
        add(f"conv_transpose2d_tiles_{i:03}", "conv_transpose2d", params, **named)

    # (n, c, h, w, ceil_mode)
    pools = [(1, 40, 7, 7, True), (2, 16, 4, 5, False), (1, 24, 8, 8, True),
             (1, 8, 1, 1, True), (1, 32, 3, 8, False), (1, 20, 11, 5, True)]
    for i, (n, c, h, w, ceil_mode) in enumerate(pools):
        x = torch.randn(n, c, h, w)
        flat = x.view(-1)
        specials = [float("nan"), -0.0, 0.0, float("inf"), float("-inf")]
        for j, v in enumerate(specials):
            flat[(j * 37 + i) % flat.numel()] = v
        y = torch.nn.functional.max_pool2d(x, 3, stride=1, padding=1, ceil_mode=ceil_mode)
        params = {"kernel": [3, 3], "stride": [1, 1], "padding": [1, 1], "dilation": [1, 1],
                  "ceil_mode": ceil_mode}
        add(f"max_pool2d_narrow_{i:03}", "max_pool2d", params, x=x, y=y)

    save_file(tensors, str(HERE / "ops_tiles.safetensors"))
    meta = {
        "generator": f"PyTorch {torch.__version__}",
        "script": "tests/golden/tiles/generate.py",
        "seed": SEED,
        "cases": cases,
    }
    (HERE / "ops_tiles.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
