//! Exports a zoo network as an ONNX model, with seeded weights or torchvision's, for ONNX
//! Runtime, TensorRT, Triton or Netron.
//!
//! ```text
//! cargo run --release --example export -- resnet50 resnet50.onnx
//! cargo run --release --example export -- efficientnet_b0 out.onnx --weights efficientnet_b0.safetensors --declared --size 224
//! cargo run --release --example export -- resnet50 model_repository --triton --size 224
//! ```
//!
//! `--declared` writes each batch norm as its own node (the default writes the fused graph
//! stride runs); `--size N` writes a network that takes many sizes for NxN inputs (without it,
//! for any size where its layers allow); `--triton` writes a Triton Inference Server model
//! repository in the directory given instead of one file (`NETWORK/config.pbtxt`,
//! `NETWORK/1/model.onnx`, dynamic batching up to 8).

use stride::runtime::onnx::{ExportError, ExportMode, ExportOptions, OnnxSummary, TritonOptions};
use stride::zoo::*;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: export NETWORK OUT.onnx [--weights FILE.safetensors] [--declared] [--size N] [--triton]";
    let (Some(name), Some(out)) = (args.first(), args.get(1)) else {
        return Err(format!("{usage}\nnetworks: {}", NAMES.join(", ")).into());
    };
    let mut options = ExportOptions::default();
    let mut weights = None;
    let mut triton = false;
    let mut rest = args[2..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--declared" => options.mode = ExportMode::Declared,
            "--triton" => triton = true,
            "--weights" => weights = Some(rest.next().ok_or("--weights needs a file")?.clone()),
            "--size" => {
                let n: usize = rest.next().ok_or("--size needs a number")?.parse()?;
                options = options.input_size(n, n);
            }
            other => return Err(format!("unknown argument `{other}`\n{usage}").into()),
        }
    }
    let summary = export(name, out, weights.as_deref(), &options, triton)?;
    println!("{name} -> {out}: {summary}");
    Ok(())
}

/// The networks this example knows, by torchvision's names.
const NAMES: [&str; 18] = [
    "lenet5",
    "alexnet",
    "vgg11",
    "vgg11_bn",
    "vgg16",
    "vgg16_bn",
    "googlenet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "densenet121",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "efficientnet_b0",
    "convnext_tiny",
    "all_cnn_c",
    "model_c",
];

fn export(
    name: &str,
    out: &str,
    weights: Option<&str>,
    options: &ExportOptions,
    triton: bool,
) -> Result<OnnxSummary, Box<dyn std::error::Error>> {
    macro_rules! save {
        ($net:ty) => {{
            let net = match weights {
                Some(file) => <$net>::load_safetensors(file)?,
                None => <$net>::init(0),
            };
            let saved: Result<OnnxSummary, ExportError> = if triton {
                let options = TritonOptions {
                    export: options.clone(),
                    ..TritonOptions::default()
                };
                net.save_triton_repository(out, name, &options)
            } else {
                net.save_onnx(out, options)
            };
            Ok(saved?)
        }};
    }
    match name {
        "lenet5" => save!(LeNet5),
        "alexnet" => save!(AlexNet),
        "vgg11" => save!(Vgg11),
        "vgg11_bn" => save!(Vgg11Bn),
        "vgg16" => save!(Vgg16),
        "vgg16_bn" => save!(Vgg16Bn),
        "googlenet" => save!(GoogLeNet),
        "resnet18" => save!(ResNet18),
        "resnet34" => save!(ResNet34),
        "resnet50" => save!(ResNet50),
        "resnet101" => save!(ResNet101),
        "densenet121" => save!(DenseNet121),
        "mobilenet_v2" => save!(MobileNetV2),
        "mobilenet_v3_small" => save!(MobileNetV3Small),
        "efficientnet_b0" => save!(EfficientNetB0),
        "convnext_tiny" => save!(ConvNeXtTiny),
        "all_cnn_c" => save!(AllCnnC),
        "model_c" => save!(ModelC),
        other => Err(format!(
            "no network `{other}`; the networks are {}",
            NAMES.join(", ")
        )
        .into()),
    }
}
