stride::network! {
    pub struct Stem: [3, 224, 224] {
        conv1: conv2d(64, kernel = 7, stride = 2, padding = 3),
    }

    pub struct Net: [3, 64, 64] {
        stem: Stem,
    }
}

fn main() {}
