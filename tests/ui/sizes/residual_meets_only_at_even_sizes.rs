// The main path rounds a stride-2 convolution's output up, the shortcut's 2x2 pool rounds it
// down: they meet at even sizes only, which the message lists around the size given.
stride::network! {
    pub struct Down: [8, H, W] {
        residual {
            conv: conv2d(16, kernel = 3, stride = 2, padding = 1),
        } shortcut pool: [avg_pool2d(2), conv2d(16, kernel = 1)],
    }
}

fn main() {
    assert_eq!(Down::INPUT_MULTIPLE, [2, 2]);
    let net = Down::init(0);
    let x = stride::ndarray::Array4::<f32>::zeros((1, 8, 32, 33));
    let _ = net.forward_at::<32, 33>(x.view());
}
