//! Layers of one's own inside a checked network: a fixed Gaussian blur, ShuffleNet's channel
//! shuffle and a learned shift per channel (`examples/custom/mod.rs`), between torchvision-style
//! layers. The macro checks every shape around them at compile time, with each custom layer's
//! own shape rule; the shift's tensor is saved and loaded under its key like any other.
//!
//! ```text
//! cargo run --release --example custom_layer
//! ```

mod custom;

use custom::{ChannelBias, ChannelShuffle, GaussianBlur};
use stride::ndarray::Array4;
use stride::network;
use stride::runtime::weights::{LoadOptions, Weights};

network! {
    /// A ShuffleNet-like unit: blur, grouped 1x1 convolution, shuffle, shift.
    pub struct ShuffleUnit: [3, 32, 32] {
        conv1: conv2d(24, kernel = 3, padding = 1, bias = false),
        bn1: batch_norm2d(),
        relu: relu,
        blur: custom(GaussianBlur),
        group_conv: conv2d(48, kernel = 1, groups = 4),
        shuffle: custom(ChannelShuffle<4>),
        shift: custom(ChannelBias),
        pool: max_pool2d(2),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("{}", ShuffleUnit::SUMMARY);

    let net = ShuffleUnit::init(7);
    let x = Array4::from_shape_fn((2, 3, 32, 32), |(n, c, h, w)| {
        ((n * 7 + c * 5 + h * 3 + w) % 11) as f32 / 11.0 - 0.5
    });
    let y = net.forward(x.view())?;
    println!("input {:?} -> output {:?}", x.dim(), y.dim());
    let first: Vec<String> = y.iter().take(4).map(|v| format!("{v:.4}")).collect();
    println!("first values: [{}]", first.join(", "));

    // The shift's tensor goes out and comes back under `shift.bias`.
    let path =
        std::env::temp_dir().join(format!("shuffle_unit_{}.safetensors", std::process::id()));
    net.save_safetensors(&path)?;
    let weights = Weights::open(&path)?;
    std::fs::remove_file(&path)?;
    let keys: Vec<&str> = weights.keys().filter(|k| k.starts_with("shift")).collect();
    println!("custom tensors saved: {keys:?}");
    let loaded = ShuffleUnit::from_weights(&weights, &LoadOptions::default())?;
    let again = loaded.forward(x.view())?;
    let same = again.iter().zip(&y).all(|(a, b)| a == b);
    println!("reloaded network gives the same output: {same}");
    Ok(())
}
