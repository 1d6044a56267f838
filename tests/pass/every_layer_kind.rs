stride::network! {
    /// Every layer kind once, with tuples, modes and stated channels.
    pub struct Everything: [3, 32, 32] {
        conv1: conv2d(3 => 16, kernel = (3, 5), stride = (1, 2), padding = ((1, 1), (2, 2))),
        bn1: batch_norm2d(16, eps = 1e-3),
        act1: relu6,
        dw: conv2d(16, kernel = 3, padding = same, groups = 16, bias = false),
        act2: leaky_relu(0.2),
        down: conv2d(32, kernel = 3, stride = 2, padding = same_upper),
        act3: silu,
        pool1: max_pool2d(kernel = 3, stride = 2, padding = 1, ceil_mode = true),
        pool2: avg_pool2d(2, count_include_pad = false, divisor_override = 3),
        up: conv_transpose2d(16, kernel = 4, stride = 2, padding = 1),
        act4: sigmoid,
        resize: upsample(scale = 2, mode = bilinear),
        act5: tanh,
        gap: adaptive_avg_pool2d((2, 2)),
        flat: flatten,
        fc: linear(64 => 10),
    }
}

fn main() {
    assert_eq!(Everything::OUTPUT, [10]);
    let net = Everything::init(0);
    let y = net.forward(stride::ndarray::Array4::zeros((2, 3, 32, 32)).view()).unwrap();
    assert_eq!(y.dim(), (2, 10));
}
