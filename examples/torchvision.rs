//! The four networks of the build-time benchmark, declared as torchvision builds them
//! (`examples/models`): GoogLeNet, DenseNet-121, ResNet-50 and MobileNetV2. Each loads
//! torchvision's weights from `<dir>/<name>.safetensors` when a directory is given and the file
//! is there, else draws them from a seed; then runs one 224x224 image through it.
//!
//! ```text
//! cargo run --release --example torchvision [weights-dir]
//! ```

mod common;
mod models;

use std::path::Path;

use stride::ndarray::Array4;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os().nth(1);
    let dir = dir.as_deref().map(Path::new);
    let x = Array4::from_shape_fn((1, 3, 224, 224), |(_, c, h, w)| {
        (c as f32 * 0.3 + h as f32 * 0.01 - w as f32 * 0.02).sin()
    });
    println!(
        "{:<14} {:>12} {:>8} {:>10}  weights",
        "network", "params", "GMACs", "ms/image"
    );
    macro_rules! run {
        ($net:ty, $name:literal, $file:literal) => {{
            let file = dir.map(|d| d.join($file)).filter(|f| f.exists());
            let (net, weights) = match &file {
                Some(path) => (<$net>::load_safetensors(path)?, path.display().to_string()),
                None => (<$net>::init(0), "seeded".to_string()),
            };
            let time = common::median_time(5, || net.forward(x.view()));
            println!(
                "{:<14} {:>12} {:>8.2} {:>10.1}  {weights}",
                $name,
                <$net>::PARAMS,
                <$net>::MACS as f64 / 1e9,
                time.as_secs_f64() * 1e3,
            );
        }};
    }
    run!(models::GoogLeNet, "GoogLeNet", "googlenet.safetensors");
    run!(
        models::DenseNet121,
        "DenseNet-121",
        "densenet121.safetensors"
    );
    run!(models::ResNet50, "ResNet-50", "resnet50.safetensors");
    run!(
        models::MobileNetV2,
        "MobileNetV2",
        "mobilenet_v2.safetensors"
    );
    Ok(())
}
