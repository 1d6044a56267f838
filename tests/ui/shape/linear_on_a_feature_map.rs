stride::network! {
    pub struct Net: [512, 7, 7] {
        fc: linear(10),
    }
}

fn main() {}
