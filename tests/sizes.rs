//! Networks at any input size: the golden networks declared with names for their height and
//! width give PyTorch's numbers at their stored size, a size they do not take is refused before
//! the layers run (naming the layer, with the smallest size and the step), and the summary is
//! given at any size.

mod support;

use ndarray::ShapeBuilder;
use stride::network;
use support::{golden, input_and_output, lenient, worst_difference};

#[path = "../examples/models/mod.rs"]
mod models;

network! {
    use ::stride::zoo::BasicBlock;
    use ::stride::zoo::Bottleneck;
    use ::stride::zoo::Inception;
    use ::stride::zoo::DenseLayer;

    /// `resnet18_stem` at any size.
    pub struct ResNetStemAny: [3, H, W] {
        conv1: conv2d(64, kernel = 7, stride = 2, padding = 3, bias = false),
        bn1: batch_norm2d(),
        relu: relu,
        maxpool: max_pool2d(kernel = 3, stride = 2, padding = 1),
    }

    /// `vgg16_block1` at any size.
    #[sequential("features")]
    pub struct VggBlock1Any: [3, H, W] {
        conv1_1: conv2d(64, kernel = 3, padding = 1),
        relu1_1: relu,
        conv1_2: conv2d(64, kernel = 3, padding = 1),
        relu1_2: relu,
        pool1: max_pool2d(2),
    }

    /// `dcgan_generator` from noise of any height and width.
    #[sequential]
    pub struct DcganGeneratorAny: [16, H, W] {
        project: conv_transpose2d(64, kernel = 4, bias = false),
        bn1: batch_norm2d(),
        relu1: relu,
        up2: conv_transpose2d(32, kernel = 4, stride = 2, padding = 1, bias = false),
        bn2: batch_norm2d(),
        relu2: relu,
        up3: conv_transpose2d(16, kernel = 4, stride = 2, padding = 1, bias = false),
        bn3: batch_norm2d(),
        relu3: relu,
        up4: conv_transpose2d(8, kernel = 4, stride = 2, padding = 1, bias = false),
        bn4: batch_norm2d(),
        relu4: relu,
        to_rgb: conv_transpose2d(3, kernel = 4, stride = 2, padding = 1, bias = false),
        tanh: tanh,
    }

    /// `resnet_narrow_basic` at any size: the classifier after the global pool is fixed.
    pub struct NarrowBasicAny: [3, H, W] {
        conv1: conv2d(8, kernel = 7, stride = 2, padding = 3, bias = false),
        bn1: batch_norm2d(),
        relu: relu,
        maxpool: max_pool2d(kernel = 3, stride = 2, padding = 1),
        layer1: [BasicBlock(8), BasicBlock(8)],
        layer2: [BasicBlock(16, stride = 2), BasicBlock(16)],
        layer3: [BasicBlock(32, stride = 2), BasicBlock(32)],
        layer4: [BasicBlock(64, stride = 2), BasicBlock(64)],
        avgpool: adaptive_avg_pool2d(1),
        flatten: flatten,
        fc: linear(10),
    }

    /// `resnet_narrow_bottleneck` at any size.
    pub struct NarrowBottleneckAny: [3, H, W] {
        conv1: conv2d(8, kernel = 7, stride = 2, padding = 3, bias = false),
        bn1: batch_norm2d(),
        relu: relu,
        maxpool: max_pool2d(kernel = 3, stride = 2, padding = 1),
        layer1: [Bottleneck(8)],
        layer2: [Bottleneck(16, stride = 2), Bottleneck(16)],
        layer3: [Bottleneck(32, stride = 2)],
        layer4: [Bottleneck(64, stride = 2)],
        avgpool: adaptive_avg_pool2d(1),
        flatten: flatten,
        fc: linear(10),
    }

    /// GoogLeNet's `inception3a` at any size.
    pub struct Inception3aAny: [192, H, W] {
        #[key = ""]
        inception3a: Inception(64, 96, 128, 16, 32, 32),
    }

    /// DenseNet-121's first dense block at any size.
    pub struct DenseBlock1Any: [64, H, W] {
        #[key = ""]
        #[keys("denselayer{}", from = 1)]
        denseblock1: [DenseLayer(128, 32); 6],
    }
}

/// Loads a golden file into a size-generic network, fused and not, and compares with PyTorch.
macro_rules! matches_pytorch {
    ($net:ty, $file:literal) => {{
        let (x, want) = input_and_output($file);
        for fuse in [true, false] {
            let net = <$net>::load_safetensors_with(golden($file), &lenient(fuse)).unwrap();
            let got = net.forward(x.view()).unwrap().into_dyn();
            assert_eq!(
                worst_difference(&got, &want),
                None,
                "{} fuse = {fuse}",
                $file
            );
        }
    }};
}

#[test]
fn golden_networks_declared_for_any_size_match_pytorch_at_their_stored_size() {
    matches_pytorch!(ResNetStemAny, "resnet18_stem.safetensors");
    matches_pytorch!(VggBlock1Any, "vgg16_block1.safetensors");
    matches_pytorch!(DcganGeneratorAny, "dcgan_generator.safetensors");
    matches_pytorch!(NarrowBasicAny, "resnet_narrow_basic.safetensors");
    matches_pytorch!(NarrowBottleneckAny, "resnet_narrow_bottleneck.safetensors");
    matches_pytorch!(Inception3aAny, "zoo/googlenet_inception3a.safetensors");
    matches_pytorch!(DenseBlock1Any, "zoo/densenet121_denseblock1.safetensors");
}

