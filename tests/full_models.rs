//! The full-width torchvision models compile and report torchvision's totals at 224x224:
//! parameters, and the multiply-adds of their convolutions and linear layers.

#[path = "../examples/models/mod.rs"]
mod models;

use models::{ResNet18, ResNet50, Vgg16};

#[test]
fn resnet18_totals_match_torchvision() {
    // Declared for any size: the multiply-adds are given at the size asked for.
    assert_eq!(ResNet18::PARAMS, 11_689_512);
    assert_eq!(ResNet18::summary_at(224, 224).unwrap().macs, 1_814_073_344);
    assert_eq!(ResNet18::OUTPUT, [1000]);
    assert_eq!(ResNet18::MIN_INPUT, [1, 1]);
}

#[test]
fn resnet50_totals_match_torchvision() {
    assert_eq!(ResNet50::PARAMS, 25_557_032);
    assert_eq!(ResNet50::MACS, 4_089_184_256);
    assert_eq!(ResNet50::OUTPUT, [1000]);
}

#[test]
fn vgg16_totals_match_torchvision() {
    assert_eq!(Vgg16::PARAMS, 138_357_544);
    assert_eq!(Vgg16::MACS, 15_470_264_320);
    assert_eq!(Vgg16::OUTPUT, [1000]);
}

#[test]
fn vgg16_keys_are_torchvisions() {
    let keys: Vec<&str> = Vgg16::SUMMARY.layers.iter().map(|l| l.name).collect();
    for key in [
        "features.0",
        "features.28",
        "features.30",
        "classifier.0",
        "classifier.3",
        "classifier.6",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
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
    println!("{summary}");
}

/// torchvision's weights metadata gives each model's multiply-adds (`_ops`, in billions, to
/// three decimals) and parameters.
fn assert_torchvision_totals(
    name: &str,
    params: u64,
    macs: u64,
    want_params: u64,
    want_gmacs: f64,
) {
    assert_eq!(params, want_params, "{name} parameters");
    let gmacs = (macs as f64 / 1e6).round() / 1e3;
    assert_eq!(gmacs, want_gmacs, "{name}: {macs} MACs");
}

#[test]
fn googlenet_totals_match_torchvision() {
    use models::GoogLeNet;
    assert_torchvision_totals(
        "GoogLeNet",
        GoogLeNet::PARAMS,
        GoogLeNet::MACS,
        6_624_904,
        1.498,
    );
    assert_eq!(GoogLeNet::OUTPUT, [1000]);
}

#[test]
fn densenet121_totals_match_torchvision() {
    use models::DenseNet121;
    assert_torchvision_totals(
        "DenseNet-121",
        DenseNet121::PARAMS,
        DenseNet121::MACS,
        7_978_856,
        2.834,
    );
    assert_eq!(DenseNet121::OUTPUT, [1000]);
}

#[test]
fn mobilenet_v2_totals_match_torchvision() {
    use models::MobileNetV2;
    assert_torchvision_totals(
        "MobileNetV2",
        MobileNetV2::PARAMS,
        MobileNetV2::MACS,
        3_504_872,
        0.301,
    );
    assert_eq!(MobileNetV2::OUTPUT, [1000]);
}
