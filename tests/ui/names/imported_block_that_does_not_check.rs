//! A block whose own invocation refuses it is reported again where another invocation uses
//! it, so the second error points at the use.
mod blocks {
    stride::network! {
        pub block Wrong(out) {
            conv: conv2d(out, kernel = 3, paddin = 1),
        }
    }
}

stride::network! {
    use self::blocks::Wrong;

    pub struct Net: [3, 32, 32] {
        body: Wrong(8),
    }
}

fn main() {}
