stride::network! {
    pub struct Net: [8, 16, 16] {
        conv: conv2d(8, kernel = 3, padding = 1),
        residual {
            conv: conv2d(8, kernel = 3, padding = 1),
        },
    }
}

fn main() {}
