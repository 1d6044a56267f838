stride::network! {
    pub struct Net: [3, 32, 32] {
        pool: max_pool2d(kernel = 3, stride = 2, padding = 2),
    }
}

fn main() {}
