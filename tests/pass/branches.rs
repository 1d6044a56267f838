stride::network! {
    /// An Inception-like module: four branches joined along channels.
    block Mixed(c1, c3, pool_proj) {
        out: concat {
            branch1x1: conv2d(c1, kernel = 1),
            branch3x3: [conv2d(c3, kernel = 1), relu, conv2d(c3, kernel = 3, padding = 1)],
            branch5x5: [conv2d(8, kernel = 1), conv2d(8, kernel = 5, padding = 2)],
            branch_pool: [max_pool2d(3, stride = 1, padding = 1), conv2d(pool_proj, kernel = 1)],
        },
        relu: relu,
    }

    pub struct Stem: [3, 32, 32] {
        conv: conv2d(16, kernel = 3, padding = 1),
    }

    pub struct Net: [3, 32, 32] {
        stem: Stem,
        mixed_a: Mixed(16, 24, 8),
        mixed_b: Mixed(c1 = 32, c3 = 32, pool_proj = 16),
        residual {
            conv: conv2d(88, kernel = 3, padding = 1),
        },
        gap: global_avg_pool2d,
        flatten: flatten,
        fc: linear(88 => 10),
    }
}

fn main() {
    assert_eq!(Net::OUTPUT, [10]);
    let names: Vec<&str> = Net::SUMMARY.layers.iter().map(|l| l.name).collect();
    assert!(names.contains(&"mixed_a.out.branch3x3.2"), "{names:?}");
    assert!(names.contains(&"stem.conv"), "{names:?}");
    let y = Net::init(0).forward(stride::ndarray::Array4::zeros((2, 3, 32, 32)).view()).unwrap();
    assert_eq!(y.dim(), (2, 10));
}
