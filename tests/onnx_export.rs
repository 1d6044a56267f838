//! ONNX export of every golden network and of whole zoo models, in both modes: each model,
//! its input and stride's output for it are written under `target/tmp/onnx/`
//! (`<name>.<mode>.onnx`, `<name>.input.npy`, `<name>.output.npy`), for `bench/onnx_check.sh`
//! to run in ONNX Runtime after `onnx.checker` (CI runs both). Here: what the export writes
//! without an engine (names, shapes, opset, errors).

mod support;

#[path = "../examples/models/mod.rs"]
mod models;

use std::path::{Path, PathBuf};

use ndarray::{Array4, ArrayD};
use stride::runtime::onnx::{ExportError, ExportOptions, onnx_summary};
use support::{golden, input_and_output};

stride::network! {
    /// Every layer kind and padding form the export writes, at one size: tuples, asymmetric
    /// and mode pads, dilation, ceil_mode pools (with and without padding counted), a fixed
    /// divisor, transposed output padding, both resizes, a gate, and adaptive pooling to bins
    /// of unequal sizes.
    #[lints(checkerboard = allow)]
    pub struct EveryKind: [3, H, W] {
        conv1: conv2d(3 => 16, kernel = (3, 5), stride = (1, 2), padding = ((1, 0), (2, 1))),
        bn1: batch_norm2d(16, eps = 1e-3),
        act1: relu6,
        dw: conv2d(16, kernel = 3, padding = same, groups = 16, bias = false),
        act2: leaky_relu(0.2),
        dilated: conv2d(16, kernel = 3, dilation = 2, padding = 2),
        norm: layer_norm2d(),
        act3: gelu,
        down: conv2d(32, kernel = 3, stride = 2, padding = same_upper),
        act4: silu,
        lower: conv2d(32, kernel = 4, stride = 2, padding = same_lower),
        act5: hardswish,
        se: scale {
            pool: adaptive_avg_pool2d(1),
            fc1: conv2d(8, kernel = 1),
            act: relu,
            fc2: conv2d(32, kernel = 1),
            gate: hardsigmoid,
        },
        pool1: max_pool2d(kernel = 3, stride = 2, padding = 1, ceil_mode = true),
        pool2: avg_pool2d(3, stride = 2, padding = 1, ceil_mode = true, count_include_pad = false),
        pool3: avg_pool2d(kernel = 2, stride = 1, divisor_override = 3),
        up: conv_transpose2d(16, kernel = 3, stride = 2, padding = 1, output_padding = 1),
        bn2: batch_norm2d(),
        act6: sigmoid,
        resize: upsample(scale = 2, mode = bilinear),
        act7: tanh,
        nearest: upsample(scale = (2, 1)),
        mix: pixel_linear(24),
        act8: gelu(tanh),
        layer_scale: layer_scale(),
        bins: adaptive_avg_pool2d((3, 5)),
        flat: flatten,
        fc: linear(10),
    }

    /// The layers of [`EveryKind`] that ONNX can write for any input size, written so.
    pub struct EveryKindAnySize: [3, H, W] {
        conv1: conv2d(3 => 16, kernel = (3, 5), stride = (1, 2), padding = ((1, 0), (2, 1))),
        bn1: batch_norm2d(16, eps = 1e-3),
        act1: relu6,
        dw: conv2d(16, kernel = 3, padding = same, groups = 16, bias = false),
        down: conv2d(32, kernel = 3, stride = 2, padding = same_upper),
        lower: conv2d(32, kernel = 4, stride = 2, padding = same_lower),
        residual {
            conv: conv2d(32, kernel = 3, padding = 1, bias = false),
            bn: batch_norm2d(),
        },
        relu: relu,
        pool1: max_pool2d(kernel = 3, stride = 2, padding = 1),
        cat: concat {
            a: conv2d(8, kernel = 1),
            b: [avg_pool2d(kernel = 3, stride = 1, padding = 1), conv2d(8, kernel = 1)],
        },
        gap: adaptive_avg_pool2d(1),
        flat: flatten,
        fc: linear(10),
    }
}

