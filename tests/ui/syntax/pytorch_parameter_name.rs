stride::network! {
    pub struct Net: [3, 32, 32] {
        pool: max_pool2d(kernel_size = 2),
    }
}

fn main() {}
