// `a: [conv2d(..)]` names its first layer `a_0` in Rust, which the layer `a_0` already is.
stride::network! {
    pub struct Net: [3, 8, 8] {
        a_0: conv2d(4, kernel = 1),
        a: [conv2d(4, kernel = 1)],
    }
}

fn main() {}
