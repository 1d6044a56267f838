//! torchvision's ResNets: the two residual blocks, and ResNet-18, 34, 50 and 101.

use crate::network;

network! {
    /// torchvision's `BasicBlock`: two 3x3 convolutions with batch norm, the input added
    /// back; a strided 1x1 `downsample` on the shortcut when the block changes the shape.
    #[export]
    pub block BasicBlock(planes, stride = 1) {
        residual {
            conv1: conv2d(planes, kernel = 3, stride = stride, padding = 1, bias = false),
            bn1: batch_norm2d(),
            relu1: relu,
            conv2: conv2d(planes, kernel = 3, padding = 1, bias = false),
            bn2: batch_norm2d(),
        } shortcut downsample: [
            conv2d(planes, kernel = 1, stride = stride, bias = false),
            batch_norm2d(),
        ],
        relu: relu,
    }

    /// torchvision's `Bottleneck` (ResNet v1.5, the stride on the 3x3): a 1x1 to `planes`
    /// channels, a 3x3, and a 1x1 out to `planes * 4`.
    #[export]
    pub block Bottleneck(planes, stride = 1) {
        residual {
            conv1: conv2d(planes, kernel = 1, bias = false),
            bn1: batch_norm2d(),
            relu1: relu,
            conv2: conv2d(planes, kernel = 3, stride = stride, padding = 1, bias = false),
            bn2: batch_norm2d(),
            relu2: relu,
            conv3: conv2d(planes * 4, kernel = 1, bias = false),
            bn3: batch_norm2d(),
        } shortcut downsample: [
            conv2d(planes * 4, kernel = 1, stride = stride, bias = false),
            batch_norm2d(),
        ],
        relu: relu,
    }

    /// The stem every torchvision ResNet starts with: a 7x7 convolution of stride 2, batch
    /// norm, ReLU, and a 3x3 max pool of stride 2 (`conv1`, `bn1`, `relu`, `maxpool`).
    #[export]
    pub block ResNetStem() {
        conv1: conv2d(64, kernel = 7, stride = 2, padding = 3, bias = false),
        bn1: batch_norm2d(),
        relu: relu,
        maxpool: max_pool2d(kernel = 3, stride = 2, padding = 1),
    }

    /// The head every torchvision ResNet ends with: global average pooling and `fc`.
    #[export]
    pub block ResNetHead(classes) {
        avgpool: adaptive_avg_pool2d(1),
        flatten: flatten,
        fc: linear(classes),
    }

    /// torchvision `resnet18`: BasicBlocks [2, 2, 2, 2].
    pub struct ResNet18: [3, H, W] {
        #[key = ""]
        stem: ResNetStem(),
        layer1: [BasicBlock(64); 2],
        layer2: [BasicBlock(128, stride = 2), BasicBlock(128)],
        layer3: [BasicBlock(256, stride = 2), BasicBlock(256)],
        layer4: [BasicBlock(512, stride = 2), BasicBlock(512)],
        #[key = ""]
        head: ResNetHead(1000),
    }

    /// torchvision `resnet34`: BasicBlocks [3, 4, 6, 3].
    pub struct ResNet34: [3, H, W] {
        #[key = ""]
        stem: ResNetStem(),
        layer1: [BasicBlock(64); 3],
        layer2: [BasicBlock(128, stride = 2), ..[BasicBlock(128); 3]],
        layer3: [BasicBlock(256, stride = 2), ..[BasicBlock(256); 5]],
        layer4: [BasicBlock(512, stride = 2), ..[BasicBlock(512); 2]],
        #[key = ""]
        head: ResNetHead(1000),
    }

    /// torchvision `resnet50`: Bottlenecks [3, 4, 6, 3].
    pub struct ResNet50: [3, H, W] {
        #[key = ""]
        stem: ResNetStem(),
        layer1: [Bottleneck(64); 3],
        layer2: [Bottleneck(128, stride = 2), ..[Bottleneck(128); 3]],
        layer3: [Bottleneck(256, stride = 2), ..[Bottleneck(256); 5]],
        layer4: [Bottleneck(512, stride = 2), ..[Bottleneck(512); 2]],
        #[key = ""]
        head: ResNetHead(1000),
    }

    /// torchvision `resnet101`: Bottlenecks [3, 4, 23, 3].
    pub struct ResNet101: [3, H, W] {
        #[key = ""]
        stem: ResNetStem(),
        layer1: [Bottleneck(64); 3],
        layer2: [Bottleneck(128, stride = 2), ..[Bottleneck(128); 3]],
        layer3: [Bottleneck(256, stride = 2), ..[Bottleneck(256); 22]],
        layer4: [Bottleneck(512, stride = 2), ..[Bottleneck(512); 2]],
        #[key = ""]
        head: ResNetHead(1000),
    }
}
