//! The models of the examples and tests, declared with `network!`: their weight keys are torchvision's, so
//! `load_safetensors` takes a converted torchvision checkpoint unchanged.
//!
//! Shared by the examples and the tests (`#[path]`), so each model is written once.
#![allow(dead_code)] // each user of this module takes the models it needs

pub mod blocks;

use stride::network;

network! {
    use self::blocks::BasicBlock;
    use self::blocks::Bottleneck;

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

network! {
    use self::blocks::BasicBlock;

    /// torchvision `resnet18`: RGB of any height and width -> 1000 logits (its global pool
    /// takes any size; torchvision's weights were trained at 224x224).
    pub struct ResNet18: [3, H, W] {
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
}

network! {
    /// torchvision's `BasicConv2d` (GoogLeNet): a convolution without bias, batch norm with
    /// eps 0.001, ReLU.
    pub block BasicConv2d(out, kernel = 1, stride = 1, padding = 0) {
        conv: conv2d(out, kernel = kernel, stride = stride, padding = padding, bias = false),
        bn: batch_norm2d(eps = 0.001),
        relu: relu,
    }

    /// torchvision's `Inception`: four branches from the same input, joined along channels.
    /// The third branch's kernel is 3x3, as torchvision has it (the paper says 5x5).
    pub block Inception(ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj) {
        concat {
            branch1: BasicConv2d(ch1x1),
            branch2: [BasicConv2d(ch3x3red), BasicConv2d(ch3x3, kernel = 3, padding = 1)],
            branch3: [BasicConv2d(ch5x5red), BasicConv2d(ch5x5, kernel = 3, padding = 1)],
            branch4: [
                max_pool2d(kernel = 3, stride = 1, padding = 1, ceil_mode = true),
                BasicConv2d(pool_proj),
            ],
        }
    }

    /// torchvision `googlenet` as its pretrained weights load it (no auxiliary classifiers):
    /// 224x224 RGB -> 1000 logits. torchvision's `transform_input` rescales the input's
    /// channels before `conv1`; that belongs to preprocessing and is not part of the network.
    pub struct GoogLeNet: [3, 224, 224] {
        conv1: BasicConv2d(64, kernel = 7, stride = 2, padding = 3),
        maxpool1: max_pool2d(kernel = 3, stride = 2, ceil_mode = true),
        conv2: BasicConv2d(64),
        conv3: BasicConv2d(192, kernel = 3, padding = 1),
        maxpool2: max_pool2d(kernel = 3, stride = 2, ceil_mode = true),
        inception3a: Inception(64, 96, 128, 16, 32, 32),
        inception3b: Inception(128, 128, 192, 32, 96, 64),
        maxpool3: max_pool2d(kernel = 3, stride = 2, ceil_mode = true),
        inception4a: Inception(192, 96, 208, 16, 48, 64),
        inception4b: Inception(160, 112, 224, 24, 64, 64),
        inception4c: Inception(128, 128, 256, 24, 64, 64),
        inception4d: Inception(112, 144, 288, 32, 64, 64),
        inception4e: Inception(256, 160, 320, 32, 128, 128),
        maxpool4: max_pool2d(kernel = 2, stride = 2, ceil_mode = true),
        inception5a: Inception(256, 160, 320, 32, 128, 128),
        inception5b: Inception(384, 192, 384, 48, 128, 128),
        avgpool: adaptive_avg_pool2d(1),
        flatten: flatten,
        dropout: dropout(0.2),
        fc: linear(1000),
    }

    /// torchvision googlenet's `inception3a` on its own: the golden `googlenet_inception3a`,
    /// whose keys start at the branches (`branch1.conv.weight`), hence the empty key.
    pub struct GoogLeNetInception3a: [192, 28, 28] {
        #[key = ""]
        inception3a: Inception(64, 96, 128, 16, 32, 32),
    }
}

network! {
    /// torchvision's `_DenseLayer`: batch norm, ReLU, a 1x1 convolution to `width` channels,
    /// batch norm, ReLU, a 3x3 convolution to `growth` channels; its output is joined to its
    /// input (torchvision concatenates in `forward`, so the layers' keys have no branch name).
    pub block DenseLayer(width, growth) {
        concat {
            input: identity,
            {
                norm1: batch_norm2d(),
                relu1: relu,
                conv1: conv2d(width, kernel = 1, bias = false),
                norm2: batch_norm2d(),
                relu2: relu,
                conv2: conv2d(growth, kernel = 3, padding = 1, bias = false),
            },
        }
    }

    /// torchvision's `_Transition`: batch norm, ReLU, a 1x1 convolution, 2x2 average pooling.
    pub block Transition(out) {
        norm: batch_norm2d(),
        relu: relu,
        conv: conv2d(out, kernel = 1, bias = false),
        pool: avg_pool2d(2),
    }

    /// densenet121's first dense block: six layers, 64 -> 256 channels.
    pub block DenseBlock1() {
        denselayer1: DenseLayer(128, 32),
        denselayer2: DenseLayer(128, 32),
        denselayer3: DenseLayer(128, 32),
        denselayer4: DenseLayer(128, 32),
        denselayer5: DenseLayer(128, 32),
        denselayer6: DenseLayer(128, 32),
    }

    /// densenet121's second dense block: twelve layers, 128 -> 512 channels.
    pub block DenseBlock2() {
        denselayer1: DenseLayer(128, 32),
        denselayer2: DenseLayer(128, 32),
        denselayer3: DenseLayer(128, 32),
        denselayer4: DenseLayer(128, 32),
        denselayer5: DenseLayer(128, 32),
        denselayer6: DenseLayer(128, 32),
        denselayer7: DenseLayer(128, 32),
        denselayer8: DenseLayer(128, 32),
        denselayer9: DenseLayer(128, 32),
        denselayer10: DenseLayer(128, 32),
        denselayer11: DenseLayer(128, 32),
        denselayer12: DenseLayer(128, 32),
    }

    /// densenet121's third dense block: twenty-four layers, 256 -> 1024 channels.
    pub block DenseBlock3() {
        denselayer1: DenseLayer(128, 32),
        denselayer2: DenseLayer(128, 32),
        denselayer3: DenseLayer(128, 32),
        denselayer4: DenseLayer(128, 32),
        denselayer5: DenseLayer(128, 32),
        denselayer6: DenseLayer(128, 32),
        denselayer7: DenseLayer(128, 32),
        denselayer8: DenseLayer(128, 32),
        denselayer9: DenseLayer(128, 32),
        denselayer10: DenseLayer(128, 32),
        denselayer11: DenseLayer(128, 32),
        denselayer12: DenseLayer(128, 32),
        denselayer13: DenseLayer(128, 32),
        denselayer14: DenseLayer(128, 32),
        denselayer15: DenseLayer(128, 32),
        denselayer16: DenseLayer(128, 32),
        denselayer17: DenseLayer(128, 32),
        denselayer18: DenseLayer(128, 32),
        denselayer19: DenseLayer(128, 32),
        denselayer20: DenseLayer(128, 32),
        denselayer21: DenseLayer(128, 32),
        denselayer22: DenseLayer(128, 32),
        denselayer23: DenseLayer(128, 32),
        denselayer24: DenseLayer(128, 32),
    }

    /// densenet121's fourth dense block: sixteen layers, 512 -> 1024 channels.
    pub block DenseBlock4() {
        denselayer1: DenseLayer(128, 32),
        denselayer2: DenseLayer(128, 32),
        denselayer3: DenseLayer(128, 32),
        denselayer4: DenseLayer(128, 32),
        denselayer5: DenseLayer(128, 32),
        denselayer6: DenseLayer(128, 32),
        denselayer7: DenseLayer(128, 32),
        denselayer8: DenseLayer(128, 32),
        denselayer9: DenseLayer(128, 32),
        denselayer10: DenseLayer(128, 32),
        denselayer11: DenseLayer(128, 32),
        denselayer12: DenseLayer(128, 32),
        denselayer13: DenseLayer(128, 32),
        denselayer14: DenseLayer(128, 32),
        denselayer15: DenseLayer(128, 32),
        denselayer16: DenseLayer(128, 32),
    }

    /// densenet121's `features`, an `nn.Sequential` of named modules.
    pub block DenseNet121Features() {
        conv0: conv2d(64, kernel = 7, stride = 2, padding = 3, bias = false),
        norm0: batch_norm2d(),
        relu0: relu,
        pool0: max_pool2d(kernel = 3, stride = 2, padding = 1),
        denseblock1: DenseBlock1(),
        transition1: Transition(128),
        denseblock2: DenseBlock2(),
        transition2: Transition(256),
        denseblock3: DenseBlock3(),
        transition3: Transition(512),
        denseblock4: DenseBlock4(),
        norm5: batch_norm2d(),
    }

    /// torchvision `densenet121`: 224x224 RGB -> 1000 logits.
    pub struct DenseNet121: [3, 224, 224] {
        features: DenseNet121Features(),
        relu: relu,
        avgpool: adaptive_avg_pool2d(1),
        flatten: flatten,
        classifier: linear(1000),
    }

    /// densenet121's `features.denseblock1` on its own: the golden `densenet121_denseblock1`,
    /// whose keys start at the layers (`denselayer1.norm1.weight`), hence the empty key.
    pub struct DenseNet121Block1: [64, 28, 28] {
        #[key = ""]
        denseblock1: DenseBlock1(),
    }
}

network! {
    /// torchvision's `Conv2dNormActivation` with ReLU6, an `nn.Sequential` (keys `0`, `1`).
    #[sequential]
    pub block ConvBnRelu6(out, kernel = 3, stride = 1, padding = 1, groups = 1) {
        conv: conv2d(
            out, kernel = kernel, stride = stride, padding = padding, groups = groups, bias = false
        ),
        bn: batch_norm2d(),
        relu: relu6,
    }

    /// torchvision's `InvertedResidual` with expand ratio 1: a depthwise 3x3, then a linear
    /// 1x1 projection (`conv.0` .. `conv.2`).
    pub block InvertedResidualNoExpand(hidden, out, stride = 1) {
        conv: [
            ConvBnRelu6(hidden, stride = stride, groups = hidden),
            conv2d(out, kernel = 1, bias = false),
            batch_norm2d(),
        ],
    }

    /// torchvision's `InvertedResidual` that changes the shape: a 1x1 expansion to `hidden`,
    /// a depthwise 3x3, a linear 1x1 projection, and no residual.
    pub block InvertedResidual(hidden, out, stride = 1) {
        conv: [
            ConvBnRelu6(hidden, kernel = 1, padding = 0),
            ConvBnRelu6(hidden, stride = stride, groups = hidden),
            conv2d(out, kernel = 1, bias = false),
            batch_norm2d(),
        ],
    }

    /// torchvision's `InvertedResidual` that keeps the shape, with its input added.
    pub block InvertedResidualSkip(hidden, out) {
        residual {
            conv: [
                ConvBnRelu6(hidden, kernel = 1, padding = 0),
                ConvBnRelu6(hidden, groups = hidden),
                conv2d(out, kernel = 1, bias = false),
                batch_norm2d(),
            ],
        }
    }

    /// torchvision `mobilenet_v2`: 224x224 RGB -> 1000 logits.
    pub struct MobileNetV2: [3, 224, 224] {
        features: [
            ConvBnRelu6(32, stride = 2),
            InvertedResidualNoExpand(32, 16),
            InvertedResidual(96, 24, stride = 2),
            InvertedResidualSkip(144, 24),
            InvertedResidual(144, 32, stride = 2),
            InvertedResidualSkip(192, 32),
            InvertedResidualSkip(192, 32),
            InvertedResidual(192, 64, stride = 2),
            InvertedResidualSkip(384, 64),
            InvertedResidualSkip(384, 64),
            InvertedResidualSkip(384, 64),
            InvertedResidual(384, 96),
            InvertedResidualSkip(576, 96),
            InvertedResidualSkip(576, 96),
            InvertedResidual(576, 160, stride = 2),
            InvertedResidualSkip(960, 160),
            InvertedResidualSkip(960, 160),
            InvertedResidual(960, 320),
            ConvBnRelu6(1280, kernel = 1, padding = 0),
        ],
        avgpool: adaptive_avg_pool2d(1),
        flatten: flatten,
        classifier: [dropout(0.2), linear(1000)],
    }
}
