//! Layers of one's own inside `network!` (`examples/custom/mod.rs`): each computes what an
//! independent computation gives (the channel shuffle its index formula, the blur stride's own
//! depthwise convolution), a custom layer's tensor is loaded and saved under its key with the
//! strict mode's reports, and the runtime applies each layer's shape rule to every input.

#[path = "../examples/custom/mod.rs"]
mod custom;

use custom::{ChannelBias, ChannelShuffle, GaussianBlur};
use stride::ndarray::{Array1, Array4, ArrayView4, s};
use stride::network;
use stride::runtime::Padding2d;
use stride::runtime::Result;
use stride::runtime::graph::Module;
use stride::runtime::ops::{Conv2dParams, conv2d};
use stride::runtime::weights::{LoadOptions, Saver, Weights};
use stride::{CustomLayer, CustomShape, CustomTensors};

/// Values that differ at every index, so that a permutation or a shifted window shows.
fn ramp(shape: (usize, usize, usize, usize)) -> Array4<f32> {
    Array4::from_shape_fn(shape, |(n, c, h, w)| {
        (n * 1000 + c * 100 + h * 10 + w) as f32 * 0.01 - 3.0
    })
}

network! {
    /// A channel shuffle alone.
    pub struct Shuffle: [12, 5, 6] {
        shuffle: custom(ChannelShuffle<3>),
    }

    /// A blur alone.
    pub struct Blur: [4, 7, 5] {
        blur: custom(GaussianBlur),
    }

    /// A convolution that keeps two channels, then a learned shift.
    pub struct Shifted: [3, 4, 4] {
        conv: conv2d(2, kernel = 1, bias = false),
        shift: custom(ChannelBias),
    }

    /// Takes any size: each custom layer's rule sees 0 for the height and width at compile time.
    pub struct AnySize: [8, H, W] {
        blur: custom(GaussianBlur),
        shuffle: custom(ChannelShuffle<2>),
        conv: conv2d(4, kernel = 3, stride = 2, padding = 1),
    }

    /// A convolution and a batch norm with a custom layer between them: no fusion group.
    pub struct Apart: [3, 8, 8] {
        conv: conv2d(4, kernel = 3, padding = 1),
        blur: custom(GaussianBlur),
        bn: batch_norm2d(),
        relu: relu,
    }

    /// A layer whose forward breaks its own rule.
    pub struct Widened: [3, 4, 4] {
        twice: custom(Twice, channels = 6),
        conv: conv2d(2, kernel = 1),
    }

    /// Custom layers on a residual's main path and in a concat's branch, for the picture.
    pub struct Branched: [4, 6, 6] {
        residual {
            blur: custom(GaussianBlur),
            conv: conv2d(4, kernel = 3, padding = 1),
        },
        join: concat {
            shuffle: custom(ChannelShuffle<2>),
            conv2: conv2d(2, kernel = 1),
        },
    }

    /// A layer that takes even heights only, in a network that takes any size.
    pub struct Halves: [2, H, W] {
        half: custom(EvenHeight),
    }
}

#[test]
fn channel_shuffle_matches_the_index_formula() -> Result<()> {
    let (groups, channels) = (3, 12);
    let x = ramp((2, channels, 5, 6));
    let y = Shuffle::init(0).forward(x.view())?;
    assert_eq!(y.dim(), x.dim());
    for o in 0..channels {
        // Output channel o = j * groups + g holds input channel g * (channels / groups) + j.
        let source = (o % groups) * (channels / groups) + o / groups;
        assert_eq!(
            y.slice(s![.., o, .., ..]),
            x.slice(s![.., source, .., ..]),
            "channel {o}"
        );
    }
    Ok(())
}

#[test]
fn gaussian_blur_matches_a_depthwise_convolution() -> Result<()> {
    let x = ramp((2, 4, 7, 5));
    let y = Blur::init(0).forward(x.view())?;
    let taps = [1.0f32, 2.0, 1.0];
    let kernel = Array4::from_shape_fn((4, 1, 3, 3), |(_, _, i, j)| taps[i] * taps[j] / 16.0);
    let params = Conv2dParams {
        padding: Padding2d::asymmetric(1, 1, 1, 1),
        groups: 4,
        ..Conv2dParams::default()
    };
    let expected = conv2d(x.view(), kernel.view(), None, &params)?;
    let worst = y
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "largest difference {worst}");
    Ok(())
}

