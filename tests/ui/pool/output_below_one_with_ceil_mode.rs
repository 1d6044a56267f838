stride::network! {
    pub struct Net: [3, 2, 8] {
        pool: max_pool2d(kernel = 5, stride = 2, ceil_mode = true),
    }
}

fn main() {}
