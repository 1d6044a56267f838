//! Blocks declared with `network!` in one crate, for `tests/blocks_across_crates.rs` to use
//! from another.

pub mod vision {
    stride::network! {
        /// A convolution, its batch norm and a ReLU, as torchvision's `Conv2dNormActivation`.
        #[export]
        pub block ConvBnRelu(out, stride = 1) {
            conv: conv2d(out, kernel = 3, stride = stride, padding = 1, bias = false),
            bn: batch_norm2d(),
            relu: relu,
        }

        /// Two of the block above, the first halving the size: a block that uses another, so
        /// that bringing it in alone must bring `ConvBnRelu` with it.
        #[export]
        pub block Down(out) {
            reduce: ConvBnRelu(out, stride = 2),
            refine: ConvBnRelu(out),
        }
    }
}
