use stride::network;

network! {
    // `#[export]` hands a block to other crates; a private block cannot be handed on.
    #[export]
    block Private(c) {
        conv: conv2d(c, kernel = 3, padding = 1),
    }

    // A network is a type: other crates use it by its path, so `#[export]` has nothing to do.
    #[export]
    pub struct Net: [3, 8, 8] {
        body: Private(8),
    }
}

fn main() {}
