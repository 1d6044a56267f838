// In a network that takes any size, a residual's main path that upsamples changes the size at
// every size, so it needs a shortcut.
stride::network! {
    pub struct Up: [8, H, W] {
        residual {
            up: upsample(2),
        },
    }
}

fn main() {}
