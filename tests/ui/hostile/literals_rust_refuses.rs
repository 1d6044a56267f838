// Literals are read as Rust reads them: a suffix must hold its value, and a float too large
// for an f32 is refused rather than rounded to infinity.
stride::network! {
    pub struct Net: [3, 8, 8] {
        c: conv2d(300u8, kernel = 3),
        d: conv2d(8, kernel = 3i8),
        b: batch_norm2d(eps = 3.5e38),
        a: leaky_relu(-1e300),
    }
}

fn main() {}
