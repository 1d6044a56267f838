stride::network! {
    #[strict]
    pub struct Net: [3, 224, 224] {
        conv1: conv2d(64, kernel = 7, stride = 2, padding = 2),
    }
}

fn main() {}
