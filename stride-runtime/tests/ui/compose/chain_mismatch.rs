//! The third network of a chain does not fit the second: the message names the chain so far.

use stride_runtime::typed::typenum::U;
use stride_runtime::typed::{Flat, Network, Tensor, Then};

struct Features;
impl Network for Features {
    type Input = Flat<U<16>>;
    type Output = Flat<U<8>>;
    fn forward_typed(&self, _x: Tensor<Self::Input>) -> Tensor<Self::Output> {
        unimplemented!()
    }
}

struct Same;
impl Network for Same {
    type Input = Flat<U<8>>;
    type Output = Flat<U<8>>;
    fn forward_typed(&self, x: Tensor<Self::Input>) -> Tensor<Self::Output> {
        x
    }
}

struct Classifier;
impl Network for Classifier {
    type Input = Flat<U<16>>;
    type Output = Flat<U<10>>;
    fn forward_typed(&self, _x: Tensor<Self::Input>) -> Tensor<Self::Output> {
        unimplemented!()
    }
}

fn main() {
    let _net = Features.then(Same).then(Classifier);
}
