//! A squeeze-excitation gate (`scale { .. }`, keys in the block's scope as torchvision's
//! `SqueezeExcitation` has them), a per-pixel linear layer, and stochastic depth.
stride::network! {
    /// torchvision's `SqueezeExcitation` with a sigmoid gate.
    block SqueezeExcitation(squeeze, channels) {
        scale {
            avgpool: adaptive_avg_pool2d(1),
            fc1: conv2d(squeeze, kernel = 1),
            activation: relu,
            fc2: conv2d(channels, kernel = 1),
            scale_activation: sigmoid,
        }
    }

    pub struct Gated: [16, 8, 8] {
        block: [
            conv2d(16, kernel = 3, padding = 1),
            SqueezeExcitation(4, 16),
            pixel_linear(32),
            stochastic_depth(0.1),
        ],
        se: scale {
            avgpool: adaptive_avg_pool2d(1),
            fc1: conv2d(32, kernel = 1),
            gate: sigmoid,
        },
    }
}

fn main() {
    let keys: Vec<&str> = Gated::GRAPH.layers.iter().map(|l| l.key).collect();
    assert!(keys.contains(&"block.1.fc1"), "{keys:?}");
    assert!(keys.contains(&"block.2"), "{keys:?}");
    assert!(keys.contains(&"se.fc1"), "{keys:?}");
    assert_eq!(Gated::OUTPUT, [32, 8, 8]);
    assert_eq!(
        Gated::GRAPH.layers.iter().find(|l| l.key == "block.2").unwrap().tensors[0].shape,
        &[32, 16]
    );
    let net = Gated::init(0);
    let y = net.forward(stride::ndarray::Array4::ones((2, 16, 8, 8)).view()).unwrap();
    assert_eq!(y.dim(), (2, 32, 8, 8));
}
