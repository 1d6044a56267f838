//! Whole torchvision models declared with `network!`: their weight keys are torchvision's, so
//! `load_safetensors` takes a converted torchvision checkpoint unchanged.
//!
//! Shared by the examples and the tests (`#[path]`), so each model is written once.
#![allow(dead_code)] // each user of this module takes the models it needs

use stride::network;

network! {
    /// torchvision's `BasicBlock`: two 3x3 convs, and a 1x1 strided `downsample` on the
    /// shortcut when the block changes the shape.
    pub block BasicBlock(planes, stride = 1) {
        residual {
            conv1: conv2d(planes, kernel = 3, stride = stride, padding = 1, bias = false),
            bn1: batch_norm2d(),
            relu1: relu,
            conv2: conv2d(planes, kernel = 3, padding = 1, bias = false),
            bn2: batch_norm2d(),
        } shortcut downsample: [
            conv2d(planes, kernel = 1, stride = stride, bias = false),
            batch_norm2d(),
        ],
        relu: relu,
    }

    /// torchvision's `Bottleneck` (v1.5, the stride on the 3x3): `width` channels inside,
    /// `out` (4 x width) outside.
    pub block Bottleneck(width, out, stride = 1) {
        residual {
            conv1: conv2d(width, kernel = 1, bias = false),
            bn1: batch_norm2d(),
            relu1: relu,
            conv2: conv2d(width, kernel = 3, stride = stride, padding = 1, bias = false),
            bn2: batch_norm2d(),
            relu2: relu,
            conv3: conv2d(out, kernel = 1, bias = false),
            bn3: batch_norm2d(),
        } shortcut downsample: [
            conv2d(out, kernel = 1, stride = stride, bias = false),
            batch_norm2d(),
        ],
        relu: relu,
    }

    /// torchvision `resnet18`: 224x224 RGB -> 1000 logits.
    pub struct ResNet18: [3, 224, 224] {
        conv1: conv2d(64, kernel = 7, stride = 2, padding = 3, bias = false),
        bn1: batch_norm2d(),
        relu: relu,
        maxpool: max_pool2d(kernel = 3, stride = 2, padding = 1),
        layer1: [BasicBlock(64), BasicBlock(64)],
        layer2: [BasicBlock(128, stride = 2), BasicBlock(128)],
        layer3: [BasicBlock(256, stride = 2), BasicBlock(256)],
        layer4: [BasicBlock(512, stride = 2), BasicBlock(512)],
        avgpool: adaptive_avg_pool2d(1),
        flatten: flatten,
        fc: linear(1000),
    }

    /// torchvision `resnet50`: 224x224 RGB -> 1000 logits.
    pub struct ResNet50: [3, 224, 224] {
        conv1: conv2d(64, kernel = 7, stride = 2, padding = 3, bias = false),
        bn1: batch_norm2d(),
        relu: relu,
        maxpool: max_pool2d(kernel = 3, stride = 2, padding = 1),
        layer1: [Bottleneck(64, 256), Bottleneck(64, 256), Bottleneck(64, 256)],
        layer2: [
            Bottleneck(128, 512, stride = 2),
            Bottleneck(128, 512),
            Bottleneck(128, 512),
            Bottleneck(128, 512),
        ],
        layer3: [
            Bottleneck(256, 1024, stride = 2),
            Bottleneck(256, 1024),
            Bottleneck(256, 1024),
            Bottleneck(256, 1024),
            Bottleneck(256, 1024),
            Bottleneck(256, 1024),
        ],
        layer4: [
            Bottleneck(512, 2048, stride = 2),
            Bottleneck(512, 2048),
            Bottleneck(512, 2048),
        ],
        avgpool: adaptive_avg_pool2d(1),
        flatten: flatten,
        fc: linear(1000),
    }

    /// torchvision `vgg16`: 13 3x3 convs in 5 blocks (`features.N`), then 3 linear layers
    /// (`classifier.N`); the dropouts take their places in the numbering.
    pub struct Vgg16: [3, 224, 224] {
        features: [
            conv2d(64, kernel = 3, padding = 1), relu,
            conv2d(64, kernel = 3, padding = 1), relu,
            max_pool2d(2),
            conv2d(128, kernel = 3, padding = 1), relu,
            conv2d(128, kernel = 3, padding = 1), relu,
            max_pool2d(2),
            conv2d(256, kernel = 3, padding = 1), relu,
            conv2d(256, kernel = 3, padding = 1), relu,
            conv2d(256, kernel = 3, padding = 1), relu,
            max_pool2d(2),
            conv2d(512, kernel = 3, padding = 1), relu,
            conv2d(512, kernel = 3, padding = 1), relu,
            conv2d(512, kernel = 3, padding = 1), relu,
            max_pool2d(2),
            conv2d(512, kernel = 3, padding = 1), relu,
            conv2d(512, kernel = 3, padding = 1), relu,
            conv2d(512, kernel = 3, padding = 1), relu,
            max_pool2d(2),
        ],
        avgpool: adaptive_avg_pool2d(7),
        flatten: flatten,
        classifier: [
            linear(4096), relu, dropout(0.5),
            linear(4096), relu, dropout(0.5),
            linear(1000),
        ],
    }
}
