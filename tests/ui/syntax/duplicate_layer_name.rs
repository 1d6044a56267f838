stride::network! {
    pub struct Net: [3, 32, 32] {
        conv: conv2d(8, kernel = 3),
        conv: conv2d(8, kernel = 3),
    }
}

fn main() {}
