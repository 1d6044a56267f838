stride::network! {
    pub struct Net: [3, 32, 32] {
        conv1: conv2d(8, kernel = 3, groups = 0),
    }
}

fn main() {}
