//! A bound written with a shape (`Accepts<S>`) reports our message first; the help line after
//! it is rustc's, and spells the shape in typenum (prefer `Follows`, which names networks).

use stride_runtime::typed::typenum::U;
use stride_runtime::typed::{Accepts, Chw, Network, Tensor};

struct Stem;
impl Network for Stem {
    type Input = Chw<U<3>, U<224>, U<224>>;
    type Output = Chw<U<64>, U<56>, U<56>>;
    fn forward_typed(&self, _x: Tensor<Self::Input>) -> Tensor<Self::Output> {
        unimplemented!()
    }
}

fn takes_small_rgb<N: Accepts<Chw<U<3>, U<32>, U<32>>>>(_net: &N) {}

fn main() {
    takes_small_rgb(&Stem);
}
