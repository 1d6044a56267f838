//! Blocks declared once in a module and used from two invocations elsewhere, with the same
//! checks at each use.
mod blocks {
    stride::network! {
        /// A convolution, its batch norm and a ReLU.
        pub block ConvBn(out, stride = 1) {
            conv: conv2d(out, kernel = 3, stride = stride, padding = 1, bias = false),
            bn: batch_norm2d(),
            relu: relu,
        }

        pub block Head(classes) {
            pool: global_avg_pool2d,
            flatten: flatten,
            fc: linear(classes),
        }
    }
}

mod small {
    stride::network! {
        use crate::blocks::ConvBn;
        use crate::blocks::Head;

        pub struct Small: [3, 32, 32] {
            stem: ConvBn(16),
            down: ConvBn(32, stride = 2),
            head: Head(10),
        }
    }
}

mod wide {
    stride::network! {
        use crate::blocks::ConvBn;

        pub struct Wide: [3, 64, 64] {
            stem: ConvBn(64, stride = 2),
            body: [ConvBn(64), ConvBn(128, stride = 2)],
        }
    }
}

fn main() {
    assert_eq!(small::Small::OUTPUT, [10]);
    assert_eq!(wide::Wide::OUTPUT, [128, 16, 16]);
    let keys: Vec<&str> = wide::Wide::GRAPH.layers.iter().map(|l| l.key).collect();
    assert!(keys.contains(&"body.1.conv"), "{keys:?}");
    let net = small::Small::init(0);
    let y = net.forward(stride::ndarray::Array4::zeros((2, 3, 32, 32)).view()).unwrap();
    assert_eq!(y.dim(), (2, 10));
    assert_eq!(net.down_conv().weight().dim(), (32, 16, 3, 3));
}
