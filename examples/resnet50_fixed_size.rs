//! torchvision's ResNet-50 declared at 224x224 only, with its blocks, in this one file: one of the
//! two examples whose incremental build times `bench/compile_time.sh` compares (the other is
//! `resnet50_any_size.rs`). It loads weights from the path given, or draws them from a seed, and
//! runs one 224x224 image.
//!
//! ```text
//! cargo run --release --example resnet50_fixed_size [resnet50.safetensors]
//! ```

use stride::ndarray::Array4;
use stride::network;

network! {
    block Bottleneck(width, out, stride = 1) {
        residual {
            conv1: conv2d(width, kernel = 1, bias = false),
            bn1: batch_norm2d(),
            relu1: relu,
            conv2: conv2d(width, kernel = 3, stride = stride, padding = 1, bias = false),
            bn2: batch_norm2d(),
            relu2: relu,
            conv3: conv2d(out, kernel = 1, bias = false),
            bn3: batch_norm2d(),
        } shortcut downsample: [
            conv2d(out, kernel = 1, stride = stride, bias = false),
            batch_norm2d(),
        ],
        relu: relu,
    }

    /// torchvision `resnet50`.
    pub struct ResNet50: [3, 224, 224] {
        conv1: conv2d(64, kernel = 7, stride = 2, padding = 3, bias = false),
        bn1: batch_norm2d(),
        relu: relu,
        maxpool: max_pool2d(kernel = 3, stride = 2, padding = 1),
        layer1: [Bottleneck(64, 256), Bottleneck(64, 256), Bottleneck(64, 256)],
        layer2: [
            Bottleneck(128, 512, stride = 2),
            Bottleneck(128, 512),
            Bottleneck(128, 512),
            Bottleneck(128, 512),
        ],
        layer3: [
            Bottleneck(256, 1024, stride = 2),
            Bottleneck(256, 1024),
            Bottleneck(256, 1024),
            Bottleneck(256, 1024),
            Bottleneck(256, 1024),
            Bottleneck(256, 1024),
        ],
        layer4: [
            Bottleneck(512, 2048, stride = 2),
            Bottleneck(512, 2048),
            Bottleneck(512, 2048),
        ],
        avgpool: adaptive_avg_pool2d(1),
        flatten: flatten,
        fc: linear(1000),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let net = match std::env::args_os().nth(1) {
        Some(path) => ResNet50::load_safetensors(path)?,
        None => ResNet50::init(0),
    };
    let y = net.forward(Array4::<f32>::zeros((1, 3, 224, 224)).view())?;
    println!(
        "ResNet-50: {} parameters, output {:?}",
        ResNet50::PARAMS,
        y.dim()
    );
    Ok(())
}
