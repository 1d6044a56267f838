//! The small blocks torchvision's mobile networks are built from: `Conv2dNormActivation` (an
//! `nn.Sequential` of a convolution, a batch norm and an activation, keys `0`, `1`) for each
//! activation, and `SqueezeExcitation` with its two gates.
//!
//! Each takes its input channels first and states them to the convolution (`input => out`),
//! so a block given the wrong input is refused where it is used.

use crate::network;

network! {
    /// `Conv2dNormActivation` without an activation: a convolution without bias and its batch
    /// norm (`eps` as the network sets it: 1e-5 by default, MobileNetV3's 0.001).
    #[sequential]
    #[export]
    pub block ConvBn(input, out, kernel = 1, stride = 1, groups = 1, eps = 0.00001) {
        conv: conv2d(
            input => out, kernel = kernel, stride = stride, padding = (kernel - 1) / 2,
            groups = groups, bias = false
        ),
        bn: batch_norm2d(eps = eps),
    }

    /// `Conv2dNormActivation` with ReLU.
    #[sequential]
    #[export]
    pub block ConvBnReLU(input, out, kernel = 3, stride = 1, groups = 1, eps = 0.00001) {
        conv: conv2d(
            input => out, kernel = kernel, stride = stride, padding = (kernel - 1) / 2,
            groups = groups, bias = false
        ),
        bn: batch_norm2d(eps = eps),
        relu: relu,
    }

    /// `Conv2dNormActivation` with ReLU6 (MobileNetV2).
    #[sequential]
    #[export]
    pub block ConvBnReLU6(input, out, kernel = 3, stride = 1, groups = 1) {
        conv: conv2d(
            input => out, kernel = kernel, stride = stride, padding = (kernel - 1) / 2,
            groups = groups, bias = false
        ),
        bn: batch_norm2d(),
        relu: relu6,
    }

    /// `Conv2dNormActivation` with hard-swish (MobileNetV3).
    #[sequential]
    #[export]
    pub block ConvBnHardswish(input, out, kernel = 3, stride = 1, groups = 1, eps = 0.001) {
        conv: conv2d(
            input => out, kernel = kernel, stride = stride, padding = (kernel - 1) / 2,
            groups = groups, bias = false
        ),
        bn: batch_norm2d(eps = eps),
        act: hardswish,
    }

    /// `Conv2dNormActivation` with SiLU (EfficientNet).
    #[sequential]
    #[export]
    pub block ConvBnSiLU(input, out, kernel = 3, stride = 1, groups = 1) {
        conv: conv2d(
            input => out, kernel = kernel, stride = stride, padding = (kernel - 1) / 2,
            groups = groups, bias = false
        ),
        bn: batch_norm2d(),
        act: silu,
    }

    /// torchvision's `SqueezeExcitation` as EfficientNet uses it: the map pooled to one value
    /// per channel, squeezed to `squeeze` channels (`fc1`) with SiLU, expanded back (`fc2`),
    /// and a sigmoid gate multiplying each channel of the input.
    #[export]
    pub block SqueezeExcitation(channels, squeeze) {
        scale {
            avgpool: adaptive_avg_pool2d(1),
            fc1: conv2d(channels => squeeze, kernel = 1),
            activation: silu,
            fc2: conv2d(squeeze => channels, kernel = 1),
            scale_activation: sigmoid,
        }
    }

    /// `SqueezeExcitation` as MobileNetV3 uses it: ReLU inside, a hard-sigmoid gate.
    #[export]
    pub block HardSqueezeExcitation(channels, squeeze) {
        scale {
            avgpool: adaptive_avg_pool2d(1),
            fc1: conv2d(channels => squeeze, kernel = 1),
            activation: relu,
            fc2: conv2d(squeeze => channels, kernel = 1),
            scale_activation: hardsigmoid,
        }
    }
}
