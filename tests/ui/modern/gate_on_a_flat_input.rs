// A scale multiplies the channels of a feature map; a flat input has none.
stride::network! {
    pub struct Net: [16, 8, 8] {
        pool: global_avg_pool2d,
        flatten: flatten,
        se: scale {
            fc: linear(16),
        },
    }
}

fn main() {}
