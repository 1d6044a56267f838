// The U-Net of `examples/unet.rs`, declared once for any size, asked for 250x250 at compile
// time: its four skips meet only at multiples of 16.
#[allow(dead_code)]
#[path = "../../../examples/unet.rs"]
mod unet;

fn main() {
    let net = unet::UNet::init(0);
    let x = stride::ndarray::Array4::<f32>::zeros((1, 3, 250, 250));
    let _ = net.forward_at::<250, 250>(x.view());
}
