//! Whole networks from PyTorch's `networks.json`, declared with `network!`, loaded from their
//! golden weights under torchvision's names, and run on the stored input.

mod support;

use ndarray::Array4;
use safetensors::SafeTensors;
use stride::runtime::weights::{LoadError, LoadOptions, WeightProblem};
use support::{
    assert_only_input_and_output_left_over, golden, input_and_output, lenient, worst_difference,
};

#[path = "../examples/models/mod.rs"]
mod models;

use models::{DcganGenerator, ResNetStem, VggBlock1};

#[test]
fn resnet18_stem_matches_pytorch() {
    let net =
        ResNetStem::load_safetensors_with(golden("resnet18_stem.safetensors"), &lenient(true))
            .unwrap();
    let (x, want) = input_and_output("resnet18_stem.safetensors");
    let got = net.forward(x.view()).unwrap().into_dyn();
    assert_eq!(worst_difference(&got, &want), None);
}

#[test]
fn vgg16_block1_matches_pytorch_with_sequential_keys() {
    let net = VggBlock1::load_safetensors_with(golden("vgg16_block1.safetensors"), &lenient(true))
        .unwrap();
    let (x, want) = input_and_output("vgg16_block1.safetensors");
    let got = net.forward(x.view()).unwrap().into_dyn();
    assert_eq!(worst_difference(&got, &want), None);
}

#[test]
fn dcgan_generator_matches_pytorch() {
    let net = DcganGenerator::load_safetensors_with(
        golden("dcgan_generator.safetensors"),
        &lenient(true),
    )
    .unwrap();
    let (x, want) = input_and_output("dcgan_generator.safetensors");
    let got = net.forward(x.view()).unwrap().into_dyn();
    assert_eq!(worst_difference(&got, &want), None);
}

#[test]
fn golden_files_hold_exactly_the_weights_plus_input_and_output() {
    assert_only_input_and_output_left_over(
        ResNetStem::load_safetensors(golden("resnet18_stem.safetensors")).err(),
    );
}

#[test]
fn declared_shapes_match_networks_json() {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden("networks.json")).unwrap()).unwrap();
    let shape = |name: &str, which: &str| -> Vec<usize> {
        let net = json["networks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap();
        net[which]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect()
    };
    assert_eq!(shape("resnet18_stem", "input")[1..], ResNetStem::INPUT);
    assert_eq!(shape("resnet18_stem", "output")[1..], ResNetStem::OUTPUT);
    assert_eq!(shape("vgg16_block1", "output")[1..], VggBlock1::OUTPUT);
    assert_eq!(
        shape("dcgan_generator", "input")[1..],
        DcganGenerator::INPUT
    );
    assert_eq!(
        shape("dcgan_generator", "output")[1..],
        DcganGenerator::OUTPUT
    );
}

#[test]
fn a_wrong_input_shape_is_an_error_naming_expected_and_got() {
    let net = ResNetStem::init(0);
    for bad in [(1, 3, 224, 225), (1, 3, 200, 224), (1, 1, 224, 224)] {
        let err = net.forward(Array4::zeros(bad).view()).unwrap_err();
        let (n, c, h, w) = bad;
        assert_eq!(
            err.to_string(),
            format!("ResNetStem: input has shape [{n}, {c}, {h}, {w}], expected [N, 3, 224, 224]")
        );
    }
}

/// Writes `bytes` to a fresh file under the target directory and returns its path.
fn scratch_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("stride-networks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A safetensors file of zero-filled tensors: `(key, dtype, shape)`.
fn zero_file(name: &str, tensors: &[(&str, safetensors::Dtype, &[usize])]) -> std::path::PathBuf {
    let buffers: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, dtype, shape)| vec![0u8; dtype.bitsize() / 8 * shape.iter().product::<usize>()])
        .collect();
    let views = tensors
        .iter()
        .zip(&buffers)
        .map(|((key, dtype, shape), data)| {
            (
                *key,
                safetensors::tensor::TensorView::new(*dtype, shape.to_vec(), data).unwrap(),
            )
        });
    scratch_file(name, &safetensors::serialize(views, None).unwrap())
}

#[test]
fn a_missing_key_a_wrong_shape_and_a_wrong_dtype_are_all_reported_at_once() {
    use safetensors::Dtype::{F32, I64};
    let path = zero_file(
        "three_problems.safetensors",
        &[
            ("conv1.weight", F32, &[64, 3, 3, 3]),
            ("bn1.weight", F32, &[64]),
            ("bn1.running_mean", F32, &[64]),
            ("bn1.running_var", I64, &[64]),
        ],
    );
    let err = ResNetStem::load_safetensors(&path).unwrap_err();
    let LoadError::Problems { problems, .. } = &err else {
        panic!("{err}")
    };
    let found = |wanted: fn(&WeightProblem) -> bool| problems.iter().any(wanted);
    assert_eq!(problems.len(), 3, "{err}");
    assert!(
        found(|p| matches!(p, WeightProblem::WrongShape { key, .. } if key == "conv1.weight")),
        "{err}"
    );
    assert!(
        found(|p| matches!(p, WeightProblem::Missing { key, .. } if key == "bn1.bias")),
        "{err}"
    );
    assert!(
        found(|p| matches!(p, WeightProblem::WrongDtype { key, .. } if key == "bn1.running_var")),
        "{err}"
    );
    println!("{err}");
}

