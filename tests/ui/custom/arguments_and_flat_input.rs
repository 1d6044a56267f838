// A custom layer takes `channels = N` (at least 1) after its type and nothing else, and a
// feature map: a wrong argument, then a flat input, two errors from one expansion; then a
// zero `channels`.
pub struct Blur;

stride::network! {
    pub struct Net: [3, 32, 32] {
        conv: conv2d(16, kernel = 3, padding = 1),
        blur: custom(Blur, kernel = 3),
        flatten: flatten,
        late: custom(Blur),
    }
}

stride::network! {
    pub struct Zero: [3, 32, 32] {
        none: custom(Blur, channels = 0),
    }
}

fn main() {}
