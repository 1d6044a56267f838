// A name is one item: a second network of the same name, or a block and a network sharing
// one, in either order, is refused once, and the network is declared once.
stride::network! {
    pub struct Net: [3, 8, 8] {
        a: relu,
    }

    pub struct Net: [3, 8, 8] {
        a: relu,
    }

    block Twin() {
        a: relu,
    }

    pub struct Twin: [3, 8, 8] {
        a: relu,
    }

    pub struct Other: [3, 8, 8] {
        a: relu,
    }

    block Other() {
        a: relu,
    }
}

fn main() {
    let _ = Net::init(0);
}
