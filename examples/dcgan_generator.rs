//! A DCGAN generator of transposed convolutions: 16-d noise to a 64x64 RGB image, with
//! `nn.Sequential` keys (`0.weight`, `1.running_mean`, …), compared with PyTorch's output.
//!
//! ```text
//! cargo run --release --example dcgan_generator [weights.safetensors]
//! ```

mod common;

use stride::network;
use stride::runtime::weights::LoadOptions;

network! {
    /// DCGAN generator (nz = 16, ngf = 8): every layer k4 s2 p1 after the first doubles the size.
    #[sequential]
    pub struct Generator: [16, 1, 1] {
        project: conv_transpose2d(64, kernel = 4, bias = false),
        bn1: batch_norm2d(),
        relu1: relu,
        up2: conv_transpose2d(32, kernel = 4, stride = 2, padding = 1, bias = false),
        bn2: batch_norm2d(),
        relu2: relu,
        up3: conv_transpose2d(16, kernel = 4, stride = 2, padding = 1, bias = false),
        bn3: batch_norm2d(),
        relu3: relu,
        up4: conv_transpose2d(8, kernel = 4, stride = 2, padding = 1, bias = false),
        bn4: batch_norm2d(),
        relu4: relu,
        to_rgb: conv_transpose2d(3, kernel = 4, stride = 2, padding = 1, bias = false),
        tanh: tanh,
    }
}

const WEIGHTS: &[u8] = include_bytes!("../tests/golden/dcgan_generator.safetensors");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let weights = common::weights_from_args(WEIGHTS, "tests/golden/dcgan_generator.safetensors")?;
    let generator = Generator::from_weights(
        &weights,
        &LoadOptions {
            strict: false,
            ..Default::default()
        },
    )?;
    println!("{}", Generator::SUMMARY);

    let (z, pytorch) = common::input_and_output(&weights, [2, 16, 1, 1], &[2, 3, 64, 64])?;
    let image = generator.forward(z.view())?;
    println!(
        "output {:?}; largest difference from PyTorch: {:.2e}",
        image.shape(),
        common::max_difference(&image, &pytorch)
    );

    let time = common::median_time(20, || generator.forward(z.view()));
    println!(
        "forward, batch 2: {:.2} ms (median of 20)",
        time.as_secs_f64() * 1e3
    );
    Ok(())
}
