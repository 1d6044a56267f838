// `gelu` is exact or `tanh`; stochastic depth's `p` is a probability and its mode `row` or
// `batch`.
stride::network! {
    pub struct Net: [8, 4, 4] {
        act: gelu(approximate = erf),
        drop: stochastic_depth(p = 1.5, mode = column),
    }
}

fn main() {}
