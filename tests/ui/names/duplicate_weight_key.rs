stride::network! {
    pub struct Net: [3, 8, 8] {
        #[key = "conv"]
        first: conv2d(3, kernel = 1),
        #[key = "conv"]
        second: conv2d(3, kernel = 1),
    }
}

fn main() {}
