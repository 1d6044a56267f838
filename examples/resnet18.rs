//! Full-width torchvision ResNet-18 on 224x224 inputs at batch 1 and batch 8, with the
//! inference fusions on and off. With a path, it loads torchvision's `resnet18` weights (as
//! safetensors, under torchvision's names); without one it draws them from a seed.
//!
//! ```text
//! cargo run --release --example resnet18 [resnet18.safetensors]
//! ```

mod common;
mod models;

use std::time::Duration;

use models::ResNet18;
use stride::ndarray::Array4;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut net = match std::env::args_os().nth(1) {
        Some(path) => ResNet18::load_safetensors(path)?,
        None => ResNet18::init(0),
    };
    println!(
        "ResNet-18: {} parameters, {:.2} GMACs per image, {} threads",
        ResNet18::PARAMS,
        ResNet18::MACS as f64 / 1e9,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    println!(
        "{:>6} {:>8} {:>12} {:>12}",
        "batch", "fused", "ms/batch", "images/s"
    );
    for batch in [1, 8] {
        let x = Array4::from_shape_fn((batch, 3, 224, 224), |(n, c, h, w)| {
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
                "{batch:>6} {fused:>8} {:>12.1} {:>12.1}",
                ms(time),
                batch as f64 / time.as_secs_f64()
            );
        }
    }
    Ok(())
}

fn ms(time: Duration) -> f64 {
    time.as_secs_f64() * 1e3
}
