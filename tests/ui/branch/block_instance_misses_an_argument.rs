stride::network! {
    block Unit(planes, stride = 1) {
        conv: conv2d(planes, kernel = 3, stride = stride, padding = 1),
    }

    pub struct Net: [3, 32, 32] {
        unit: Unit(stride = 2),
    }
}

fn main() {}
