//! torchvision's VGG-11 and VGG-16, with and without batch norm.

use crate::network;

network! {
    /// What every torchvision VGG ends with: adaptive average pooling to 7x7, then three
    /// linear layers (`classifier.0`, `.3`, `.6`) with ReLU and dropout between.
    #[export]
    pub block VggHead(classes) {
        avgpool: adaptive_avg_pool2d(7),
        flatten: flatten,
        classifier: [
            linear(4096), relu, dropout(0.5),
            linear(4096), relu, dropout(0.5),
            linear(classes),
        ],
    }

    /// torchvision `vgg11`: eight 3x3 convolutions in five blocks (`features.N`), adaptive
    /// average pooling to 7x7, three linear layers (`classifier.N`).
    pub struct Vgg11: [3, H, W] {
        features: [
            conv2d(64, kernel = 3, padding = 1), relu,
            max_pool2d(2),
            conv2d(128, kernel = 3, padding = 1), relu,
            max_pool2d(2),
            conv2d(256, kernel = 3, padding = 1), relu,
            conv2d(256, kernel = 3, padding = 1), relu,
            max_pool2d(2),
            conv2d(512, kernel = 3, padding = 1), relu,
            conv2d(512, kernel = 3, padding = 1), relu,
            max_pool2d(2),
            conv2d(512, kernel = 3, padding = 1), relu,
            conv2d(512, kernel = 3, padding = 1), relu,
            max_pool2d(2),
        ],
        #[key = ""]
        head: VggHead(1000),
    }

    /// torchvision `vgg11_bn`: VGG-11 with a batch norm after each convolution.
    pub struct Vgg11Bn: [3, H, W] {
        features: [
            conv2d(64, kernel = 3, padding = 1), batch_norm2d(), relu,
            max_pool2d(2),
            conv2d(128, kernel = 3, padding = 1), batch_norm2d(), relu,
            max_pool2d(2),
            conv2d(256, kernel = 3, padding = 1), batch_norm2d(), relu,
            conv2d(256, kernel = 3, padding = 1), batch_norm2d(), relu,
            max_pool2d(2),
            conv2d(512, kernel = 3, padding = 1), batch_norm2d(), relu,
            conv2d(512, kernel = 3, padding = 1), batch_norm2d(), relu,
            max_pool2d(2),
            conv2d(512, kernel = 3, padding = 1), batch_norm2d(), relu,
            conv2d(512, kernel = 3, padding = 1), batch_norm2d(), relu,
            max_pool2d(2),
        ],
        #[key = ""]
        head: VggHead(1000),
    }

    /// torchvision `vgg16`: thirteen 3x3 convolutions in five blocks.
    pub struct Vgg16: [3, H, W] {
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
        #[key = ""]
        head: VggHead(1000),
    }

    /// torchvision `vgg16_bn`: VGG-16 with a batch norm after each convolution.
    pub struct Vgg16Bn: [3, H, W] {
        features: [
            conv2d(64, kernel = 3, padding = 1), batch_norm2d(), relu,
            conv2d(64, kernel = 3, padding = 1), batch_norm2d(), relu,
            max_pool2d(2),
            conv2d(128, kernel = 3, padding = 1), batch_norm2d(), relu,
            conv2d(128, kernel = 3, padding = 1), batch_norm2d(), relu,
            max_pool2d(2),
            conv2d(256, kernel = 3, padding = 1), batch_norm2d(), relu,
            conv2d(256, kernel = 3, padding = 1), batch_norm2d(), relu,
            conv2d(256, kernel = 3, padding = 1), batch_norm2d(), relu,
            max_pool2d(2),
            conv2d(512, kernel = 3, padding = 1), batch_norm2d(), relu,
            conv2d(512, kernel = 3, padding = 1), batch_norm2d(), relu,
            conv2d(512, kernel = 3, padding = 1), batch_norm2d(), relu,
            max_pool2d(2),
            conv2d(512, kernel = 3, padding = 1), batch_norm2d(), relu,
            conv2d(512, kernel = 3, padding = 1), batch_norm2d(), relu,
            conv2d(512, kernel = 3, padding = 1), batch_norm2d(), relu,
            max_pool2d(2),
        ],
        #[key = ""]
        head: VggHead(1000),
    }
}