/// The weights of `Shifted`: its convolution's and its shift's, under their keys.
fn shifted_weights(extra: Option<&str>, bias: bool) -> Weights {
    let mut saver = Saver::new();
    let conv = Array4::from_shape_fn((2, 3, 1, 1), |(o, i, _, _)| if o == i { 1.0 } else { 0.0 });
    saver.add("conv.weight", conv.view()).unwrap();
    if bias {
        saver
            .add("shift.bias", Array1::from(vec![1.5f32, -2.0]).view())
            .unwrap();
    }
    if let Some(key) = extra {
        saver.add(key, Array1::from(vec![0.0f32]).view()).unwrap();
    }
    Weights::from_bytes(saver.to_bytes().unwrap()).unwrap()
}

#[test]
fn custom_tensor_is_loaded_and_saved_under_the_layers_key() -> Result<()> {
    let net = Shifted::from_weights(&shifted_weights(None, true), &LoadOptions::default())
        .expect("every key is there");
    let x = ramp((1, 3, 4, 4));
    let y = net.forward(x.view())?;
    // The convolution keeps channels 0 and 1; the shift adds 1.5 and -2 to them.
    for (c, shift) in [1.5f32, -2.0].into_iter().enumerate() {
        let expected = x.slice(s![.., c, .., ..]).mapv(|v| v + shift);
        assert_eq!(y.slice(s![.., c, .., ..]), expected);
    }
    assert_eq!(net.shift().bias().to_vec(), [1.5, -2.0]);
    let by_key: &ChannelBias = Module::model(&net)
        .custom("shift")
        .expect("a ChannelBias under `shift`");
    assert_eq!(by_key.bias().to_vec(), [1.5, -2.0]);
    assert!(
        Module::model(&net)
            .custom::<GaussianBlur>("shift")
            .is_none()
    );

    let path =
        std::env::temp_dir().join(format!("stride_custom_{}.safetensors", std::process::id()));
    net.save_safetensors(&path).expect("written");
    let saved = Weights::open(&path).expect("read back");
    std::fs::remove_file(&path).expect("removed");
    let mut keys: Vec<&str> = saved.keys().collect();
    keys.sort_unstable();
    assert_eq!(keys, ["conv.weight", "shift.bias"]);
    let again = Shifted::from_weights(&saved, &LoadOptions::default()).expect("loads");
    assert_eq!(again.forward(x.view())?, y);
    assert_eq!(Shifted::PARAMS, 2 * 3 + 2, "the shift's tensor counts");
    Ok(())
}

