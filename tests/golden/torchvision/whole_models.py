"""Writes whole torchvision models with random weights, for the ignored test
`whole_models_match_torchvision` in `tests/zoo_models.rs`: for each model of `stride::zoo`
that torchvision has, `<dir>/<name>.safetensors` with its `state_dict` (batch norm statistics,
layer norm parameters and ConvNeXt's layer scale drawn at random, so a misplaced norm shows),
an `input` of two 96x112 images, and torchvision's `output` for it. The files are large
(VGG-16's is over 500 MB), so they are not kept in the repository.

    /path/to/venv-with-torchvision/bin/python tests/golden/torchvision/whole_models.py DIR
    STRIDE_TORCHVISION_DIR=DIR cargo test --release --test zoo_models -- --ignored
"""

import pathlib
import sys

import torch
import torchvision.models as models
from safetensors.torch import save_file

from generate import MODELS

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)
for name in MODELS:
    kwargs = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    net = getattr(models, name)(weights=None, **kwargs).eval()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
            if hasattr(module, "layer_scale"):
                module.layer_scale.uniform_(0.5, 1.5)
        x = torch.randn(2, 3, 96, 112)
        y = net(x)
    tensors = {k: v.contiguous() for k, v in net.state_dict().items()
               if not k.endswith("num_batches_tracked")}
    tensors["input"] = x.contiguous()
    tensors["output"] = y.contiguous()
    save_file(tensors, str(out / f"{name}.safetensors"))
    print(name, tuple(y.shape), float(y.abs().max()))
