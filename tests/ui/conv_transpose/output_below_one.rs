stride::network! {
    pub struct Net: [16, 1, 1] {
        up: conv_transpose2d(8, kernel = 3, padding = 2),
    }
}

fn main() {}
