mod blocks {
    stride::network! {
        pub block ConvBn(out) {
            conv: conv2d(out, kernel = 1),
        }
    }
}

stride::network! {
    use crate::blocks::ConvBnRelu;

    pub struct Net: [3, 8, 8] {
        a: ConvBnRelu(4),
    }
}

fn main() {}
