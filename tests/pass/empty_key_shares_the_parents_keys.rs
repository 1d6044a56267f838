//! `#[key = ""]` on a block instance: a checkpoint of one torchvision block (`resnet50.layer2[0]`
//! saved on its own) has keys `conv1.weight`, `downsample.0.weight`, … with no prefix.
stride::network! {
    block Bottleneck(width, out, stride = 1) {
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

    pub struct Layer2Block0: [256, 56, 56] {
        #[key = ""]
        block: Bottleneck(128, 512, stride = 2),
    }
}

fn main() {
    let keys: Vec<&str> = Layer2Block0::GRAPH.layers.iter().map(|l| l.key).collect();
    assert_eq!(keys[0], "conv1");
    assert!(keys.contains(&"downsample.0"), "{keys:?}");
    assert_eq!(Layer2Block0::OUTPUT, [512, 28, 28]);
    let net = Layer2Block0::init(0);
    assert_eq!(net.block_conv1().weight().dim(), (128, 256, 1, 1));
}
