stride::network! {
    pub struct Net: [3, 0, 224] {
        conv1: conv2d(8, kernel = 3),
    }
}

fn main() {}
