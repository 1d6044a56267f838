// An unnamed concat's branches are keyed in the enclosing scope, so their names must differ
// from its other entries'.
stride::network! {
    pub struct Net: [8, 28, 28] {
        conv: conv2d(8, kernel = 1),
        concat {
            input: identity,
            {
                conv: conv2d(8, kernel = 3, padding = 1),
            },
        },
    }
}

fn main() {}
