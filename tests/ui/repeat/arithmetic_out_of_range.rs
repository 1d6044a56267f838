// Arithmetic that a block's arguments make divide by zero or go negative is refused at the
// value, with the numbers.
stride::network! {
    block Narrow(width) {
        zero: conv2d(width / (width - 8), kernel = 1),
        negative: conv2d(width - 16, kernel = 1),
    }

    pub struct Net: [3, 8, 8] {
        narrow: Narrow(8),
    }
}

fn main() {}
