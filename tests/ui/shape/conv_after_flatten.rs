stride::network! {
    pub struct Net: [8, 4, 4] {
        flatten: flatten,
        conv: conv2d(8, kernel = 1),
    }
}

fn main() {}
