stride::network! {
    pub struct Net: [64, 28, 28] {
        mixed: concat {
            branch1x1: conv2d(32, kernel = 1),
            branch3x3: conv2d(32, kernel = 3, stride = 2, padding = 1),
        },
    }
}

fn main() {}
