//! Declarations that once made code that did not compile, or were misread: each is valid,
//! compiles, and means what Rust would read.
stride::network! {
    /// Hex, octal, binary and separated literals, as Rust reads them.
    pub struct Literals: [3, 0x10, 0o20] {
        c: conv2d(0b1000, kernel = 3, padding = 0x1, stride = 1_usize),
    }

    /// A raw identifier as a layer name: its key is `type`.
    pub struct Raw: [3, 8, 8] {
        r#type: conv2d(4, kernel = 1),
        r#fn: tanh,
    }

    /// Raw names for a shortcut and a concat branch holding sequences: keys `fn.0`, `type.0`.
    pub struct RawBranches: [3, 8, 8] {
        residual {
            c: conv2d(4, kernel = 1, stride = 2),
        } shortcut r#fn: [conv2d(4, kernel = 1, stride = 2), batch_norm2d()],
        j: concat { r#type: [conv2d(4, kernel = 1), relu], b: relu },
    }

    /// A residual whose main path is only a dropout: the input plus itself, at inference.
    pub struct Doubled: [3, 8, 8] {
        residual {
            d: dropout,
        },
    }

    /// `flatten` twice: the second has nothing to do.
    pub struct Flat: [3, 8, 8] {
        f: flatten,
        g: flatten,
    }

    /// A layer `a_0` beside a sequence `a`, whose first item is also `a_0` in Rust: the
    /// sequence's item has no weights, so no accessor clashes.
    pub struct Clash: [3, 8, 8] {
        a_0: conv2d(4, kernel = 1),
        a: [relu],
    }
}

fn main() {
    assert_eq!(Literals::INPUT, [3, 16, 16]);
    assert_eq!(Literals::OUTPUT, [8, 16, 16]);
    let keys: Vec<&str> = Raw::GRAPH.layers.iter().map(|l| l.key).collect();
    assert_eq!(keys, ["type", "fn"]);
    assert_eq!(Raw::init(0).r#type().weight().dim(), (4, 3, 1, 1));
    let x = stride::ndarray::Array4::ones((1, 3, 8, 8));
    let y = Doubled::init(0).forward(x.view()).unwrap();
    assert!(y.iter().all(|&v| v == 2.0));
    let keys: Vec<&str> = RawBranches::GRAPH.layers.iter().map(|l| l.key).collect();
    assert!(keys.contains(&"fn.0") && keys.contains(&"j.type.0"), "{keys:?}");
    assert_eq!(Flat::OUTPUT, [192]);
    let _ = Clash::init(0).a_0();
}
