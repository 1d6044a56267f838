//! The residual blocks of torchvision's ResNets, declared once and used by the networks of
//! `mod.rs` from more than one `network!` invocation (`use self::blocks::BasicBlock;`).

use stride::network;

network! {
    /// torchvision's `BasicBlock`: two 3x3 convs, and a 1x1 strided `downsample` on the
    /// shortcut when the block changes the shape.
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

    /// torchvision's `Bottleneck` (v1.5, the stride on the 3x3): `width` channels inside,
    /// `out` (4 x width) outside.
    pub block Bottleneck(width, out, stride = 1) {
        residual {
            conv1: conv2d(width, kernel = 1, bias = false),
            bn1: batch_norm2d(),
            relu1: relu,
            conv2: conv2d(width, kernel = 3, stride = stride, padding = 1, bias = false),
            bn2: batch_norm2d(),
            relu2: relu,
            conv3: conv2d(out, kernel = 1, bias = false),
            bn3: batch_norm2d(),
        } shortcut downsample: [
            conv2d(out, kernel = 1, stride = stride, bias = false),
            batch_norm2d(),
        ],
        relu: relu,
    }
}
