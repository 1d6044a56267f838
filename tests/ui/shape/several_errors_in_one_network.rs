stride::network! {
    pub struct Net: [3, 32, 32] {
        conv1: conv2d(16, kernel = 3, groups = 5),
        pool: max_pool2d(kernel = 0),
        fc: linear(10, bias = maybe),
    }
}

fn main() {}
