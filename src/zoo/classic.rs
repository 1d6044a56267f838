//! The early rows of the table: LeNet-5, AlexNet, and the All Convolutional Net's pair.

use crate::network;

network! {
    /// LeNet-5 (LeCun et al., 1998) as the seed's table gives it: a 32x32 grey image, 5x5
    /// convolutions to 6 and 16 channels, each followed by tanh and 2x2 average pooling, then
    /// fully connected layers of 120, 84 and 10 with tanh between; keys `c1`, `c3`, `f5`,
    /// `f6`, `output`. Its first fully connected layer fixes the input size.
    pub struct LeNet5: [1, 32, 32] {
        c1: conv2d(6, kernel = 5),
        tanh1: tanh,
        s2: avg_pool2d(2),
        c3: conv2d(16, kernel = 5),
        tanh3: tanh,
        s4: avg_pool2d(2),
        flatten: flatten,
        f5: linear(120),
        tanh5: tanh,
        f6: linear(84),
        tanh6: tanh,
        output: linear(10),
    }

    /// torchvision `alexnet`: five convolutions (`features.N`), adaptive average pooling to
    /// 6x6, three linear layers (`classifier.N`); the dropouts take their places in the
    /// numbering.
    pub struct AlexNet: [3, H, W] {
        features: [
            conv2d(64, kernel = 11, stride = 4, padding = 2), relu,
            max_pool2d(kernel = 3, stride = 2),
            conv2d(192, kernel = 5, padding = 2), relu,
            max_pool2d(kernel = 3, stride = 2),
            conv2d(384, kernel = 3, padding = 1), relu,
            conv2d(256, kernel = 3, padding = 1), relu,
            conv2d(256, kernel = 3, padding = 1), relu,
            max_pool2d(kernel = 3, stride = 2),
        ],
        avgpool: adaptive_avg_pool2d(6),
        flatten: flatten,
        classifier: [
            dropout(0.5), linear(4096), relu,
            dropout(0.5), linear(4096), relu,
            linear(1000),
        ],
    }

    /// All-CNN-C (Springenberg et al., 2015, "Striving for Simplicity: The All Convolutional
    /// Net") for 32x32 CIFAR images: model C with each max pool replaced by a 3x3 convolution
    /// of stride 2 (`conv3`, `conv6`); ReLU after every convolution but the last, then a global
    /// average over the ten class maps. Keys `conv1` … `conv9`.
    pub struct AllCnnC: [3, H, W] {
        conv1: conv2d(96, kernel = 3, padding = 1),
        relu1: relu,
        conv2: conv2d(96, kernel = 3, padding = 1),
        relu2: relu,
        conv3: conv2d(96, kernel = 3, stride = 2, padding = 1),
        relu3: relu,
        conv4: conv2d(192, kernel = 3, padding = 1),
        relu4: relu,
        conv5: conv2d(192, kernel = 3, padding = 1),
        relu5: relu,
        conv6: conv2d(192, kernel = 3, stride = 2, padding = 1),
        relu6: relu,
        conv7: conv2d(192, kernel = 3),
        relu7: relu,
        conv8: conv2d(192, kernel = 1),
        relu8: relu,
        conv9: conv2d(10, kernel = 1),
        pool: global_avg_pool2d,
        flatten: flatten,
    }

    /// All-CNN-C's base model C: 3x3 max pools of stride 2 (padding 1) where All-CNN-C has
    /// strided convolutions; the same keys, without `conv3` and `conv6`.
    pub struct ModelC: [3, H, W] {
        conv1: conv2d(96, kernel = 3, padding = 1),
        relu1: relu,
        conv2: conv2d(96, kernel = 3, padding = 1),
        relu2: relu,
        pool1: max_pool2d(kernel = 3, stride = 2, padding = 1),
        conv4: conv2d(192, kernel = 3, padding = 1),
        relu4: relu,
        conv5: conv2d(192, kernel = 3, padding = 1),
        relu5: relu,
        pool2: max_pool2d(kernel = 3, stride = 2, padding = 1),
        conv7: conv2d(192, kernel = 3),
        relu7: relu,
        conv8: conv2d(192, kernel = 1),
        relu8: relu,
        conv9: conv2d(10, kernel = 1),
        pool: global_avg_pool2d,
        flatten: flatten,
    }
}
