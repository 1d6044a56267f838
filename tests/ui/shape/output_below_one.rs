stride::network! {
    pub struct Net: [1, 4, 4] {
        conv3: conv2d(8, kernel = 5),
    }
}

fn main() {}
