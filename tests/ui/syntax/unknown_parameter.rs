stride::network! {
    pub struct Net: [3, 32, 32] {
        conv1: conv2d(8, kernal = 3),
    }
}

fn main() {}
