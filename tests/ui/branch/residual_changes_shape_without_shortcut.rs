stride::network! {
    pub struct Net: [64, 56, 56] {
        residual {
            conv1: conv2d(128, kernel = 3, stride = 2, padding = 1),
        },
        relu: relu,
    }
}

fn main() {}
