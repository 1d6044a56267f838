stride::network! {
    pub struct Stem: [3, 224, 224] {
        conv1: conv2d(64, kernel = 7, stride = 2, padding = 3),
    }
}

stride::network! {
    pub struct Net: [3, 224, 224] {
        stem: Stem => [64, 56, 56],
        relu: relu,
    }
}

fn main() {}
