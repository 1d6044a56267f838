// A size fixed at the call is checked at compile time: the skip and the upsampled path of this
// two-level U-Net meet only at multiples of 4.
stride::network! {
    pub struct TinyUNet: [3, H, W] {
        inc: conv2d(8, kernel = 3, padding = 1),
        level1: concat {
            skip: identity,
            inner: [
                max_pool2d(2),
                conv2d(16, kernel = 3, padding = 1),
                concat {
                    skip: identity,
                    inner: [
                        max_pool2d(2),
                        conv2d(32, kernel = 3, padding = 1),
                        conv_transpose2d(16, kernel = 2, stride = 2),
                    ],
                },
                conv_transpose2d(8, kernel = 2, stride = 2),
            ],
        },
        head: conv2d(2, kernel = 1),
    }
}

fn main() {
    let net = TinyUNet::init(0);
    let x = stride::ndarray::Array4::<f32>::zeros((1, 3, 30, 32));
    let _ = net.forward_at::<30, 32>(x.view());
}
