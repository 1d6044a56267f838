#![deny(warnings)]

stride::network! {
    #[lints(checkerboard = allow)]
    pub struct Up: [16, 8, 8] {
        up: conv_transpose2d(8, kernel = 3, stride = 2, padding = 1, output_padding = 1),
    }
}

fn main() {
    assert_eq!(Up::OUTPUT, [8, 16, 16]);
}
