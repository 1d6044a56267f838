stride::network! {
    block Unit(planes) {
        conv: conv2d(planes, kernal = 3),
    }

    pub struct Net: [3, 32, 32] {
        stage: [Unit(16), Unit(16), Unit(16)],
    }
}

fn main() {}
