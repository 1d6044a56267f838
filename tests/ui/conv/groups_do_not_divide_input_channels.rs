stride::network! {
    pub struct Net: [32, 16, 16] {
        conv1: conv2d(48, kernel = 3, groups = 3),
    }
}

fn main() {}
