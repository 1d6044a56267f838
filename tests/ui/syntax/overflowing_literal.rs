stride::network! {
    pub struct Net: [3, 32, 32] {
        conv1: conv2d(8, kernel = 3, stride = 99999999999999999999999),
    }
}

fn main() {}
