stride::network! {
    pub struct Net: [3, 8, 8] {
        #[key = ""]
        conv: conv2d(4, kernel = 3),
    }
}

fn main() {}
