use stride::runtime::typed::{Network, Tensor, Then};

stride::network! {
    pub struct Stem: [3, 32, 32] {
        conv1: conv2d(16, kernel = 3, stride = 2, padding = 1),
        relu: relu,
    }
}

stride::network! {
    pub struct Head: [16, 16, 16] {
        gap: global_avg_pool2d,
        flat: flatten,
        fc: linear(10),
    }
}

fn main() {
    let net = Stem::init(0).then(Head::init(1));
    let x = Tensor::new(stride::ndarray::Array4::zeros((4, 3, 32, 32))).unwrap();
    let y = net.forward_typed(x);
    assert_eq!(y.view().dim(), (4, 10));
}
