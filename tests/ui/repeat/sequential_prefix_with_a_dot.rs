// The prefix of `#[sequential("…")]` is joined to the numbers with a dot of its own.
stride::network! {
    #[sequential("main.")]
    pub struct Net: [3, 8, 8] {
        conv: conv2d(8, kernel = 3),
        relu: relu,
    }
}

fn main() {}
