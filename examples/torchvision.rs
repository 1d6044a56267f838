//! Every model of `stride::zoo`, run once: each loads torchvision's weights from
//! `<dir>/<name>.safetensors` when a directory is given and the file is there, else draws them
//! from a seed; then runs one 224x224 image (LeNet-5 its 32x32) and prints its parameters,
//! multiply-adds at that size and time. Also the example whose build time
//! `bench/compile_time.sh` reports: a release build that runs every zoo model.
//!
//! ```text
//! cargo run --release --example torchvision [weights-dir]
//! ```

mod common;

use std::path::Path;

use stride::ndarray::Array4;
use stride::zoo::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os().nth(1);
    let dir = dir.as_deref().map(Path::new);
    let image = |c: usize, size: usize| {
        Array4::from_shape_fn((1, c, size, size), |(_, c, h, w)| {
            (c as f32 * 0.3 + h as f32 * 0.01 - w as f32 * 0.02).sin()
        })
    };
    println!(
        "{:<18} {:>12} {:>8} {:>10}  weights",
        "network", "params", "GMACs", "ms/image"
    );
    macro_rules! run {
        ($net:ty, $name:literal, $file:literal) => {{ run!($net, $name, $file, 3, 224) }};
        ($net:ty, $name:literal, $file:literal, $channels:expr, $size:expr) => {{
            let file = dir.map(|d| d.join($file)).filter(|f| f.exists());
            let (net, weights) = match &file {
                Some(path) => (<$net>::load_safetensors(path)?, path.display().to_string()),
                None => (<$net>::init(0), "seeded".to_string()),
            };
            let x = image($channels, $size);
            let time = common::median_time(3, || net.forward(x.view()));
            let macs = <$net>::summary_at($size, $size)?.macs;
            println!(
                "{:<18} {:>12} {:>8.3} {:>10.1}  {weights}",
                $name,
                <$net>::PARAMS,
                macs as f64 / 1e9,
                time.as_secs_f64() * 1e3,
            );
        }};
    }
    run!(LeNet5, "LeNet-5", "lenet5.safetensors", 1, 32);
    run!(AlexNet, "AlexNet", "alexnet.safetensors");
    run!(Vgg11, "VGG-11", "vgg11.safetensors");
    run!(Vgg11Bn, "VGG-11-BN", "vgg11_bn.safetensors");
    run!(Vgg16, "VGG-16", "vgg16.safetensors");
    run!(Vgg16Bn, "VGG-16-BN", "vgg16_bn.safetensors");
    run!(GoogLeNet, "GoogLeNet", "googlenet.safetensors");
    run!(ResNet18, "ResNet-18", "resnet18.safetensors");
    run!(ResNet34, "ResNet-34", "resnet34.safetensors");
    run!(ResNet50, "ResNet-50", "resnet50.safetensors");
    run!(ResNet101, "ResNet-101", "resnet101.safetensors");
    run!(DenseNet121, "DenseNet-121", "densenet121.safetensors");
    run!(MobileNetV2, "MobileNetV2", "mobilenet_v2.safetensors");
    run!(
        MobileNetV3Small,
        "MobileNetV3-Small",
        "mobilenet_v3_small.safetensors"
    );
    run!(
        EfficientNetB0,
        "EfficientNet-B0",
        "efficientnet_b0.safetensors"
    );
    run!(ConvNeXtTiny, "ConvNeXt-Tiny", "convnext_tiny.safetensors");
    run!(AllCnnC, "All-CNN-C", "all_cnn_c.safetensors", 3, 32);
    run!(ModelC, "Model C", "model_c.safetensors", 3, 32);
    Ok(())
}
