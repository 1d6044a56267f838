stride::network! {
    pub struct Net: [100000000, 100000000, 100000000] {
        flatten: flatten,
    }
}

fn main() {}
