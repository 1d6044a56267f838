// A custom layer has an accessor named after it, as a layer with weights does: `forward` is a
// name every network has already.
pub struct Blur;

stride::network! {
    pub struct Net: [3, 32, 32] {
        conv: conv2d(16, kernel = 3, padding = 1),
        forward: custom(Blur),
    }
}

fn main() {}
