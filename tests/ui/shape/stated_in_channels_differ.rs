stride::network! {
    pub struct Net: [3, 32, 32] {
        conv1: conv2d(32, kernel = 3),
        conv2: conv2d(64 => 128, kernel = 3),
    }
}

fn main() {}
