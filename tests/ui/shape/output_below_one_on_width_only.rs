stride::network! {
    pub struct Net: [3, 32, 4] {
        conv1: conv2d(8, kernel = (3, 7), dilation = (1, 2)),
    }
}

fn main() {}
