//! torchvision VGG-16's first block with `nn.Sequential` weight keys (`features.0`,
//! `features.2`), compared with PyTorch's output.
//!
//! ```text
//! cargo run --release --example vgg_stem [weights.safetensors]
//! ```

mod common;

use stride::network;
use stride::runtime::weights::LoadOptions;

network! {
    /// torchvision vgg16 `features[0:5]`: conv-relu-conv-relu-maxpool, 224 -> 112.
    #[sequential("features")]
    pub struct VggBlock1: [3, 224, 224] {
        conv1_1: conv2d(64, kernel = 3, padding = 1),
        relu1_1: relu,
        conv1_2: conv2d(64, kernel = 3, padding = 1),
        relu1_2: relu,
        pool1: max_pool2d(2),
    }
}

const WEIGHTS: &[u8] = include_bytes!("../tests/golden/vgg16_block1.safetensors");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let weights = common::weights_from_args(WEIGHTS, "tests/golden/vgg16_block1.safetensors")?;
    let block = VggBlock1::from_weights(
        &weights,
        &LoadOptions {
            strict: false,
            ..Default::default()
        },
    )?;
    println!("{}", VggBlock1::SUMMARY);

    let (x, pytorch) = common::input_and_output(&weights, [1, 3, 224, 224], &[1, 64, 112, 112])?;
    let y = block.forward(x.view())?;
    println!(
        "output {:?}; largest difference from PyTorch: {:.2e}",
        y.shape(),
        common::max_difference(&y, &pytorch)
    );

    let time = common::median_time(10, || block.forward(x.view()));
    println!(
        "forward, batch 1: {:.2} ms (median of 10)",
        time.as_secs_f64() * 1e3
    );
    Ok(())
}
