// A misspelt layer kind and a block declared in another module but not brought in: two
// different messages.
mod blocks {
    stride::network! {
        pub block ConvBn(out) {
            conv: conv2d(out, kernel = 1, bias = false),
            bn: batch_norm2d(),
        }
    }
}

stride::network! {
    pub struct Net: [3, 8, 8] {
        a: conv2dd(4, kernel = 1),
        b: ConvBn(4),
    }
}

fn main() {}
