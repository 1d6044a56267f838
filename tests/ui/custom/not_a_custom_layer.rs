// A type that does not implement `CustomLayer` cannot be used as one.
pub struct Blur;

stride::network! {
    pub struct Net: [3, 32, 32] {
        conv: conv2d(16, kernel = 3, padding = 1),
        blur: custom(Blur),
    }
}

fn main() {}
