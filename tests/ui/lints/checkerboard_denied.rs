stride::network! {
    #[lints(checkerboard = deny)]
    pub struct Net: [16, 8, 8] {
        up: conv_transpose2d(8, kernel = 3, stride = 2, padding = 1, output_padding = 1),
    }
}

fn main() {}
