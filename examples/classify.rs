//! Classifies a photo with the zoo's ResNet-18: the image through torchvision's ImageNet
//! transform (`stride::vision::Transform::imagenet`), the network, then the softmax's five
//! likeliest ImageNet classes with their probabilities.
//!
//! ```text
//! cargo run --release --features vision --example classify -- photo.jpg [resnet18.pth]
//! ```
//!
//! The weights are torchvision's `resnet18` state_dict, as `torch.save` writes it (`.pth`, for
//! example the file `torchvision.models.resnet18(weights="DEFAULT")` downloads into
//! `~/.cache/torch/hub/checkpoints/`) or as safetensors; the loader tells them apart by their
//! first bytes. Without them the network draws its weights from a seed, says so, and its
//! classes mean nothing.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use stride::vision::{Transform, imagenet_classes, softmax, top_k};
use stride::zoo::ResNet18;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("classify: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let (image, weights) = match args.as_slice() {
        [image] => (Path::new(image), None),
        [image, weights] => (Path::new(image), Some(Path::new(weights))),
        _ => return Err("usage: classify IMAGE [WEIGHTS.pth | WEIGHTS.safetensors]".into()),
    };

    let x = Transform::imagenet().load(image)?;
    let net = match weights {
        Some(path) => {
            println!("weights: {}", path.display());
            // `load_safetensors` reads a `.pth`/`.pt` too, told apart by its first bytes.
            ResNet18::load_safetensors(path)?
        }
        None => {
            println!(
                "weights: none given, so ResNet-18's are drawn from seed 0: the classes below \
                 are not a prediction (pass torchvision's resnet18 weights, .pth or safetensors)"
            );
            ResNet18::init(0)
        }
    };
    let logits = net.forward(x.view())?;
    let probabilities = softmax(logits.row(0));

    println!("{}:", image.display());
    for (index, p) in top_k(probabilities.view(), 5) {
        println!(
            "{:>8.3}%  {:>4}  {}",
            p * 100.0,
            index,
            imagenet_classes()[index]
        );
    }
    Ok(())
}
