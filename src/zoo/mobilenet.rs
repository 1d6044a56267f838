//! torchvision's MobileNetV2 and MobileNetV3-Small.

use crate::network;

network! {
    use crate::zoo::blocks::ConvBnReLU6;

    /// The body of MobileNetV2's `InvertedResidual` with expand ratio 1 (its first block): a
    /// depthwise 3x3 and a linear 1x1 projection (`conv.0` … `conv.2`).
    #[sequential]
    #[export]
    pub block InvertedConv1(input, out) {
        depthwise: ConvBnReLU6(input, input, groups = input),
        project: conv2d(input => out, kernel = 1, bias = false),
        bn: batch_norm2d(),
    }

    /// The body of MobileNetV2's `InvertedResidual`: a 1x1 expansion to `input * ratio`
    /// channels, a depthwise 3x3, a linear 1x1 projection (`conv.0` … `conv.3`).
    #[sequential]
    #[export]
    pub block InvertedConv(input, out, ratio, stride = 1) {
        expand: ConvBnReLU6(input, input * ratio, kernel = 1),
        depthwise: ConvBnReLU6(
            input * ratio, input * ratio, stride = stride, groups = input * ratio
        ),
        project: conv2d(input * ratio => out, kernel = 1, bias = false),
        bn: batch_norm2d(),
    }

    /// MobileNetV2's first `InvertedResidual` (expand ratio 1).
    #[export]
    pub block InvertedResidual1(input, out) {
        conv: InvertedConv1(input, out),
    }

    /// MobileNetV2's `InvertedResidual` that changes the shape: no residual.
    #[export]
    pub block InvertedResidual(input, out, ratio, stride = 1) {
        conv: InvertedConv(input, out, ratio, stride = stride),
    }

    /// MobileNetV2's `InvertedResidual` that keeps the shape, with its input added.
    #[export]
    pub block InvertedResidualSkip(input, ratio) {
        residual {
            conv: InvertedConv(input, input, ratio),
        }
    }

    /// torchvision `mobilenet_v2` (width 1.0): stages of (expand ratio, channels, blocks,
    /// stride) (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
    /// (6, 160, 3, 2), (6, 320, 1, 1).
    pub struct MobileNetV2: [3, H, W] {
        features: [
            ConvBnReLU6(3, 32, stride = 2),
            InvertedResidual1(32, 16),
            InvertedResidual(16, 24, 6, stride = 2),
            InvertedResidualSkip(24, 6),
            InvertedResidual(24, 32, 6, stride = 2),
            ..[InvertedResidualSkip(32, 6); 2],
            InvertedResidual(32, 64, 6, stride = 2),
            ..[InvertedResidualSkip(64, 6); 3],
            InvertedResidual(64, 96, 6),
            ..[InvertedResidualSkip(96, 6); 2],
            InvertedResidual(96, 160, 6, stride = 2),
            ..[InvertedResidualSkip(160, 6); 2],
            InvertedResidual(160, 320, 6),
            ConvBnReLU6(320, 1280, kernel = 1),
        ],
        avgpool: adaptive_avg_pool2d(1),
        flatten: flatten,
        classifier: [dropout(0.2), linear(1000)],
    }
}

network! {
    use crate::zoo::blocks::ConvBn;
    use crate::zoo::blocks::ConvBnHardswish;
    use crate::zoo::blocks::ConvBnReLU;
    use crate::zoo::blocks::HardSqueezeExcitation;

    /// The body of MobileNetV3's first block: no expansion, a depthwise 3x3 of stride 2 with
    /// ReLU, squeeze-excitation, a 1x1 projection (`block.0` … `block.2`). Batch norms take
    /// eps 0.001, as in all of MobileNetV3.
    #[sequential]
    #[export]
    pub block ReluSeNoExpandBody(input, out, squeeze, kernel = 3, stride = 2) {
        depthwise: ConvBnReLU(input, input, kernel = kernel, stride = stride, groups = input, eps = 0.001),
        se: HardSqueezeExcitation(input, squeeze),
        project: ConvBn(input, out, eps = 0.001),
    }

    /// The body of a MobileNetV3 block with ReLU and no squeeze-excitation: a 1x1 expansion
    /// to `expanded`, a depthwise convolution, a 1x1 projection.
    #[sequential]
    #[export]
    pub block ReluBody(input, expanded, out, kernel = 3, stride = 1) {
        expand: ConvBnReLU(input, expanded, kernel = 1, eps = 0.001),
        depthwise: ConvBnReLU(
            expanded, expanded, kernel = kernel, stride = stride, groups = expanded, eps = 0.001
        ),
        project: ConvBn(expanded, out, eps = 0.001),
    }

    /// The body of a MobileNetV3 block with hard-swish and squeeze-excitation.
    #[sequential]
    #[export]
    pub block HardswishSeBody(input, expanded, out, squeeze, kernel = 5, stride = 1) {
        expand: ConvBnHardswish(input, expanded, kernel = 1),
        depthwise: ConvBnHardswish(
            expanded, expanded, kernel = kernel, stride = stride, groups = expanded
        ),
        se: HardSqueezeExcitation(expanded, squeeze),
        project: ConvBn(expanded, out, eps = 0.001),
    }

    /// MobileNetV3's `InvertedResidual` of the first block.
    #[export]
    pub block ReluSeNoExpand(input, out, squeeze) {
        block: ReluSeNoExpandBody(input, out, squeeze),
    }

    /// A ReLU block that changes the shape.
    #[export]
    pub block ReluBlock(input, expanded, out, kernel = 3, stride = 1) {
        block: ReluBody(input, expanded, out, kernel = kernel, stride = stride),
    }

    /// A ReLU block that keeps the shape, with its input added.
    #[export]
    pub block ReluBlockSkip(input, expanded, kernel = 3) {
        residual {
            block: ReluBody(input, expanded, input, kernel = kernel),
        }
    }

    /// A hard-swish block with squeeze-excitation that changes the shape.
    #[export]
    pub block HardswishSeBlock(input, expanded, out, squeeze, kernel = 5, stride = 1) {
        block: HardswishSeBody(input, expanded, out, squeeze, kernel = kernel, stride = stride),
    }

    /// A hard-swish block with squeeze-excitation that keeps the shape, with its input added.
    #[export]
    pub block HardswishSeBlockSkip(input, expanded, squeeze, kernel = 5) {
        residual {
            block: HardswishSeBody(input, expanded, input, squeeze, kernel = kernel),
        }
    }

    /// torchvision `mobilenet_v3_small`: eleven inverted residual blocks, their squeeze
    /// channels rounded as torchvision's `_make_divisible(expanded // 4, 8)` rounds them.
    pub struct MobileNetV3Small: [3, H, W] {
        features: [
            ConvBnHardswish(3, 16, stride = 2),
            ReluSeNoExpand(16, 16, 8),
            ReluBlock(16, 72, 24, stride = 2),
            ReluBlockSkip(24, 88),
            HardswishSeBlock(24, 96, 40, 24, stride = 2),
            ..[HardswishSeBlockSkip(40, 240, 64); 2],
            HardswishSeBlock(40, 120, 48, 32),
            HardswishSeBlockSkip(48, 144, 40),
            HardswishSeBlock(48, 288, 96, 72, stride = 2),
            ..[HardswishSeBlockSkip(96, 576, 144); 2],
            ConvBnHardswish(96, 576, kernel = 1),
        ],
        avgpool: adaptive_avg_pool2d(1),
        flatten: flatten,
        classifier: [linear(1024), hardswish, dropout(0.2), linear(1000)],
    }
}
