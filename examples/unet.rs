//! A U-Net (Ronneberger et al., 2015, with padded 3x3 convolutions and batch norm, as most
//! PyTorch ports write it) declared once for any input size: four halvings on the way down,
//! four transposed convolutions on the way up, and the encoder's maps joined to the decoder's
//! at each level. The skips only meet when the height and the width are multiples of 16, which
//! the macro works out from the layers; a size fixed at compile time is checked there.
//!
//! ```text
//! cargo run --release --example unet
//! ```

use stride::ndarray::Array4;
use stride::network;

network! {
    /// Two 3x3 convolutions, each with batch norm and ReLU.
    pub block DoubleConv(out) {
        conv1: conv2d(out, kernel = 3, padding = 1, bias = false),
        bn1: batch_norm2d(),
        relu1: relu,
        conv2: conv2d(out, kernel = 3, padding = 1, bias = false),
        bn2: batch_norm2d(),
        relu2: relu,
    }

    /// RGB in, two classes out, at the input's height and width.
    pub struct UNet: [3, H, W] {
        inc: DoubleConv(64),
        level1: concat {
            skip: identity,
            inner: [
                max_pool2d(2),
                DoubleConv(128),
                concat {
                    skip: identity,
                    inner: [
                        max_pool2d(2),
                        DoubleConv(256),
                        concat {
                            skip: identity,
                            inner: [
                                max_pool2d(2),
                                DoubleConv(512),
                                concat {
                                    skip: identity,
                                    inner: [
                                        max_pool2d(2),
                                        DoubleConv(1024),
                                        conv_transpose2d(512, kernel = 2, stride = 2),
                                    ],
                                },
                                DoubleConv(512),
                                conv_transpose2d(256, kernel = 2, stride = 2),
                            ],
                        },
                        DoubleConv(256),
                        conv_transpose2d(128, kernel = 2, stride = 2),
                    ],
                },
                DoubleConv(128),
                conv_transpose2d(64, kernel = 2, stride = 2),
            ],
        },
        dec: DoubleConv(64),
        head: conv2d(2, kernel = 1),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "UNet takes heights and widths from {} in steps of {}: {} parameters",
        UNet::MIN_INPUT[0],
        UNet::INPUT_MULTIPLE[0],
        UNet::PARAMS
    );
    let net = UNet::init(0);
    // A size fixed at compile time: `forward_at::<250, 250>` would not compile.
    let x = Array4::<f32>::zeros((1, 3, 256, 256));
    println!(
        "256x256 -> {:?}",
        net.forward_at::<256, 256>(x.view())?.dim()
    );
    // Any size at run time, checked before the layers run.
    let x = Array4::<f32>::zeros((1, 3, 160, 240));
    println!("160x240 -> {:?}", net.forward(x.view())?.dim());
    let x = Array4::<f32>::zeros((1, 3, 250, 250));
    println!("250x250 -> {}", net.forward(x.view()).unwrap_err());
    println!("{}", UNet::summary_at(160, 240)?.macs);
    Ok(())
}
