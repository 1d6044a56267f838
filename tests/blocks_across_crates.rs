//! A `pub block` declared in another crate (`tests/crates/blocks`), brought in with `use` and
//! checked at its use as if declared here.

stride::network! {
    use ::stride_test_blocks::ConvBnRelu;

    /// A stem made of another crate's block.
    pub struct Stem: [3, 32, 32] {
        stem: ConvBnRelu(16, stride = 2),
        body: ConvBnRelu(32),
    }
}

#[test]
fn a_block_from_another_crate_is_declared_and_checked_here() {
    assert_eq!(Stem::OUTPUT, [32, 16, 16]);
    let keys: Vec<&str> = Stem::GRAPH.layers.iter().map(|l| l.key).collect();
    assert_eq!(keys[..3], ["stem.conv", "stem.bn", "stem.relu"]);
    let net = Stem::init(0);
    let y = net
        .forward(ndarray::Array4::zeros((1, 3, 32, 32)).view())
        .unwrap();
    assert_eq!(y.dim(), (1, 32, 16, 16));
}

stride::network! {
    use ::stride_test_blocks::Down;

    /// A block from another crate that uses a second block of that crate, brought in alone.
    pub struct Pyramid: [3, 64, 64] {
        first: Down(16),
        second: Down(32),
    }
}

#[test]
fn a_block_brings_the_blocks_it_uses() {
    assert_eq!(Pyramid::OUTPUT, [32, 16, 16]);
    let keys: Vec<&str> = Pyramid::GRAPH.layers.iter().map(|l| l.key).collect();
    assert_eq!(
        keys[..4],
        [
            "first.reduce.conv",
            "first.reduce.bn",
            "first.reduce.relu",
            "first.refine.conv"
        ]
    );
    let y = Pyramid::init(0)
        .forward(ndarray::Array4::zeros((1, 3, 64, 64)).view())
        .unwrap();
    assert_eq!(y.dim(), (1, 32, 16, 16));
}
