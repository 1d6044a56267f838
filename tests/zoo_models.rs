//! Every model of `stride::zoo` against torchvision: the same `state_dict` keys with the same
//! shapes, the same parameter count, and MACs at 224x224 that agree with torchvision's
//! published figure. torchvision's keys and counts are in `tests/golden/torchvision/`
//! (written by its `generate.py`); its numbers are checked on whole models by
//! `tests/zoo.rs` where the golden files hold them.

mod support;

use stride::runtime::graph::Graph;
use stride::zoo::*;

/// torchvision's parameter count and `(key, shape)` list for `name`.
fn torchvision(name: &str) -> (u64, Vec<(String, Vec<usize>)>) {
    let path = format!(
        "{}/tests/golden/torchvision/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut lines = text.lines();
    let params = lines
        .next()
        .and_then(|l| l.strip_prefix("params "))
        .and_then(|n| n.parse().ok())
        .expect("the first line is `params N`");
    let keys = lines
        .map(|line| {
            let (key, shape) = line.split_once(' ').expect("`key shape`");
            let shape = shape.split(',').map(|d| d.parse().unwrap()).collect();
            (key.to_string(), shape)
        })
        .collect();
    (params, keys)
}

/// The `(key, shape)` of every tensor a graph stores, in order.
fn keys(graph: &Graph) -> Vec<(String, Vec<usize>)> {
    graph
        .layers
        .iter()
        .flat_map(|layer| {
            layer
                .tensors
                .iter()
                .map(|spec| (spec.key(layer.key), spec.shape.to_vec()))
        })
        .collect()
}

/// The network's keys, shapes and parameter count are torchvision's `name`'s.
fn assert_matches_torchvision(graph: &Graph, params: u64, name: &str) {
    let (want_params, mut want) = torchvision(name);
    let mut got = keys(graph);
    want.sort();
    got.sort();
    let missing: Vec<_> = want.iter().filter(|k| !got.contains(k)).collect();
    let extra: Vec<_> = got.iter().filter(|k| !want.contains(k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{name}: missing {missing:?}, not in torchvision {extra:?}"
    );
    assert_eq!(params, want_params, "{name}: parameters");
}

#[test]
fn every_torchvision_model_has_torchvisions_keys_shapes_and_parameter_count() {
    let models: &[(&Graph, u64, &str)] = &[
        (&AlexNet::GRAPH, AlexNet::PARAMS, "alexnet"),
        (&Vgg11::GRAPH, Vgg11::PARAMS, "vgg11"),
        (&Vgg11Bn::GRAPH, Vgg11Bn::PARAMS, "vgg11_bn"),
        (&Vgg16::GRAPH, Vgg16::PARAMS, "vgg16"),
        (&Vgg16Bn::GRAPH, Vgg16Bn::PARAMS, "vgg16_bn"),
        (&GoogLeNet::GRAPH, GoogLeNet::PARAMS, "googlenet"),
        (&ResNet18::GRAPH, ResNet18::PARAMS, "resnet18"),
        (&ResNet34::GRAPH, ResNet34::PARAMS, "resnet34"),
        (&ResNet50::GRAPH, ResNet50::PARAMS, "resnet50"),
        (&ResNet101::GRAPH, ResNet101::PARAMS, "resnet101"),
        (&DenseNet121::GRAPH, DenseNet121::PARAMS, "densenet121"),
        (&MobileNetV2::GRAPH, MobileNetV2::PARAMS, "mobilenet_v2"),
        (
            &MobileNetV3Small::GRAPH,
            MobileNetV3Small::PARAMS,
            "mobilenet_v3_small",
        ),
        (
            &EfficientNetB0::GRAPH,
            EfficientNetB0::PARAMS,
            "efficientnet_b0",
        ),
        (&ConvNeXtTiny::GRAPH, ConvNeXtTiny::PARAMS, "convnext_tiny"),
    ];
    for (graph, params, name) in models {
        assert_matches_torchvision(graph, *params, name);
    }
    println!(
        "{} torchvision models: keys, shapes and parameter counts",
        models.len()
    );
}

#[test]
fn the_seeds_table_parameter_counts_are_the_issues() {
    // The counts the issue gives, from torchvision 0.29, and the papers' for the rest.
    assert_eq!(AlexNet::PARAMS, 61_100_840);
    assert_eq!(Vgg11::PARAMS, 132_863_336);
    assert_eq!(GoogLeNet::PARAMS, 6_624_904);
    assert_eq!(DenseNet121::PARAMS, 7_978_856);
    assert_eq!(MobileNetV2::PARAMS, 3_504_872);
    assert_eq!(MobileNetV3Small::PARAMS, 2_542_856);
    assert_eq!(EfficientNetB0::PARAMS, 5_288_548);
    assert_eq!(ConvNeXtTiny::PARAMS, 28_589_128);
    assert_eq!(LeNet5::PARAMS, 61_706);
    assert_eq!(AllCnnC::PARAMS, 1_369_738);
    assert_eq!(ModelC::PARAMS, 954_730);
}

/// torchvision's published "GFLOPS" at 224x224 (multiply-adds, in billions).
const PUBLISHED: &[(&str, f64)] = &[
    ("AlexNet", 0.71),
    ("VGG-11", 7.61),
    ("VGG-16", 15.47),
    ("GoogLeNet", 1.50),
    ("ResNet-18", 1.81),
    ("ResNet-34", 3.66),
    ("ResNet-50", 4.09),
    ("ResNet-101", 7.80),
    ("DenseNet-121", 2.83),
    ("MobileNetV2", 0.30),
    ("MobileNetV3-Small", 0.06),
    ("EfficientNet-B0", 0.39),
    ("ConvNeXt-Tiny", 4.46),
];

/// torchvision's weights metadata (`meta["_ops"]`, billions of multiply-adds at 224x224, to
/// three decimals), for the same models.
const METADATA: &[f64] = &[
    0.714, 7.609, 15.47, 1.498, 1.814, 3.664, 4.089, 7.801, 2.834, 0.301, 0.057, 0.386, 4.456,
];

#[test]
fn macs_at_224_agree_with_torchvisions_published_figures() {
    let at_224 = |summary: Result<stride::runtime::summary::SummaryAt, _>| {
        summary.expect("every model takes 224x224").macs
    };
    let ours: &[(&str, u64)] = &[
        ("AlexNet", at_224(AlexNet::summary_at(224, 224))),
        ("VGG-11", at_224(Vgg11::summary_at(224, 224))),
        ("VGG-16", at_224(Vgg16::summary_at(224, 224))),
        ("GoogLeNet", at_224(GoogLeNet::summary_at(224, 224))),
        ("ResNet-18", at_224(ResNet18::summary_at(224, 224))),
        ("ResNet-34", at_224(ResNet34::summary_at(224, 224))),
        ("ResNet-50", at_224(ResNet50::summary_at(224, 224))),
        ("ResNet-101", at_224(ResNet101::summary_at(224, 224))),
        ("DenseNet-121", at_224(DenseNet121::summary_at(224, 224))),
        ("MobileNetV2", at_224(MobileNetV2::summary_at(224, 224))),
        (
            "MobileNetV3-Small",
            at_224(MobileNetV3Small::summary_at(224, 224)),
        ),
        (
            "EfficientNet-B0",
            at_224(EfficientNetB0::summary_at(224, 224)),
        ),
        ("ConvNeXt-Tiny", at_224(ConvNeXtTiny::summary_at(224, 224))),
    ];
    for (((name, macs), (published_name, published)), metadata) in
        ours.iter().zip(PUBLISHED).zip(METADATA)
    {
        assert_eq!(name, published_name);
        let thousandths = (*macs as f64 / 1e6).round() / 1e3;
        assert_eq!(thousandths, *metadata, "{name}: {macs} MACs");
        let giga = *macs as f64 / 1e9;
        let rounded = (giga * 100.0).round() / 100.0;
        let relative = (giga - published).abs() / published;
        println!(
            "{name}: {giga:.4} GMACs, published {published:.2} ({:+.2}%)",
            100.0 * (giga / published - 1.0)
        );
        assert!(
            rounded == *published || relative <= 0.02,
            "{name}: {giga:.4} GMACs, torchvision says {published}"
        );
    }
}

#[test]
fn resnet18_summary_lists_blocks_under_torchvision_names() {
    let summary = ResNet18::summary_at(224, 224).unwrap();
    let keys: Vec<&str> = summary.layers.iter().map(|l| l.info.name).collect();
    for key in [
        "layer1.0.conv1",
        "layer2.0.downsample.0",
        "layer2.0.downsample.1",
        "layer4.1.bn2",
        "fc",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    assert_eq!(summary.macs, 1_814_073_344);
    println!("{summary}");
}

/// Runs `$net` on `<dir>/$name.safetensors` (written by
/// `tests/golden/torchvision/whole_models.py`), fused and unfused; returns the largest
/// difference from torchvision's output relative to that output's largest magnitude.
macro_rules! whole_model_error {
    ($dir:expr, $net:ty, $name:literal) => {{
        let path = std::path::Path::new($dir).join(concat!($name, ".safetensors"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let x = support::tensor(&file, "input")
            .into_dimensionality::<ndarray::Ix4>()
            .unwrap();
        let want = support::tensor(&file, "output");
        support::assert_only_input_and_output_left_over(<$net>::load_safetensors(&path).err());
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        let mut worst = 0f32;
        for fuse in [true, false] {
            let net = <$net>::load_safetensors_with(&path, &support::lenient(fuse)).unwrap();
            let got = net.forward(x.view()).unwrap().into_dyn();
            assert_eq!(got.shape(), want.shape(), "{}", $name);
            for (g, w) in got.iter().zip(&want) {
                worst = worst.max((g - w).abs() / scale);
            }
        }
        println!(
            "{}: largest difference {worst:.2e} of the output's scale {scale:.3e}",
            $name
        );
        worst
    }};
}

/// Whole torchvision models with random weights, each on two 96x112 images, against
/// torchvision's output: every layer of every model, in torchvision's order. The files are
/// too large to keep; write them with `tests/golden/torchvision/whole_models.py DIR`, then
/// `STRIDE_TORCHVISION_DIR=DIR cargo test --release --test zoo_models -- --ignored`.
#[test]
#[ignore = "needs STRIDE_TORCHVISION_DIR: whole models written by whole_models.py"]
fn whole_models_match_torchvision() {
    let dir = std::env::var("STRIDE_TORCHVISION_DIR").expect("STRIDE_TORCHVISION_DIR is set");
    let errors = [
        whole_model_error!(&dir, AlexNet, "alexnet"),
        whole_model_error!(&dir, Vgg11, "vgg11"),
        whole_model_error!(&dir, Vgg11Bn, "vgg11_bn"),
        whole_model_error!(&dir, Vgg16, "vgg16"),
        whole_model_error!(&dir, Vgg16Bn, "vgg16_bn"),
        whole_model_error!(&dir, GoogLeNet, "googlenet"),
        whole_model_error!(&dir, ResNet18, "resnet18"),
        whole_model_error!(&dir, ResNet34, "resnet34"),
        whole_model_error!(&dir, ResNet50, "resnet50"),
        whole_model_error!(&dir, ResNet101, "resnet101"),
        whole_model_error!(&dir, DenseNet121, "densenet121"),
        whole_model_error!(&dir, MobileNetV2, "mobilenet_v2"),
        whole_model_error!(&dir, MobileNetV3Small, "mobilenet_v3_small"),
        whole_model_error!(&dir, EfficientNetB0, "efficientnet_b0"),
        whole_model_error!(&dir, ConvNeXtTiny, "convnext_tiny"),
    ];
    // The golden tolerance, 1e-4, taken relative to each output's scale: random weights make
    // some outputs tiny and others huge.
    assert!(errors.iter().all(|&e| e <= 1e-4), "{errors:?}");
}
