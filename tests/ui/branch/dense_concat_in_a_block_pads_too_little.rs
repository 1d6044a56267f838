// A dense layer declared as a block: its 5x5 convolution with padding 1 shrinks 32 to 30
// where the input it is joined with stays 32; `padding = 2` keeps the size.
stride::network! {
    block DenseLayer(growth) {
        concat {
            input: identity,
            {
                norm: batch_norm2d(),
                relu: relu,
                conv: conv2d(growth, kernel = 5, padding = 1),
            },
        }
    }

    pub struct Net: [16, 32, 32] {
        dense1: DenseLayer(8),
    }
}

fn main() {}
