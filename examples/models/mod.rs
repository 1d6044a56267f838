//! The models of the examples and tests, declared with `network!`: their weight keys are torchvision's, so
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

    /// torchvision resnet18's stem (`conv1`, `bn1`, `relu`, `maxpool`): 224x224 RGB -> 64 x 56 x 56.
    pub struct ResNetStem: [3, 224, 224] {
        conv1: conv2d(64, kernel = 7, stride = 2, padding = 3, bias = false),
        bn1: batch_norm2d(),
        relu: relu,
        maxpool: max_pool2d(kernel = 3, stride = 2, padding = 1),
    }

    /// torchvision vgg16's first block, `features[0:5]`: conv-relu-conv-relu-maxpool, numbered
    /// as `nn.Sequential` numbers them.
    #[sequential("features")]
    pub struct VggBlock1: [3, 224, 224] {
        conv1_1: conv2d(64, kernel = 3, padding = 1),
        relu1_1: relu,
        conv1_2: conv2d(64 => 64, kernel = 3, padding = 1),
        relu1_2: relu,
        pool1: max_pool2d(2),
    }

    /// DCGAN generator (nz = 16, ngf = 8): 16-d noise to a 64x64 RGB image, keys `0.*` to
    /// `12.*` as in `nn.Sequential`.
    #[sequential]
    pub struct DcganGenerator: [16, 1, 1] {
        project: conv_transpose2d(64, kernel = 4, bias = false),
        bn1: batch_norm2d(),
        relu1: relu,
        up2: conv_transpose2d(32, kernel = 4, stride = 2, padding = 1, bias = false),
        bn2: batch_norm2d(),
        relu2: relu,
        up3: conv_transpose2d(16, kernel = 4, stride = 2, padding = 1, bias = false),
        bn3: batch_norm2d(),
        relu3: relu,
        up4: conv_transpose2d(8, kernel = 4, stride = 2, padding = 1, bias = false),
        bn4: batch_norm2d(),
        relu4: relu,
        to_rgb: conv_transpose2d(3, kernel = 4, stride = 2, padding = 1, bias = false),
        tanh: tanh,
    }

    /// torchvision's ResNet module tree with BasicBlocks [2, 2, 2, 2] at widths 8/16/32/64 and
    /// 10 classes: the golden `resnet_narrow_basic`.
    pub struct NarrowBasic: [3, 64, 64] {
        conv1: conv2d(8, kernel = 7, stride = 2, padding = 3, bias = false),
        bn1: batch_norm2d(),
        relu: relu,
        maxpool: max_pool2d(kernel = 3, stride = 2, padding = 1),
        layer1: [BasicBlock(8), BasicBlock(8)],
        layer2: [BasicBlock(16, stride = 2), BasicBlock(16)],
        layer3: [BasicBlock(32, stride = 2), BasicBlock(32)],
        layer4: [BasicBlock(64, stride = 2), BasicBlock(64)],
        avgpool: adaptive_avg_pool2d(1),
        flatten: flatten,
        fc: linear(10),
    }

    /// The same tree with Bottlenecks [1, 2, 1, 1]: the golden `resnet_narrow_bottleneck`.
    pub struct NarrowBottleneck: [3, 64, 64] {
        conv1: conv2d(8, kernel = 7, stride = 2, padding = 3, bias = false),
        bn1: batch_norm2d(),
        relu: relu,
        maxpool: max_pool2d(kernel = 3, stride = 2, padding = 1),
        layer1: [Bottleneck(8, 32)],
        layer2: [Bottleneck(16, 64, stride = 2), Bottleneck(16, 64)],
        layer3: [Bottleneck(32, 128, stride = 2)],
        layer4: [Bottleneck(64, 256, stride = 2)],
        avgpool: adaptive_avg_pool2d(1),
        flatten: flatten,
        fc: linear(10),
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
