"""Writes, for each model of `stride::zoo`, torchvision's `state_dict` keys with their shapes
(`<model>.txt`: one `key dim,dim,...` per line, `num_batches_tracked` left out) and its
parameter count, so that `tests/zoo_models.rs` checks each declaration's keys, shapes and
count against torchvision without its weights.

    /path/to/venv-with-torchvision/bin/python tests/golden/torchvision/generate.py

Generated with the torchvision version recorded in `versions.txt`.
"""

import pathlib

import torch
import torchvision
import torchvision.models as models

MODELS = [
    "alexnet", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn", "googlenet", "resnet18", "resnet34",
    "resnet50", "resnet101", "densenet121", "mobilenet_v2", "mobilenet_v3_small",
    "efficientnet_b0", "convnext_tiny",
]

here = pathlib.Path(__file__).parent
for name in MODELS:
    kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    net = getattr(models, name)(weights=None, **kwargs)
    lines = [
        f"{key} {','.join(str(d) for d in tensor.shape)}"
        for key, tensor in net.state_dict().items()
        if not key.endswith("num_batches_tracked")
    ]
    params = sum(p.numel() for p in net.parameters())
    (here / f"{name}.txt").write_text(f"params {params}\n" + "\n".join(lines) + "\n")
(here / "versions.txt").write_text(
    f"torch {torch.__version__}\ntorchvision {torchvision.__version__}\n"
)
