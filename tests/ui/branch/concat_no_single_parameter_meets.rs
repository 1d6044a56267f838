// The pool halves the input where the other branch keeps it: no one parameter makes 71 meet
// 143, so the message names where the sizes part and suggests nothing.
stride::network! {
    pub struct Net: [16, 143, 143] {
        concat {
            input: identity,
            pool: max_pool2d(2),
        },
    }
}

fn main() {}
