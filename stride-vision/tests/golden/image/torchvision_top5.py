"""torchvision's side of the README's `classify` check: a ResNet-18 with random weights (seed 0,
random batch-norm statistics), saved with torch.save as the example reads it, and its own top-5
on the golden photos through torchvision's ImageNet transform.

    python stride-vision/tests/golden/image/torchvision_top5.py r18.pth
    cargo run --release --features vision --example classify -- \
        stride-vision/tests/golden/image/photo.png r18.pth

Needs torch and torchvision (torch 2.15 and torchvision 0.29 wrote the README's figures).
"""
import pathlib
import sys

import torch
import torchvision
from PIL import Image

out = sys.argv[1] if len(sys.argv) > 1 else "r18.pth"
here = pathlib.Path(__file__).parent
torch.manual_seed(0)
model = torchvision.models.resnet18()
for module in model.modules():
    if isinstance(module, torch.nn.BatchNorm2d):
        module.running_mean.uniform_(-0.1, 0.1)
        module.running_var.uniform_(0.5, 1.5)
model.eval()
torch.save(model.state_dict(), out)
transform = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.transforms()
with torch.no_grad():
    for name in ["photo.png", "photo.jpg"]:
        x = transform(Image.open(here / name).convert("RGB")).unsqueeze(0)
        p = torch.softmax(model(x), 1)[0]
        values, indices = p.topk(5)
        print(name, [(int(i), round(float(v) * 100, 3)) for v, i in zip(values, indices)])
