stride::network! {
    pub struct Net: [3, 32, 32] {
        pool: avg_pool2d(kernel = 2, dilation = 2),
    }
}

fn main() {}
