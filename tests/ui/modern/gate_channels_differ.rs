// A squeeze-excitation gate multiplies each channel of its input: it must end with as many
// channels as the input has.
stride::network! {
    pub struct Net: [16, 8, 8] {
        se: scale {
            avgpool: adaptive_avg_pool2d(1),
            fc1: conv2d(4, kernel = 1),
            relu: relu,
            fc2: conv2d(8, kernel = 1),
            gate: sigmoid,
        },
    }
}

fn main() {}
