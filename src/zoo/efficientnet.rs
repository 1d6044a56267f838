//! torchvision's EfficientNet-B0.

use crate::network;

network! {
    use crate::zoo::blocks::ConvBn;
    use crate::zoo::blocks::ConvBnSiLU;
    use crate::zoo::blocks::SqueezeExcitation;

    /// The body of an `MBConv` with expand ratio 1 (stage 1): a depthwise convolution with
    /// SiLU, squeeze-excitation to `input / 4` channels, a 1x1 projection (`block.0` …
    /// `block.2`).
    #[sequential]
    #[export]
    pub block MBConv1Body(input, out, kernel = 3) {
        depthwise: ConvBnSiLU(input, input, kernel = kernel, groups = input),
        se: SqueezeExcitation(input, input / 4),
        project: ConvBn(input, out),
    }

    /// The body of an `MBConv`: a 1x1 expansion to `input * 6` channels, a depthwise
    /// convolution, squeeze-excitation to `input / 4` channels (torchvision squeezes from the
    /// block's input channels), a 1x1 projection (`block.0` … `block.3`).
    #[sequential]
    #[export]
    pub block MBConv6Body(input, out, kernel, stride = 1) {
        expand: ConvBnSiLU(input, input * 6, kernel = 1),
        depthwise: ConvBnSiLU(
            input * 6, input * 6, kernel = kernel, stride = stride, groups = input * 6
        ),
        se: SqueezeExcitation(input * 6, input / 4),
        project: ConvBn(input * 6, out),
    }

    /// `MBConv` with expand ratio 1.
    #[export]
    pub block MBConv1(input, out, kernel = 3) {
        block: MBConv1Body(input, out, kernel = kernel),
    }

    /// `MBConv` with expand ratio 6 that changes the shape: no residual.
    #[export]
    pub block MBConv6(input, out, kernel, stride = 1) {
        block: MBConv6Body(input, out, kernel, stride = stride),
    }

    /// `MBConv` with expand ratio 6 that keeps the shape: its input added after stochastic
    /// depth (nothing at inference).
    #[export]
    pub block MBConv6Skip(input, kernel) {
        residual {
            block: MBConv6Body(input, input, kernel),
            stochastic_depth: stochastic_depth,
        }
    }

    /// torchvision `efficientnet_b0`: stages of (expand ratio, kernel, stride, channels,
    /// blocks) (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
    /// (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1).
    pub struct EfficientNetB0: [3, H, W] {
        features: [
            ConvBnSiLU(3, 32, stride = 2),
            [MBConv1(32, 16)],
            [MBConv6(16, 24, 3, stride = 2), MBConv6Skip(24, 3)],
            [MBConv6(24, 40, 5, stride = 2), MBConv6Skip(40, 5)],
            [MBConv6(40, 80, 3, stride = 2), ..[MBConv6Skip(80, 3); 2]],
            [MBConv6(80, 112, 5), ..[MBConv6Skip(112, 5); 2]],
            [MBConv6(112, 192, 5, stride = 2), ..[MBConv6Skip(192, 5); 3]],
            [MBConv6(192, 320, 3)],
            ConvBnSiLU(320, 1280, kernel = 1),
        ],
        avgpool: adaptive_avg_pool2d(1),
        flatten: flatten,
        classifier: [dropout(0.2), linear(1000)],
    }
}
