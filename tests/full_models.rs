//! The full-width torchvision models compile and report torchvision's totals at 224x224:
//! parameters, and the multiply-adds of their convolutions and linear layers.

#[path = "../examples/models/mod.rs"]
mod models;

use models::{ResNet18, ResNet50, Vgg16};

#[test]
fn resnet18_totals_match_torchvision() {
    assert_eq!(ResNet18::PARAMS, 11_689_512);
    assert_eq!(ResNet18::MACS, 1_814_073_344);
    assert_eq!(ResNet18::OUTPUT, [1000]);
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
    let keys: Vec<&str> = ResNet18::SUMMARY.layers.iter().map(|l| l.name).collect();
    for key in [
        "layer1.0.conv1",
        "layer2.0.downsample.0",
        "layer2.0.downsample.1",
        "layer4.1.bn2",
        "fc",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    println!("{}", ResNet18::SUMMARY);
}
