//! torchvision's GoogLeNet (Inception v1).

use crate::network;

network! {
    /// torchvision's `BasicConv2d`: a convolution without bias, batch norm with eps 0.001,
    /// ReLU.
    #[export]
    pub block BasicConv2d(out, kernel = 1, stride = 1, padding = 0) {
        conv: conv2d(out, kernel = kernel, stride = stride, padding = padding, bias = false),
        bn: batch_norm2d(eps = 0.001),
        relu: relu,
    }

    /// torchvision's `Inception`: four branches from the same input, joined along channels.
    /// The third branch's kernel is 3x3, as torchvision has it (the paper says 5x5).
    #[export]
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

    /// torchvision `googlenet` as its pretrained weights load it (no auxiliary classifiers).
    /// torchvision's `transform_input` rescales the input's channels before `conv1`; that
    /// belongs to preprocessing and is not part of the network.
    pub struct GoogLeNet: [3, H, W] {
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
}