#[test]
fn a_truncated_weight_file_is_an_error_not_a_panic() {
    let bytes = std::fs::read(golden("resnet18_stem.safetensors")).unwrap();
    for cut in [4, 100, bytes.len() / 2, bytes.len() - 1] {
        let path = scratch_file(&format!("truncated_{cut}.safetensors"), &bytes[..cut]);
        let err = ResNetStem::load_safetensors(&path).unwrap_err();
        assert!(
            matches!(err, LoadError::Format { .. }),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn a_network_saved_and_loaded_again_computes_the_same_output() {
    let net = DcganGenerator::init(7);
    let dir = std::env::temp_dir().join(format!("stride-roundtrip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dcgan.safetensors");
    net.save_safetensors(&path).unwrap();
    let again = DcganGenerator::load_safetensors(&path).unwrap();
    let x = Array4::from_shape_fn((2, 16, 1, 1), |(n, c, _, _)| {
        (n * 16 + c) as f32 / 32.0 - 0.5
    });
    assert_eq!(
        net.forward(x.view()).unwrap(),
        again.forward(x.view()).unwrap()
    );
}

#[test]
fn init_is_deterministic_per_seed() {
    let x = Array4::from_elem((1, 3, 224, 224), 0.5f32);
    let a = ResNetStem::init(1).forward(x.view()).unwrap();
    let b = ResNetStem::init(1).forward(x.view()).unwrap();
    let c = ResNetStem::init(2).forward(x.view()).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn a_stem_loads_out_of_a_larger_file_with_a_prefix() {
    // A file whose stem tensors sit under `backbone.`, next to others that are not ours.
    let bytes = std::fs::read(golden("resnet18_stem.safetensors")).unwrap();
    let parsed = SafeTensors::deserialize(&bytes).unwrap();
    let renamed: Vec<_> = parsed
        .tensors()
        .into_iter()
        .map(|(name, view)| (format!("backbone.{name}"), view))
        .collect();
    let path = scratch_file(
        "prefixed.safetensors",
        &safetensors::serialize(renamed, None).unwrap(),
    );
    let options = LoadOptions {
        strict: false,
        prefix: "backbone.".into(),
        ..LoadOptions::default()
    };
    let net = ResNetStem::load_safetensors_with(&path, &options).unwrap();
    let (x, want) = input_and_output("resnet18_stem.safetensors");
    assert_eq!(
        worst_difference(&net.forward(x.view()).unwrap().into_dyn(), &want),
        None
    );
}

#[test]
fn folding_batch_norm_into_transposed_convs_matches_the_unfused_generator() {
    let file = golden("dcgan_generator.safetensors");
    let (x, want) = input_and_output("dcgan_generator.safetensors");
    for fuse in [true, false] {
        let options = lenient(fuse);
        let net = DcganGenerator::load_safetensors_with(&file, &options).unwrap();
        assert_eq!(net.is_fused(), fuse);
        assert_eq!(
            worst_difference(&net.forward(x.view()).unwrap().into_dyn(), &want),
            None,
            "fuse = {fuse}"
        );
    }
}

#[test]
fn folding_batch_norm_and_relu_into_the_stem_conv_matches_the_unfused_stem() {
    let file = golden("resnet18_stem.safetensors");
    let (x, want) = input_and_output("resnet18_stem.safetensors");
    for fuse in [true, false] {
        let options = lenient(fuse);
        let net = ResNetStem::load_safetensors_with(&file, &options).unwrap();
        assert_eq!(net.is_fused(), fuse);
        assert_eq!(
            worst_difference(&net.forward(x.view()).unwrap().into_dyn(), &want),
            None,
            "fuse = {fuse}"
        );
    }
}

#[test]
fn a_resnet18_checkpoint_under_another_prefix_debugs_in_a_few_lines_naming_the_prefix() {
    // What `main() -> Result<(), Box<dyn Error>>` prints when it returns this error with `?`:
    // the derived Debug printed every problem on one line (36 KB for a ResNet).
    use stride::runtime::graph::Module;
    use stride::runtime::weights::{LISTED_PROBLEMS, Saver, Weights};
    let net = stride::zoo::ResNet18::init(0);
    let mut saver = Saver::new();
    net.save_to(&mut saver, "model.").unwrap();
    let weights = Weights::from_bytes(saver.to_bytes().unwrap()).unwrap();
    let err = stride::zoo::ResNet18::from_weights(&weights, &LoadOptions::default()).unwrap_err();
    let LoadError::Problems { problems, hint, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        problems.len(),
        2 * saver.len(),
        "every key missing and unexpected"
    );
    assert_eq!(hint.as_ref().map(|h| h.prefix.as_str()), Some("model"));
    let debug = format!("{err:?}");
    assert_eq!(debug, err.to_string());
    // The count, the listed problems, the count of the rest, the hint.
    assert_eq!(debug.lines().count(), 1 + LISTED_PROBLEMS + 2, "{debug}");
    assert!(debug.len() < 2500, "{} bytes:\n{debug}", debug.len());
    assert!(
        debug.ends_with("load with `LoadOptions { prefix: \"model\".into(), .. }`"),
        "{debug}"
    );
}
