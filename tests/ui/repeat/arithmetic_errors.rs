// Arithmetic in arguments is on whole numbers and the enclosing block's parameters.
stride::network! {
    block Bad(width) {
        name: conv2d(width * depth, kernel = 1),
        fraction: conv2d(width * 0.5, kernel = 1),
    }

    pub struct Net: [3, 8, 8] {
        bad: Bad(8),
    }
}

fn main() {}
