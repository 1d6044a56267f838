stride::network! {
    pub struct Net: [8, 28, 28] {
        concat {
            input: identity,
            {
                norm: batch_norm2d(),
                conv: conv2d(8, kernel = 3, stride = 2, padding = 1),
            },
        },
    }
}

fn main() {}
