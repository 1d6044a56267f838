stride::network! {
    pub struct Stem: [3, 224, 224] {
        conv1: conv2d(64, kernel = 7, stride = 2, padding = 3),
    }
}

stride::network! {
    pub struct Net: [3, 128, 128] {
        stem: Stem => [64, 112, 112],
    }
}

fn main() {}
