stride::network! {
    pub struct Net: [3, 32, 32] {
        conv1: conv2d(8, kernel = 3, padding = -1),
    }
}

fn main() {}
