//! torchvision's DenseNet-121.

use crate::network;

network! {
    /// torchvision's `_DenseLayer`: batch norm, ReLU, a 1x1 convolution to `width` channels,
    /// batch norm, ReLU, a 3x3 convolution to `growth` channels; its output is joined to its
    /// input, so each layer sees the block's input and every earlier layer's output
    /// (torchvision concatenates in `forward`, so the layers' keys have no branch name).
    #[export]
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
    #[export]
    pub block Transition(out) {
        norm: batch_norm2d(),
        relu: relu,
        conv: conv2d(out, kernel = 1, bias = false),
        pool: avg_pool2d(2),
    }

    /// torchvision `densenet121`: growth 32, bottleneck width 128, blocks of 6, 12, 24 and 16
    /// layers (`features.denseblockN.denselayerM`).
    pub struct DenseNet121: [3, H, W] {
        features: {
            conv0: conv2d(64, kernel = 7, stride = 2, padding = 3, bias = false),
            norm0: batch_norm2d(),
            relu0: relu,
            pool0: max_pool2d(kernel = 3, stride = 2, padding = 1),
            #[keys("denselayer{}", from = 1)]
            denseblock1: [DenseLayer(128, 32); 6],
            transition1: Transition(128),
            #[keys("denselayer{}", from = 1)]
            denseblock2: [DenseLayer(128, 32); 12],
            transition2: Transition(256),
            #[keys("denselayer{}", from = 1)]
            denseblock3: [DenseLayer(128, 32); 24],
            transition3: Transition(512),
            #[keys("denselayer{}", from = 1)]
            denseblock4: [DenseLayer(128, 32); 16],
            norm5: batch_norm2d(),
        },
        relu: relu,
        avgpool: adaptive_avg_pool2d(1),
        flatten: flatten,
        classifier: linear(1000),
    }
}
