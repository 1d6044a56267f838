stride::network! {
    pub struct Net: [32, 16, 16] {
        conv1: conv2d(30, kernel = 3, groups = 4),
    }
}

fn main() {}
