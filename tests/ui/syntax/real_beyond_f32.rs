stride::network! {
    pub struct Net: [3, 8, 8] {
        bn: batch_norm2d(eps = 3.5e38),
    }
}

fn main() {}
