// A linear layer on each pixel needs pixels: after `flatten`, `linear` is the layer to use.
stride::network! {
    pub struct Net: [96, 4, 4] {
        flatten: flatten,
        mix: pixel_linear(384),
    }
}

fn main() {}
