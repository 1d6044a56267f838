stride::network! {
    pub struct Net: [8, 4, 4] {
        flatten: flatten,
        fc: linear(512 => 10),
    }
}

fn main() {}
