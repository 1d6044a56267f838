//! torchvision's ConvNeXt-Tiny.

use crate::network;

network! {
    /// torchvision's `CNBlock`: a depthwise 7x7, a layer norm over each pixel's channels, a
    /// linear layer on each pixel to 4x the channels, exact GELU, a linear layer back, a
    /// learned scale per channel, and the input added. torchvision moves the channels last
    /// around the norm and the linear layers (its `Permute`s, `block.1` and `block.6`); here
    /// they work on NCHW directly, so those two places are `identity`, kept for the numbering.
    #[export]
    pub block CNBlock(dim) {
        residual {
            block: [
                conv2d(dim, kernel = 7, padding = 3, groups = dim),
                identity,
                layer_norm2d(dim),
                pixel_linear(dim => dim * 4),
                gelu,
                pixel_linear(dim * 4 => dim),
                identity,
            ],
            layer_scale: layer_scale(dim),
            stochastic_depth: stochastic_depth,
        }
    }

    /// The downsampling between stages: a layer norm, then a 2x2 convolution of stride 2.
    #[export]
    pub block Downsample(input, out) {
        #[key = ""]
        layers: [layer_norm2d(input), conv2d(input => out, kernel = 2, stride = 2)],
    }

    /// torchvision `convnext_tiny`: a 4x4 patchify stem with layer norm, stages of 3, 3, 9
    /// and 3 blocks at 96, 192, 384 and 768 channels, and a classifier of layer norm, flatten
    /// and linear.
    pub struct ConvNeXtTiny: [3, H, W] {
        features: [
            [conv2d(96, kernel = 4, stride = 4), layer_norm2d(96)],
            [CNBlock(96); 3],
            Downsample(96, 192),
            [CNBlock(192); 3],
            Downsample(192, 384),
            [CNBlock(384); 9],
            Downsample(384, 768),
            [CNBlock(768); 3],
        ],
        avgpool: adaptive_avg_pool2d(1),
        classifier: [layer_norm2d(768), flatten, linear(1000)],
    }
}
