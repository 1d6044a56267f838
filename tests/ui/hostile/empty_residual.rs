// A residual without a main path would add its input to itself: refused.
stride::network! {
    pub struct Net: [3, 8, 8] {
        residual {},
    }
}

fn main() {}
