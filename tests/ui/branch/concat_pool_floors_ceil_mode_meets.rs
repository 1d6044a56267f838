// The pool floors 143 to 71 where the strided convolution gives 72: `ceil_mode = true` meets it.
stride::network! {
    pub struct Net: [16, 143, 143] {
        mixed: concat {
            conv: conv2d(16, kernel = 3, stride = 2, padding = 1),
            pool: max_pool2d(2),
        },
    }
}

fn main() {}
