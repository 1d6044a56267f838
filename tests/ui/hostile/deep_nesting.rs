// Nesting deeper than 64 levels is refused where it passes the limit, before rustc's own stack
// runs out on the expansion (2,000 nested sequences once overflowed it).
stride::network! {
    pub struct Sequences: [3, 8, 8] {
        s: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[relu]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
    }
}

stride::network! {
    pub struct Residuals: [3, 8, 8] {
        residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { residual { r: relu, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, }, },
    }
}

fn main() {}
