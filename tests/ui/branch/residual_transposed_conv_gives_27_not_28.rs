// The transposed convolution gives 27 for 14 where the input is 28: `output_padding = 1`.
stride::network! {
    #[lints(checkerboard = allow)]
    pub struct Net: [8, 28, 28] {
        residual {
            down: conv2d(8, kernel = 3, stride = 2, padding = 1),
            up: conv_transpose2d(8, kernel = 3, stride = 2, padding = 1),
        },
    }
}

fn main() {}
