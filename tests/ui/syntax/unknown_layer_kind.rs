stride::network! {
    pub struct Net: [3, 32, 32] {
        conv1: conv(8, kernel = 3),
    }
}

fn main() {}
