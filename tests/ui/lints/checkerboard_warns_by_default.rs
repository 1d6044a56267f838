#![deny(deprecated)] // turns the warning into an error so this case can show it

stride::network! {
    pub struct Net: [16, 8, 8] {
        up: conv_transpose2d(8, kernel = 3, stride = 2, padding = 1, output_padding = 1),
    }
}

fn main() {}
