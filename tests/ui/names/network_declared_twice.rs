stride::network! {
    pub struct Net: [3, 8, 8] {
        conv: conv2d(4, kernel = 3),
    }

    pub struct Net: [3, 8, 8] {
        conv: conv2d(8, kernel = 3),
    }
}

fn main() {
    assert_eq!(Net::OUTPUT, [4, 6, 6]);
}
