//! Residual networks: torchvision's module tree declared with `network!` blocks, matched
//! against PyTorch at narrow widths, and the full-width models' totals against torchvision's.

mod support;

use stride::runtime::weights::LoadOptions;
use support::{
    assert_only_input_and_output_left_over, golden, input_and_output, lenient, worst_difference,
};

#[path = "../examples/models/mod.rs"]
mod models;

use models::{NarrowBasic, NarrowBottleneck};

#[test]
fn narrow_basic_resnet_matches_pytorch() {
    let net = NarrowBasic::load_safetensors_with(
        golden("resnet_narrow_basic.safetensors"),
        &lenient(true),
    )
    .unwrap();
    let (x, want) = input_and_output("resnet_narrow_basic.safetensors");
    let got = net.forward(x.view()).unwrap().into_dyn();
    assert_eq!(worst_difference(&got, &want), None);
}

#[test]
fn narrow_bottleneck_resnet_matches_pytorch() {
    let net = NarrowBottleneck::load_safetensors_with(
        golden("resnet_narrow_bottleneck.safetensors"),
        &lenient(true),
    )
    .unwrap();
    let (x, want) = input_and_output("resnet_narrow_bottleneck.safetensors");
    let got = net.forward(x.view()).unwrap().into_dyn();
    assert_eq!(worst_difference(&got, &want), None);
}

#[test]
fn narrow_resnets_use_exactly_torchvisions_keys() {
    // Strict loading reports every key of the file the network did not ask for: only the
    // stored input and output may be left over.
    assert_only_input_and_output_left_over(
        NarrowBasic::load_safetensors(golden("resnet_narrow_basic.safetensors")).err(),
    );
    assert_only_input_and_output_left_over(
        NarrowBottleneck::load_safetensors(golden("resnet_narrow_bottleneck.safetensors")).err(),
    );
}

/// Runs a network fused and unfused on its golden input; both must match PyTorch, and each
/// other.
fn fused_and_unfused_agree<N>(
    file: &str,
    load: impl Fn(&LoadOptions) -> N,
    forward: impl Fn(&N, ndarray::ArrayView4<f32>) -> ndarray::ArrayD<f32>,
    is_fused: impl Fn(&N) -> bool,
) {
    let (x, want) = input_and_output(file);
    let fused = load(&lenient(true));
    let plain = load(&lenient(false));
    assert!(is_fused(&fused) && !is_fused(&plain));
    let (a, b) = (forward(&fused, x.view()), forward(&plain, x.view()));
    assert_eq!(worst_difference(&a, &want), None, "fused vs PyTorch");
    assert_eq!(worst_difference(&b, &want), None, "unfused vs PyTorch");
    assert_eq!(worst_difference(&a, &b), None, "fused vs unfused");
}

#[test]
fn batch_norm_folding_and_residual_add_fusion_match_the_unfused_basic_resnet() {
    // Every conv+bn+relu group is folded, and each block's second conv adds the shortcut and
    // applies the final relu itself.
    let file = "resnet_narrow_basic.safetensors";
    fused_and_unfused_agree(
        file,
        |o| NarrowBasic::load_safetensors_with(golden(file), o).unwrap(),
        |n, x| n.forward(x).unwrap().into_dyn(),
        NarrowBasic::is_fused,
    );
}

#[test]
fn fusions_match_the_unfused_bottleneck_resnet() {
    let file = "resnet_narrow_bottleneck.safetensors";
    fused_and_unfused_agree(
        file,
        |o| NarrowBottleneck::load_safetensors_with(golden(file), o).unwrap(),
        |n, x| n.forward(x).unwrap().into_dyn(),
        NarrowBottleneck::is_fused,
    );
}

#[test]
fn unfuse_and_fuse_switch_the_forward_path() {
    let mut net = NarrowBasic::init(3);
    assert!(net.is_fused());
    let x = ndarray::Array4::from_shape_fn((1, 3, 64, 64), |(_, c, h, w)| {
        ((c + h * 3 + w) as f32 * 0.1).sin()
    });
    let fused = net.forward(x.view()).unwrap().into_dyn();
    net.unfuse();
    assert!(!net.is_fused());
    let plain = net.forward(x.view()).unwrap().into_dyn();
    assert_eq!(worst_difference(&fused, &plain), None);
    net.fuse().unwrap();
    assert!(net.is_fused());
}
