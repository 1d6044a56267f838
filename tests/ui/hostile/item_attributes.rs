use stride::network;

network! {
    // `#[key]` names an entry's weights; on a network it would name nothing.
    #[key("features")]
    pub struct Keyed: [3, 8, 8] {
        conv: conv2d(8, kernel = 3),
    }
}

network! {
    // Attributes the macro does not read would vanish silently; they are refused instead.
    #[derive(Clone)]
    pub struct Derived: [3, 8, 8] {
        conv: conv2d(8, kernel = 3),
    }
}

network! {
    // A doc attribute is text; rustc would refuse anything else on the struct.
    #[doc = -"text"]
    pub struct Negated: [3, 8, 8] {
        conv: conv2d(8, kernel = 3),
    }
}

fn main() {}
