// After `flatten`, a `linear`'s weights depend on the height and width: a network that takes
// any size cannot have one there.
stride::network! {
    pub struct Classifier: [3, H, W] {
        conv: conv2d(8, kernel = 3, padding = 1),
        flatten: flatten,
        fc: linear(10),
    }
}

fn main() {}
