//! Full-width torchvision ResNet-18, declared once for any input size (`[3, H, W]`), run at
//! 224x224 and at 64x64, at batch 1 and batch 8, with the inference fusions on and off. With a
//! path, it loads torchvision's `resnet18` weights (as safetensors, under torchvision's
//! names); without one it draws them from a seed. The same weights serve every size.
//!
//! ```text
//! cargo run --release --example resnet18 [resnet18.safetensors]
//! ```

mod common;

use std::time::Duration;

use stride::ndarray::Array4;
use stride::zoo::ResNet18;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut net = match std::env::args_os().nth(1) {
        Some(path) => ResNet18::load_safetensors(path)?,
        None => ResNet18::init(0),
    };
    println!(
        "ResNet-18: {} parameters, any input size from {}x{}; {} threads",
        ResNet18::PARAMS,
        ResNet18::MIN_INPUT[0],
        ResNet18::MIN_INPUT[1],
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    println!(
        "{:>8} {:>8} {:>6} {:>8} {:>12} {:>12}",
        "size", "GMACs", "batch", "fused", "ms/batch", "images/s"
    );
    for size in [224, 64] {
        let gmacs = ResNet18::summary_at(size, size)?.macs as f64 / 1e9;
        for batch in [1, 8] {
            let x = Array4::from_shape_fn((batch, 3, size, size), |(n, c, h, w)| {
                ((n * 3 + c) as f32 * 0.1 + h as f32 * 0.01 - w as f32 * 0.02).sin()
            });
            for fused in [true, false] {
                if fused {
                    net.fuse()?
                } else {
                    net.unfuse()
                }
                let runs = if batch == 1 { 10 } else { 3 };
                let time = common::median_time(runs, || net.forward(x.view()));
                println!(
                    "{:>8} {gmacs:>8.3} {batch:>6} {fused:>8} {:>12.1} {:>12.1}",
                    format!("{size}x{size}"),
                    ms(time),
                    batch as f64 / time.as_secs_f64()
                );
            }
        }
    }
    Ok(())
}

fn ms(time: Duration) -> f64 {
    time.as_secs_f64() * 1e3
}
