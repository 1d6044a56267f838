//! The networks of the examples and tests beyond `stride::zoo`: the pieces of torchvision
//! models that the golden files hold, declared with `network!` under torchvision's keys (the
//! later ones from the zoo's blocks), so `load_safetensors` takes them unchanged. The whole
//! torchvision models come from the zoo.
//!
//! Shared by the examples and the tests (`#[path]`), so each model is written once.
#![allow(dead_code)] // each user of this module takes the models it needs

use stride::network;

network! {
    use ::stride::zoo::BasicBlock;
    use ::stride::zoo::Bottleneck;

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
        layer1: [Bottleneck(8)],
        layer2: [Bottleneck(16, stride = 2), Bottleneck(16)],
        layer3: [Bottleneck(32, stride = 2)],
        layer4: [Bottleneck(64, stride = 2)],
        avgpool: adaptive_avg_pool2d(1),
        flatten: flatten,
        fc: linear(10),
    }
}

network! {
    use ::stride::zoo::Inception;

    /// torchvision googlenet's `inception3a` on its own, whose keys start at the branches
    /// (`branch1.conv.weight`), hence the empty key.
    pub struct GoogLeNetInception3a: [192, H, W] {
        #[key = ""]
        inception3a: Inception(64, 96, 128, 16, 32, 32),
    }
}

network! {
    use ::stride::zoo::DenseLayer;

    /// densenet121's `features.denseblock1` on its own: six layers, 64 -> 256 channels.
    pub struct DenseNet121Block1: [64, H, W] {
        #[key = ""]
        #[keys("denselayer{}", from = 1)]
        denseblock1: [DenseLayer(128, 32); 6],
    }
}

network! {
    use ::stride::zoo::ConvBnHardswish;
    use ::stride::zoo::ReluSeNoExpand;
    use ::stride::zoo::ReluBlock;
    use ::stride::zoo::ReluBlockSkip;

    /// mobilenet_v3_small's `features[0:4]`, keys `0.*` … `3.*`.
    pub struct MobileNetV3SmallHead: [3, H, W] {
        #[key = ""]
        features: [
            ConvBnHardswish(3, 16, stride = 2),
            ReluSeNoExpand(16, 16, 8),
            ReluBlock(16, 72, 24, stride = 2),
            ReluBlockSkip(24, 88),
        ],
    }
}

network! {
    use ::stride::zoo::ConvBnSiLU;
    use ::stride::zoo::MBConv1;
    use ::stride::zoo::MBConv6;
    use ::stride::zoo::MBConv6Skip;

    /// efficientnet_b0's `features[0:3]`, keys `0.*` … `2.*`.
    pub struct EfficientNetB0Head: [3, H, W] {
        #[key = ""]
        features: [
            ConvBnSiLU(3, 32, stride = 2),
            [MBConv1(32, 16)],
            [MBConv6(16, 24, 3, stride = 2), MBConv6Skip(24, 3)],
        ],
    }
}

network! {
    use ::stride::zoo::CNBlock;

    /// convnext_tiny's `features[0:2]`: the patchify stem and the first stage's three blocks,
    /// keys `0.*` and `1.*`.
    pub struct ConvNeXtTinyHead: [3, H, W] {
        #[key = ""]
        features: [
            [conv2d(96, kernel = 4, stride = 4), layer_norm2d(96)],
            [CNBlock(96); 3],
        ],
    }
}
