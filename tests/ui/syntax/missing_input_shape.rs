stride::network! {
    pub struct Net {
        conv1: conv2d(8, kernel = 3),
    }
}

fn main() {}
