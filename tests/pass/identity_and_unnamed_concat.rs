//! A DenseNet layer: an unnamed concat of the input (`identity`) and a branch in braces, whose
//! layers are keyed in the block's scope as torchvision keys `_DenseLayer`'s.
stride::network! {
    block DenseLayer(growth) {
        concat {
            input: identity,
            {
                norm1: batch_norm2d(),
                relu1: relu,
                conv1: conv2d(growth, kernel = 3, padding = 1, bias = false),
            },
        }
    }

    pub struct Block: [16, 8, 8] {
        denselayer1: DenseLayer(8),
        denselayer2: DenseLayer(8),
        r#type: conv2d(4, kernel = 1),
    }
}

fn main() {
    assert_eq!(Block::OUTPUT, [4, 8, 8]);
    let keys: Vec<&str> = Block::GRAPH.layers.iter().map(|l| l.key).collect();
    assert!(keys.contains(&"denselayer2.conv1"), "{keys:?}");
    assert!(keys.contains(&"type"), "{keys:?}");
    let mut net = Block::init(0);
    assert_eq!(net.denselayer2_conv1().weight().dim(), (8, 24, 3, 3));
    assert_eq!(net.r#type().weight().dim(), (4, 32, 1, 1));
    net.r#type_mut();
    let y = net.forward(stride::ndarray::Array4::zeros((2, 16, 8, 8)).view()).unwrap();
    assert_eq!(y.dim(), (2, 4, 8, 8));
}
