"""Writes the `.pth` fixtures of stride's PyTorch-checkpoint loader (tests/pth.rs and
stride-runtime/tests/pth.rs). Run from the repository root with PyTorch >= 1.6 and safetensors:

    python tests/golden/pth/make_pth.py

Every file is written by torch.save itself except `big_endian.pth`, which is a copy of
`state_dict.pth` whose `byteorder` member says "big" (PyTorch on a little-endian machine
cannot write one). Nothing here executes the forbidden callable: pickling an object whose
`__reduce__` names `os.system` only records the name.
"""

import collections
import os
import zipfile

import torch
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
STEM = os.path.join(HERE, "..", "resnet18_stem.safetensors")


class Stem(torch.nn.Module):
    """torchvision ResNet-18's stem, under its names (stride's `ResNetStem`)."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(64)

    def forward(self, x):
        return torch.nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 3, 2, 1)


def stem():
    """The stem with the weights of `resnet18_stem.safetensors` (whose input and output the
    Rust test runs and compares)."""
    golden = load_file(STEM)
    model = Stem()
    model.load_state_dict(
        {k: v for k, v in golden.items() if k not in ("input", "output")}, strict=False
    )
    model.eval()
    return model


class Shell:
    """An object whose unpickling would run `os.system`: pickling it only writes the name."""

    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def path(name):
    return os.path.join(HERE, name)


def main():
    torch.manual_seed(14)
    model = stem()

    # 1. A plain state_dict, as `torch.save(model.state_dict(), path)` writes it: an
    #    OrderedDict with `_metadata`, and batch norm's I64 `num_batches_tracked`.
    torch.save(model.state_dict(), path("state_dict.pth"))

    # 2. A training checkpoint: the state_dict beside the epoch, the optimizer's state (with
    #    momentum buffers, themselves tensors), a string and a float; and an averaged copy of
    #    the weights under another entry, which `Weights::open_entry` reads.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(1, 3, 32, 32)).sum().backward()
    optimizer.step()
    optimizer.zero_grad()
    model.load_state_dict(stem().state_dict())  # the step changed the weights: undo it
    ema = collections.OrderedDict((k, v * 0.5) for k, v in model.state_dict().items())
    torch.save(
        {
            "epoch": 7,
            "arch": "resnet18_stem",
            "best_acc1": 0.25,
            "state_dict": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "model_ema": ema,
        },
        path("checkpoint.pth"),
    )

    # 3. Dtypes and views: f16, bf16 and f64 tensors, a transposed tensor, a slice at a
    #    storage offset with a step, two keys sharing one storage, an empty tensor, an
    #    nn.Parameter; `views_expected.safetensors` holds each one's values as contiguous f32.
    base = torch.arange(60, dtype=torch.float32).reshape(6, 10) / 7
    views = collections.OrderedDict()
    views["half"] = (torch.randn(3, 5) * 100).half()
    views["bfloat"] = torch.randn(4, 2).bfloat16()
    views["double"] = torch.randn(5).double() / 3
    views["transposed"] = base.t()
    views["sliced"] = base[1:5, 2:9:3]
    views["shared_row"] = base[3]
    views["empty"] = torch.zeros(0, 4)
    views["param"] = torch.nn.Parameter(torch.randn(2, 3), requires_grad=True)
    views["subnormal_half"] = torch.tensor([6e-8, -3e-5, 65504.0, float("inf")]).half()
    assert not views["transposed"].is_contiguous() and not views["sliced"].is_contiguous()
    torch.save(views, path("views.pth"))
    save_file(
        {k: v.detach().float().contiguous() for k, v in views.items()},
        path("views_expected.safetensors"),
    )

    # 4. Files that must be refused: a pickle that calls `os.system` (beside a tensor, so the
    #    file is otherwise a plain dict), a whole pickled module rather than its state_dict,
    #    the format before PyTorch 1.6, and a big-endian byte order.
    torch.save({"weight": torch.zeros(2), "payload": Shell()}, path("forbidden.pth"))
    torch.save(torch.nn.Linear(2, 2), path("whole_module.pth"))
    torch.save(
        {"weight": torch.zeros(2)}, path("legacy.pth"), _use_new_zipfile_serialization=False
    )
    with zipfile.ZipFile(path("state_dict.pth")) as src, zipfile.ZipFile(
        path("big_endian.pth"), "w", zipfile.ZIP_STORED
    ) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("/byteorder"):
                data = b"big"
            dst.writestr(info.filename.replace("state_dict/", "big_endian/"), data)


if __name__ == "__main__":
    main()