#[test]
fn strict_loading_reports_a_custom_layers_missing_and_unexpected_keys() {
    let missing = Shifted::from_weights(&shifted_weights(None, false), &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(missing.contains("shift.bias"), "{missing}");
    let unexpected = Shifted::from_weights(
        &shifted_weights(Some("shift.scale"), true),
        &LoadOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(unexpected.contains("shift.scale"), "{unexpected}");
}

#[test]
fn any_size_network_runs_its_custom_layers_at_each_size() -> Result<()> {
    let net = AnySize::init(3);
    for (h, w, out) in [(6, 6, (1, 4, 3, 3)), (9, 7, (1, 4, 5, 4))] {
        let y = net.forward(ramp((1, 8, h, w)).view())?;
        assert_eq!(y.dim(), out);
    }
    Ok(())
}

#[test]
fn summary_lists_custom_layers_with_their_kind_and_shape() {
    let summary = Shifted::SUMMARY.to_string();
    let row = summary
        .lines()
        .find(|l| l.starts_with("shift "))
        .expect("a row for `shift`");
    assert!(
        row.contains("channel_bias") && row.contains("[2, 4, 4]"),
        "{row}"
    );
}

#[test]
fn the_picture_draws_custom_layers_on_their_branches() {
    let summary = &Branched::SUMMARY;
    let row = |name: &str| {
        summary
            .layers
            .iter()
            .position(|l| l.name == name)
            .unwrap_or_else(|| panic!("a row for `{name}`"))
    };
    let inputs = |to: usize| summary.edges().iter().filter(|e| e.to == to).count();
    // The blur starts the residual's main path, and the add takes it and the skip.
    assert_eq!(inputs(row("blur")), 1);
    let add = summary
        .layers
        .iter()
        .position(|l| l.kind == "residual add")
        .expect("a row for the residual's add");
    assert!(add > row("conv"));
    assert_eq!(inputs(add), 2);
    // The shuffle is one of the concat's two branches.
    assert_eq!(inputs(row("join")), 2);
    let picture = summary.picture();
    for kind in ["gaussian_blur", "channel_shuffle"] {
        assert!(picture.svg().contains(kind), "the SVG names `{kind}`");
        assert!(picture.dot().contains(kind), "the DOT names `{kind}`");
    }
}

#[test]
fn custom_layers_are_planned_and_run_on_reused_buffers() -> Result<()> {
    // Batch 128 makes each value larger than the 64 KiB the arena starts keeping at.
    let net = Branched::init(0);
    let plan = net.memory_plan([128, 4, 6, 6])?;
    for key in ["blur", "join.shuffle"] {
        assert!(
            plan.values.iter().any(|v| v.key == key),
            "the plan makes `{key}`'s output"
        );
    }
    let x = ramp((128, 4, 6, 6));
    let first = net.forward(x.view())?;
    assert_eq!(plan.output, first.shape());
    net.forward(x.mapv(|v| -v).view())?;
    assert!(
        net.model().arena_bytes() > 0,
        "the forward kept its buffers"
    );
    assert_eq!(first, net.forward(x.view())?);
    Ok(())
}

#[test]
fn no_fusion_group_reaches_across_a_custom_layer() -> Result<()> {
    assert!(Apart::GRAPH.groups.is_empty());
    let mut net = Apart::init(5);
    let x = ramp((1, 3, 8, 8));
    let fused = net.forward(x.view())?;
    net.unfuse();
    assert_eq!(net.forward(x.view())?, fused);
    Ok(())
}

#[test]
fn onnx_export_refuses_a_custom_layer_by_name() {
    let err = Shifted::init(0)
        .to_onnx(&Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`shift`") && err.contains("channel_bias"),
        "{err}"
    );
}

/// Its rule doubles the channels; its forward gives back the input: a layer whose forward
/// disagrees with its own rule.
pub struct Twice;

const fn twice_shape(input: [usize; 3]) -> Result<[usize; 3], &'static str> {
    Ok([input[0] * 2, input[1], input[2]])
}

impl<const C: usize, const H: usize, const W: usize> CustomShape<C, H, W> for Twice {
    const OUTPUT: Result<[usize; 3], &'static str> = twice_shape([C, H, W]);
}

impl CustomLayer for Twice {
    const KIND: &'static str = "twice";

    fn output_shape(input: [usize; 3]) -> Result<[usize; 3], &'static str> {
        twice_shape(input)
    }

    fn new(_: &mut CustomTensors) -> Result<Self> {
        Ok(Twice)
    }

    fn forward(&self, x: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        Ok(x.to_owned())
    }
}

#[test]
fn a_forward_that_breaks_its_own_rule_is_an_error_naming_the_layer() {
    let err = Widened::init(0)
        .forward(ramp((1, 3, 4, 4)).view())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("`twice`: twice: output has shape [1, 3, 4, 4], expected [1, 6, 4, 4]"),
        "{err}"
    );
}

/// Takes even heights only: a rule that the compile-time check cannot apply to a network
/// declared for any size, and the runtime applies to each input.
pub struct EvenHeight;

const fn even_height(input: [usize; 3]) -> Result<[usize; 3], &'static str> {
    if input[1] % 2 == 1 {
        return Err("its height must be even");
    }
    Ok(input)
}

impl<const C: usize, const H: usize, const W: usize> CustomShape<C, H, W> for EvenHeight {
    const OUTPUT: Result<[usize; 3], &'static str> = even_height([C, H, W]);
}

impl CustomLayer for EvenHeight {
    const KIND: &'static str = "even_height";

    fn output_shape(input: [usize; 3]) -> Result<[usize; 3], &'static str> {
        even_height(input)
    }

    fn new(_: &mut CustomTensors) -> Result<Self> {
        Ok(EvenHeight)
    }

    fn forward(&self, x: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        Ok(x.to_owned())
    }
}

#[test]
fn the_runtime_applies_a_custom_rule_to_each_input_size() -> Result<()> {
    let net = Halves::init(0);
    assert_eq!(net.forward(ramp((1, 2, 4, 3)).view())?.dim(), (1, 2, 4, 3));
    let err = net
        .forward(ramp((1, 2, 5, 3)).view())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "`half`: even_height: refuses the input [2, 5, 3]: its height must be even"
    );
    Ok(())
}
