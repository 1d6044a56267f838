//! Pieces of the seed's architecture table from PyTorch's `zoo/` vectors, declared with
//! `network!` under torchvision's keys: GoogLeNet's `inception3a` (a concat of four branches)
//! and DenseNet-121's first dense block (each layer's output joined to its input).

mod support;

use support::{
    assert_only_input_and_output_left_over, golden, input_and_output, lenient, worst_difference,
};

#[path = "../examples/models/mod.rs"]
mod models;

use models::{DenseNet121Block1, GoogLeNetInception3a};

/// The `params` zoo.json records for `name`: PyTorch's parameter count of the module.
fn zoo_params(name: &str) -> u64 {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden("zoo/zoo.json")).unwrap()).unwrap();
    json["networks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in zoo.json"))["params"]
        .as_u64()
        .unwrap()
}

#[test]
fn googlenet_inception3a_matches_pytorch_fused_and_unfused() {
    let file = "zoo/googlenet_inception3a.safetensors";
    let (x, want) = input_and_output(file);
    for fuse in [true, false] {
        let net =
            GoogLeNetInception3a::load_safetensors_with(golden(file), &lenient(fuse)).unwrap();
        let got = net.forward(x.view()).unwrap().into_dyn();
        assert_eq!(worst_difference(&got, &want), None, "fuse = {fuse}");
    }
    assert_eq!(
        GoogLeNetInception3a::PARAMS,
        zoo_params("googlenet_inception3a")
    );
}

#[test]
fn googlenet_inception3a_uses_torchvisions_keys() {
    let file = golden("zoo/googlenet_inception3a.safetensors");
    assert_only_input_and_output_left_over(GoogLeNetInception3a::load_safetensors(file).err());
}

#[test]
fn densenet121_denseblock1_matches_pytorch_fused_and_unfused() {
    let file = "zoo/densenet121_denseblock1.safetensors";
    let (x, want) = input_and_output(file);
    for fuse in [true, false] {
        let net = DenseNet121Block1::load_safetensors_with(golden(file), &lenient(fuse)).unwrap();
        let got = net.forward(x.view()).unwrap().into_dyn();
        assert_eq!(worst_difference(&got, &want), None, "fuse = {fuse}");
    }
    assert_eq!(
        DenseNet121Block1::PARAMS,
        zoo_params("densenet121_denseblock1")
    );
    assert_eq!(DenseNet121Block1::OUTPUT, [256, 28, 28]);
}

#[test]
fn densenet121_denseblock1_uses_torchvisions_keys() {
    let file = golden("zoo/densenet121_denseblock1.safetensors");
    assert_only_input_and_output_left_over(DenseNet121Block1::load_safetensors(file).err());
}

#[test]
fn a_dense_layers_summary_shows_its_concat_and_identity_branch() {
    let rows: Vec<(&str, &str)> = DenseNet121Block1::SUMMARY
        .layers
        .iter()
        .map(|l| (l.name, l.kind))
        .collect();
    assert_eq!(rows[0], ("denselayer1.input", "identity"));
    assert_eq!(rows[1], ("denselayer1.norm1", "batch_norm2d"));
    let concat = rows.iter().position(|r| r.1 == "concat").unwrap();
    assert_eq!(rows[concat].0, "denselayer1");
    assert_eq!(
        DenseNet121Block1::SUMMARY.layers[concat].output,
        [96, 28, 28]
    );
}
