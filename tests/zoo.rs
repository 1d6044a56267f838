//! The seed's architecture table against PyTorch's `zoo/` vectors: whole small networks
//! (LeNet-5, All-CNN-C and its pooled base model C, straight from `stride::zoo`) and the
//! opening pieces of GoogLeNet, DenseNet-121, MobileNetV3-Small, EfficientNet-B0 and
//! ConvNeXt-Tiny, declared here from the zoo's blocks under torchvision's keys. Each loads
//! strictly (only `input` and `output` left over), matches PyTorch fused and unfused, and has
//! PyTorch's parameter count. CI runs this file again with every kernel on its scalar path.

mod support;

#[path = "../examples/models/mod.rs"]
mod models;

use std::sync::atomic::{AtomicUsize, Ordering};

use models::{
    ConvNeXtTinyHead, DenseNet121Block1, EfficientNetB0Head, GoogLeNetInception3a,
    MobileNetV3SmallHead,
};
use stride::zoo::{AllCnnC, LeNet5, ModelC};
use support::{
    assert_only_input_and_output_left_over, golden, input_and_output, lenient, worst_difference,
};

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

/// How many golden networks matched, for the count each test prints.
static MATCHED: AtomicUsize = AtomicUsize::new(0);

/// `$net` loads `zoo/$name.safetensors` strictly but for `input` and `output`, has its
/// parameter count, and gives its output fused and unfused.
macro_rules! matches_pytorch {
    ($net:ty, $name:literal) => {{
        let file = concat!("zoo/", $name, ".safetensors");
        assert_only_input_and_output_left_over(<$net>::load_safetensors(golden(file)).err());
        assert_eq!(<$net>::PARAMS, zoo_params($name), "{} parameters", $name);
        let (x, want) = input_and_output(file);
        for fuse in [true, false] {
            let net = <$net>::load_safetensors_with(golden(file), &lenient(fuse)).unwrap();
            let got = net.forward(x.view()).unwrap().into_dyn();
            assert_eq!(
                worst_difference(&got, &want),
                None,
                "{} fuse = {fuse}",
                $name
            );
        }
        let matched = MATCHED.fetch_add(1, Ordering::Relaxed) + 1;
        println!(
            "{}: matches PyTorch fused and unfused ({matched} so far)",
            $name
        );
    }};
}

#[test]
fn googlenet_inception3a() {
    matches_pytorch!(GoogLeNetInception3a, "googlenet_inception3a");
}

#[test]
fn densenet121_denseblock1() {
    matches_pytorch!(DenseNet121Block1, "densenet121_denseblock1");
    assert_eq!(DenseNet121Block1::output_at(28, 28), Some([256, 28, 28]));
}

#[test]
fn mobilenet_v3_small_head() {
    matches_pytorch!(MobileNetV3SmallHead, "mobilenet_v3_small_head");
}

#[test]
fn efficientnet_b0_head() {
    matches_pytorch!(EfficientNetB0Head, "efficientnet_b0_head");
}

#[test]
fn convnext_tiny_head() {
    matches_pytorch!(ConvNeXtTinyHead, "convnext_tiny_head");
}

#[test]
fn lenet5() {
    matches_pytorch!(LeNet5, "lenet5");
}

#[test]
fn all_cnn_c() {
    matches_pytorch!(AllCnnC, "all_cnn_c");
}

#[test]
fn model_c_pooled() {
    matches_pytorch!(ModelC, "model_c_pooled");
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
    let at_28 = DenseNet121Block1::summary_at(28, 28).unwrap();
    assert_eq!(at_28.layers[concat].output, [96, 28, 28]);
}

#[test]
fn convnext_fuses_its_linear_gelu_and_its_layer_scale_into_the_residual_add() {
    use stride::runtime::graph::Op;
    let graph = &ConvNeXtTinyHead::GRAPH;
    let kind = |index: usize| graph.layers[index].op;
    // Per block: block.3 with the GELU after it, and block.5 with the layer scale (across the
    // `identity` in between) closing the residual, the add in its epilogue.
    let gelu = graph
        .groups
        .iter()
        .filter(|g| {
            g.bn.is_none()
                && g.activation
                    .is_some_and(|a| matches!(kind(a), Op::Activation(_)))
        })
        .count();
    let scaled = graph
        .groups
        .iter()
        .filter(|g| g.before_add && g.bn.is_some_and(|b| matches!(kind(b), Op::LayerScale)))
        .count();
    assert_eq!((gelu, scaled), (3, 3), "{:?}", graph.groups);
}

#[test]
fn squeeze_excitation_gates_fuse_their_convolutions_with_their_activations() {
    // fc1 with its activation and fc2 with its gate, in each of the head's two gates.
    let graph = &EfficientNetB0Head::GRAPH;
    let gate_groups = graph
        .groups
        .iter()
        .filter(|g| graph.layers[g.conv].key.contains(".fc"))
        .count();
    assert_eq!(gate_groups, 6);
}
