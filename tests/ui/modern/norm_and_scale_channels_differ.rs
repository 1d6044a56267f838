// Stated channels of a layer norm and of a layer scale are checked against the input.
stride::network! {
    pub struct Net: [96, 8, 8] {
        norm: layer_norm2d(64),
        layer_scale: layer_scale(48),
    }
}

fn main() {}
