//! The ResNet-18 stem declared with `network!`, loaded from torchvision-named weights, run on
//! the input stored with them, and compared with PyTorch's output.
//!
//! ```text
//! cargo run --release --example resnet_stem [weights.safetensors]
//! ```

mod common;

use stride::network;
use stride::runtime::weights::LoadOptions;

network! {
    /// torchvision resnet18's stem: 224x224 RGB -> 64 x 56 x 56.
    pub struct ResNetStem: [3, 224, 224] {
        conv1: conv2d(64, kernel = 7, stride = 2, padding = 3, bias = false),
        bn1: batch_norm2d(),
        relu: relu,
        maxpool: max_pool2d(kernel = 3, stride = 2, padding = 1),
    }
}

const WEIGHTS: &[u8] = include_bytes!("../tests/golden/resnet18_stem.safetensors");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let weights = common::weights_from_args(WEIGHTS, "tests/golden/resnet18_stem.safetensors")?;
    // The file also holds the test input and PyTorch's output, so load it non-strictly.
    let stem = ResNetStem::from_weights(
        &weights,
        &LoadOptions {
            strict: false,
            ..Default::default()
        },
    )?;
    println!("{}", ResNetStem::SUMMARY);

    let (x, pytorch) = common::input_and_output(&weights, [2, 3, 224, 224], &[2, 64, 56, 56])?;
    let y = stem.forward(x.view())?;
    println!(
        "output {:?}; largest difference from PyTorch: {:.2e}",
        y.shape(),
        common::max_difference(&y, &pytorch)
    );

    let time = common::median_time(20, || stem.forward(x.view()));
    println!(
        "forward, batch 2: {:.2} ms (median of 20)",
        time.as_secs_f64() * 1e3
    );
    Ok(())
}
