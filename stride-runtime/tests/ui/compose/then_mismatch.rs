//! `Head` takes 28x28 maps; `Stem` produces 56x56 ones.

use stride_runtime::typed::typenum::U;
use stride_runtime::typed::{Chw, Flat, Network, Tensor, Then};

struct Stem;
impl Network for Stem {
    type Input = Chw<U<3>, U<224>, U<224>>;
    type Output = Chw<U<64>, U<56>, U<56>>;
    fn forward_typed(&self, _x: Tensor<Self::Input>) -> Tensor<Self::Output> {
        unimplemented!()
    }
}

struct Head;
impl Network for Head {
    type Input = Chw<U<64>, U<28>, U<28>>;
    type Output = Flat<U<1000>>;
    fn forward_typed(&self, _x: Tensor<Self::Input>) -> Tensor<Self::Output> {
        unimplemented!()
    }
}

fn main() {
    let _net = Stem.then(Head);
}