/// Where the models and arrays go.
fn dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("onnx");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `a` as a NumPy `.npy` file (version 1.0, little-endian f32, C order).
fn write_npy(path: &Path, a: &ArrayD<f32>) {
    let shape: Vec<String> = a.shape().iter().map(|d| d.to_string()).collect();
    let shape = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!("({})", shape.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // The magic, version and length take 10 bytes; the header ends in a newline and pads the
    // whole to a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(a.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

/// A deterministic input of `shape`.
fn input(shape: (usize, usize, usize, usize)) -> Array4<f32> {
    Array4::from_shape_fn(shape, |(n, c, h, w)| {
        ((n * 7 + c * 3) as f32 * 0.37 + h as f32 * 0.11 - w as f32 * 0.07).sin()
    })
}

/// Exports `net` in both modes with `options`' size and writes the input and stride's output.
macro_rules! export {
    ($name:literal, $net:expr, $x:expr) => {
        export!($name, $net, $x, ExportOptions::default())
    };
    ($name:literal, $net:expr, $x:expr, $options:expr) => {{
        let net = $net;
        let x: Array4<f32> = $x;
        let dir = dir();
        let y = net.forward(x.view()).unwrap().into_dyn();
        write_npy(&dir.join(concat!($name, ".input.npy")), &x.into_dyn());
        write_npy(&dir.join(concat!($name, ".output.npy")), &y);
        let options: ExportOptions = $options;
        for (mode, options) in [
            (
                "declared",
                ExportOptions {
                    mode: stride::runtime::onnx::ExportMode::Declared,
                    ..options.clone()
                },
            ),
            ("fused", options.clone()),
        ] {
            let path = dir.join(format!("{}.{mode}.onnx", $name));
            let summary = net.save_onnx(&path, &options).unwrap();
            assert!(summary.nodes > 0, "{}", $name);
        }
        1
    }};
}

#[test]
fn every_golden_network_and_zoo_model_exports_in_both_modes() {
    use models::*;
    use stride::zoo::*;
    let golden_input = |file: &str| input_and_output(file).0;
    let load = |file: &str| golden(file);
    let lenient = support::lenient(true);
    let mut count = 0;
    count += export!(
        "resnet18_stem",
        ResNetStem::load_safetensors_with(load("resnet18_stem.safetensors"), &lenient).unwrap(),
        golden_input("resnet18_stem.safetensors")
    );
    count += export!(
        "vgg16_block1",
        VggBlock1::load_safetensors_with(load("vgg16_block1.safetensors"), &lenient).unwrap(),
        golden_input("vgg16_block1.safetensors")
    );
    count += export!(
        "dcgan_generator",
        DcganGenerator::load_safetensors_with(load("dcgan_generator.safetensors"), &lenient)
            .unwrap(),
        golden_input("dcgan_generator.safetensors")
    );
    count += export!(
        "resnet_narrow_basic",
        NarrowBasic::load_safetensors_with(load("resnet_narrow_basic.safetensors"), &lenient)
            .unwrap(),
        golden_input("resnet_narrow_basic.safetensors")
    );
    count += export!(
        "resnet_narrow_bottleneck",
        NarrowBottleneck::load_safetensors_with(
            load("resnet_narrow_bottleneck.safetensors"),
            &lenient
        )
        .unwrap(),
        golden_input("resnet_narrow_bottleneck.safetensors")
    );
    let zoo = |name: &str| format!("zoo/{name}.safetensors");
    count += export!(
        "googlenet_inception3a",
        GoogLeNetInception3a::load_safetensors_with(load(&zoo("googlenet_inception3a")), &lenient)
            .unwrap(),
        golden_input(&zoo("googlenet_inception3a")),
        ExportOptions::default().input_size(28, 28)
    );
    count += export!(
        "densenet121_denseblock1",
        DenseNet121Block1::load_safetensors_with(load(&zoo("densenet121_denseblock1")), &lenient)
            .unwrap(),
        golden_input(&zoo("densenet121_denseblock1")),
        ExportOptions::default().input_size(28, 28)
    );
    count += export!(
        "mobilenet_v3_small_head",
        MobileNetV3SmallHead::load_safetensors_with(
            load(&zoo("mobilenet_v3_small_head")),
            &lenient
        )
        .unwrap(),
        golden_input(&zoo("mobilenet_v3_small_head")),
        ExportOptions::default().input_size(64, 64)
    );
    count += export!(
        "efficientnet_b0_head",
        EfficientNetB0Head::load_safetensors_with(load(&zoo("efficientnet_b0_head")), &lenient)
            .unwrap(),
        golden_input(&zoo("efficientnet_b0_head")),
        ExportOptions::default().input_size(64, 64)
    );
    count += export!(
        "convnext_tiny_head",
        ConvNeXtTinyHead::load_safetensors_with(load(&zoo("convnext_tiny_head")), &lenient)
            .unwrap(),
        golden_input(&zoo("convnext_tiny_head")),
        ExportOptions::default().input_size(64, 64)
    );
    count += export!(
        "lenet5",
        LeNet5::load_safetensors_with(load(&zoo("lenet5")), &lenient).unwrap(),
        golden_input(&zoo("lenet5"))
    );
    count += export!(
        "all_cnn_c",
        AllCnnC::load_safetensors_with(load(&zoo("all_cnn_c")), &lenient).unwrap(),
        golden_input(&zoo("all_cnn_c")),
        ExportOptions::default().input_size(32, 32)
    );
    count += export!(
        "model_c_pooled",
        ModelC::load_safetensors_with(load(&zoo("model_c_pooled")), &lenient).unwrap(),
        golden_input(&zoo("model_c_pooled")),
        ExportOptions::default().input_size(32, 32)
    );
    // Whole zoo models, seeded, on a non-square input; the size is left open where the layers
    // allow, so ONNX Runtime resolves it.
    count += export!("resnet18", ResNet18::init(1), input((2, 3, 64, 80)));
    count += export!("googlenet", GoogLeNet::init(2), input((1, 3, 64, 80)));
    count += export!("densenet121", DenseNet121::init(3), input((1, 3, 64, 80)));
    count += export!("mobilenet_v2", MobileNetV2::init(4), input((2, 3, 64, 80)));
    count += export!(
        "mobilenet_v3_small",
        MobileNetV3Small::init(5),
        input((2, 3, 64, 80))
    );
    count += export!(
        "efficientnet_b0",
        EfficientNetB0::init(6),
        input((1, 3, 64, 80))
    );
    count += export!(
        "every_kind_fixed",
        EveryKind::init(8),
        input((2, 3, 30, 44)),
        ExportOptions::default().input_size(30, 44)
    );
    count += export!(
        "every_kind_any_size",
        EveryKindAnySize::init(9),
        input((2, 3, 40, 52))
    );
    println!(
        "{count} networks exported in both modes to {}",
        dir().display()
    );
}

#[test]
fn the_export_names_its_input_output_and_weights_by_their_keys() {
    let net = models::ResNetStem::init(0);
    let bytes = net.to_onnx(&ExportOptions::declared()).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    for name in [
        "input",
        "output",
        "conv1.weight",
        "bn1.running_mean",
        "batch",
    ] {
        assert!(text.contains(name), "{name} is not in the model");
    }
    let declared = onnx_summary(&net, &ExportOptions::declared()).unwrap();
    let fused = onnx_summary(&net, &ExportOptions::fused()).unwrap();
    // conv1, bn1, relu, maxpool as declared; the batch norm folded away once fused.
    assert_eq!((declared.nodes, fused.nodes), (4, 3));
    assert_eq!(declared.opset, 17);
}

#[test]
fn a_bad_option_is_a_named_error() {
    let net = stride::zoo::ConvNeXtTiny::init(0);
    let err = net
        .to_onnx(&ExportOptions::default().opset(16).input_size(64, 64))
        .unwrap_err();
    assert!(
        matches!(err, ExportError::OpsetTooLow { needs: 17, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "`features.0.1` needs ONNX's `LayerNormalization`, which opset 17 introduced; the export \
         was asked for opset 16"
    );
    let err = net.to_onnx(&ExportOptions::default().opset(9)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "opset 9 is not one the export writes: it writes opsets 13 to 17"
    );
    let err = models::ResNetStem::init(0)
        .save_onnx("/nonexistent/dir/stem.onnx", &ExportOptions::default())
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot write /nonexistent/dir/stem.onnx"),
        "{err}"
    );
    let err = stride::zoo::AlexNet::init(0)
        .to_onnx(&ExportOptions::default())
        .unwrap_err();
    assert!(matches!(err, ExportError::NeedsInputSize { .. }), "{err}");
    let err = stride::zoo::ResNet18::init(0)
        .to_onnx(&ExportOptions::default().input_size(0, 10))
        .unwrap_err();
    assert!(matches!(err, ExportError::InputSize { .. }), "{err}");
}

#[test]
fn a_triton_repository_declares_the_networks_shapes() {
    use stride::runtime::onnx::{DynamicBatching, Instances, TritonOptions};
    let dir = dir().join("triton");
    let options = TritonOptions {
        max_batch_size: 16,
        dynamic_batching: Some(DynamicBatching {
            preferred_batch_sizes: vec![4, 8],
            max_queue_delay_microseconds: 250,
        }),
        instances: Some(Instances {
            count: 2,
            gpu: false,
        }),
        export: ExportOptions::default().input_size(224, 224),
    };
    let net = stride::zoo::MobileNetV3Small::init(0);
    let summary = net
        .save_triton_repository(&dir, "mobilenet_v3_small", &options)
        .unwrap();
    let model = std::fs::read(dir.join("mobilenet_v3_small/1/model.onnx")).unwrap();
    assert_eq!(model.len(), summary.bytes);
    let config = std::fs::read_to_string(dir.join("mobilenet_v3_small/config.pbtxt")).unwrap();
    // The fields, one per line, against the network's own shapes.
    let [c, h, w] = [stride::zoo::MobileNetV3Small::INPUT[0], 224, 224];
    let [classes] = stride::zoo::MobileNetV3Small::OUTPUT;
    for line in [
        "name: \"mobilenet_v3_small\"".to_string(),
        "platform: \"onnxruntime_onnx\"".to_string(),
        "max_batch_size: 16".to_string(),
        format!("dims: [ {c}, {h}, {w} ]"),
        format!("dims: [ {classes} ]"),
        "preferred_batch_size: [ 4, 8 ]".to_string(),
        "max_queue_delay_microseconds: 250".to_string(),
        "count: 2".to_string(),
        "kind: KIND_CPU".to_string(),
    ] {
        assert!(
            config.lines().any(|l| l.trim() == line),
            "`{line}` is not in\n{config}"
        );
    }
    assert_eq!(config.matches("data_type: TYPE_FP32").count(), 2);
    // A size left open is -1; a name Triton cannot take is refused.
    let open = stride::runtime::onnx::config_text(
        &stride::zoo::ResNet18::init(0),
        "resnet18",
        &TritonOptions::default(),
    );
    assert!(open.contains("dims: [ 3, -1, -1 ]"), "{open}");
    let err = net
        .save_triton_repository(&dir, "../escape", &TritonOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("model name `../escape`"), "{err}");
}