#[test]
fn size_generic_networks_report_the_sizes_they_take() {
    // Every layer of these pads or rounds so that any size down to 1 passes.
    assert_eq!(ResNetStemAny::MIN_INPUT, [1, 1]);
    assert_eq!(ResNetStemAny::INPUT_MULTIPLE, [1, 1]);
    assert_eq!(NarrowBasicAny::MIN_INPUT, [1, 1]);
    // A 2x2 pool needs two rows.
    assert_eq!(VggBlock1Any::MIN_INPUT, [2, 2]);
    assert_eq!(ResNetStemAny::INPUT, [3, 0, 0]);
    assert_eq!(NarrowBasicAny::OUTPUT, [10]);
    assert_eq!(ResNetStemAny::OUTPUT, [64, 0, 0]);
    assert_eq!(ResNetStemAny::output_at(224, 160), Some([64, 56, 40]));
    // The weights do not depend on the size: the same as the fixed declaration's.
    assert_eq!(NarrowBasicAny::PARAMS, models::NarrowBasic::PARAMS);
}

#[test]
fn a_size_the_network_does_not_take_is_refused_naming_the_layer_and_the_sizes() {
    let net = VggBlock1Any::init(0);
    let err = net
        .forward(ndarray::Array4::zeros((1, 3, 1, 8)).view())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`VggBlock1Any` at 1x8: `features.4`: output height is 0: (1 + 2*0 - 1*(2-1) - 1) / 2 + 1 \
         = 0; the kernel (2) is larger than the padded input (1); `VggBlock1Any` takes heights \
         from 2"
    );
    let err = net
        .forward(ndarray::Array4::zeros((1, 4, 8, 8)).view())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "VggBlock1Any: input has shape [1, 4, 8, 8], expected [N, 3, H, W]"
    );
}

#[test]
fn summary_at_gives_each_rows_shape_and_macs_at_two_sizes() {
    let at_224 = ResNetStemAny::summary_at(224, 224).unwrap();
    let at_64 = ResNetStemAny::summary_at(64, 96).unwrap();
    assert_eq!(at_224.macs, models::ResNetStem::MACS);
    assert_eq!(at_224.layers[0].output, [64, 112, 112]);
    assert_eq!(at_64.layers[0].output, [64, 32, 48]);
    assert_eq!(at_64.layers[3].output, [64, 16, 24]);
    // conv1: 64 x 3 x 7 x 7 multiply-adds for each of its 32 x 48 outputs.
    assert_eq!(at_64.layers[0].macs, 64 * 3 * 49 * 32 * 48);
    // The receptive field does not depend on the size.
    assert_eq!(at_64.layers[3].info.receptive_field, Some([11, 11]));
    println!("{at_64}");
    let text = at_64.to_string();
    assert!(
        text.starts_with("ResNetStemAny: input [3, 64, 96]"),
        "{text}"
    );
    assert!(ResNetStemAny::summary_at(0, 64).is_err());
}

#[test]
fn the_summary_of_a_size_generic_network_says_which_sizes_it_takes() {
    let text = VggBlock1Any::SUMMARY.to_string();
    assert!(
        text.starts_with(
            "VggBlock1Any: input [3, H, W], H from 2, W from 2; the rows are at [3, 2, 2]"
        ),
        "{text}"
    );
}

#[test]
fn a_size_generic_stem_composes_with_a_fixed_head_at_one_size() {
    use stride::runtime::typed::{At, Network, Tensor};

    network! {
        /// A fixed-size head for the stem's output at 64x64.
        pub struct Head: [64, 16, 16] {
            pool: global_avg_pool2d,
            flatten: flatten,
            fc: linear(10),
        }
    }

    let net = At::<_, 64, 64>::new(ResNetStemAny::init(0)).then(Head::init(1));
    let x = Tensor::new(ndarray::Array4::<f32>::ones((2, 3, 64, 64))).unwrap();
    assert_eq!(net.forward_typed(x).view().dim(), (2, 10));
}

#[test]
fn forward_refuses_an_input_whose_activations_cannot_be_allocated_naming_the_layer() {
    // Broadcast views (one value, zero strides) stand for inputs larger than memory: a batch
    // of 2^49 fixed-size images, and one image of 2^30 x 2^30 for a network that takes any
    // size, each over 2^61 values. The first layer's copy of the input or its output would
    // be above isize::MAX bytes and is refused, inside an error that names the layer;
    // nothing panics or aborts.
    let one = [0.5f32];
    let view = |shape: (usize, usize, usize, usize)| {
        ndarray::ArrayView4::from_shape(shape.strides((0, 0, 0, 0)), &one).unwrap()
    };
    let fixed = models::NarrowBasic::init(0);
    let err = fixed.forward(view((1 << 49, 3, 64, 64))).unwrap_err();
    assert_too_large_in_a_layer(&err);
    let any_size = NarrowBasicAny::init(0);
    let err = any_size
        .forward(view((1, 3, 1 << 30, 1 << 30)))
        .unwrap_err();
    assert_too_large_in_a_layer(&err);
}

/// Asserts that `err` is a layer's [`Error::TooLarge`](stride::runtime::Error::TooLarge),
/// refused by arithmetic (not by the system, so the test holds whatever the machine).
#[track_caller]
fn assert_too_large_in_a_layer(err: &stride::runtime::Error) {
    use stride::runtime::Error;
    let Error::Layer { source, .. } = err else {
        panic!("expected the error of a layer, got {err}")
    };
    let too_large = matches!(**source, Error::TooLarge { refused: false, .. });
    assert!(too_large, "{err}");
}
