//! A forward's memory: the plan ([`Module::memory_plan`]) places no two values that are live at
//! the same step in the same bytes, on networks with residual blocks, concats, dense blocks and
//! squeeze-excitation gates; and the buffers a network reuses between forwards (its arena)
//! change no bit of what it computes, whatever those buffers held before and however many
//! threads run it.

use ndarray::Array4;
use stride::runtime::graph::{MemoryPlan, Module, Value};
use stride::zoo;

/// Checks what every plan must hold, and gives it back.
fn checked(net: &impl Module, input: [usize; 4]) -> MemoryPlan {
    let plan = net.memory_plan(input).unwrap();
    let name = plan.name;
    assert!(!plan.values.is_empty(), "{name}: a plan without values");
    for (i, a) in plan.values.iter().enumerate() {
        assert!(a.first <= a.last, "{name}: value {i} ends before it starts");
        assert!(a.offset % 64 == 0, "{name}: value {i} is not aligned");
        assert!(
            a.offset + a.bytes <= plan.arena_bytes,
            "{name}: value {i} past the arena"
        );
        for (j, b) in plan.values.iter().enumerate().skip(i + 1) {
            assert!(
                !(a.meets(b) && a.overlaps(b) && a.bytes > 0 && b.bytes > 0),
                "{name}: values {i} ({}) and {j} ({}) are live together and share bytes",
                a.key,
                b.key
            );
        }
    }
    assert!(plan.peak_live_bytes <= plan.arena_bytes);
    // The most live at once is at least the largest value, and at least the input and output
    // of any step that writes a new value beside the one it reads.
    let largest = plan.values.iter().map(|v| v.bytes).max().unwrap();
    assert!(plan.peak_live_bytes >= largest);
    // The output is the shape the forward gives.
    let x = Array4::<f32>::zeros((input[0], input[1], input[2], input[3]));
    assert_eq!(plan.output, net.run(x.view()).unwrap().shape());
    plan
}

#[test]
fn plans_place_no_two_live_values_in_the_same_bytes() {
    // Residual blocks (fused: the closing convolution writes into the shortcut's buffer; and
    // unfused: a separate add), concat branches, dense blocks, squeeze-excitation gates.
    let fused = checked(&zoo::ResNet18::init(0), [2, 3, 64, 64]);
    let mut unfused = zoo::ResNet18::init(0);
    unfused.unfuse();
    let unfused = checked(&unfused, [2, 3, 64, 64]);
    assert!(unfused.values.len() >= fused.values.len());
    checked(&zoo::GoogLeNet::init(0), [1, 3, 64, 64]);
    checked(&zoo::DenseNet121::init(0), [1, 3, 64, 64]);
    checked(&zoo::EfficientNetB0::init(0), [1, 3, 64, 64]);
    checked(&zoo::MobileNetV3Small::init(0), [1, 3, 64, 64]);
    checked(&zoo::ConvNeXtTiny::init(0), [1, 3, 64, 64]);
}

#[test]
fn a_residual_input_lives_until_the_add_and_a_concat_input_until_the_join() {
    // ResNet-18's first block adds the max pool's output: that value is read by the first
    // convolution of the block and then again at the block's last step, so it meets every
    // value the block makes in between.
    let plan = checked(&zoo::ResNet18::init(0), [1, 3, 64, 64]);
    let pool = plan.values.iter().find(|v| v.key == "maxpool").unwrap();
    let conv1 = plan
        .values
        .iter()
        .find(|v| v.key == "layer1.0.conv1")
        .unwrap();
    assert!(pool.meets(conv1) && pool.last > conv1.first);
    // DenseNet's dense layers each read the block's input and add to it: every layer's
    // output meets the concat that joins it.
    let plan = checked(&zoo::DenseNet121::init(0), [1, 3, 64, 64]);
    let first = plan
        .values
        .iter()
        .position(|v| v.key.starts_with("features.denseblock1"))
        .unwrap();
    let before = &plan.values[first - 1];
    assert!(before.last > plan.values[first].first);
}

#[test]
fn a_plan_refuses_the_shapes_a_forward_refuses() {
    let net = zoo::ResNet18::init(0);
    let err = net.memory_plan([1, 4, 64, 64]).unwrap_err();
    let run = net
        .run(Array4::<f32>::zeros((1, 4, 64, 64)).view())
        .unwrap_err();
    assert_eq!(err.to_string(), run.to_string());
}

/// The network's output on `x`, run inside a pool of `threads` threads.
fn forward(net: &impl Module, x: &Array4<f32>, threads: usize) -> Vec<u32> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| match net.run(x.view()).unwrap() {
        Value::Map(y) => y.iter().map(|v| v.to_bits()).collect(),
        Value::Flat(y) => y.iter().map(|v| v.to_bits()).collect(),
    })
}

#[test]
fn reused_buffers_change_no_bit_at_one_thread_or_two() {
    // EfficientNet-B0: residual blocks whose gates multiply in place; DenseNet-121: concats
    // that keep their input alive. Batch 2 at 96x96 makes values large enough to reuse.
    let x = Array4::from_shape_fn((2, 3, 96, 96), |(n, c, h, w)| {
        ((n * 3 + c) as f32 * 0.7 + h as f32 * 0.05 - w as f32 * 0.03).sin()
    });
    check_runs(zoo::EfficientNetB0::init, &x);
    check_runs(zoo::DenseNet121::init, &x);
    let efficientnet = zoo::EfficientNetB0::init(1);
    // A different input between two runs of the same shape: the buffers hold the other's
    // values, and the second output is still the first's.
    let other = x.mapv(|v| v * -3.0);
    let first = forward(&efficientnet, &x, 2);
    forward(&efficientnet, &other, 2);
    assert!(first == forward(&efficientnet, &x, 2));
}

/// Runs two networks of the same weights: one once, on new buffers; the other again and again
/// at 1 and 2 threads, on the buffers its earlier runs left.
fn check_runs<N: Module>(init: fn(u64) -> N, x: &Array4<f32>) {
    let fresh = forward(&init(1), x, 1);
    let warm = init(1);
    let name = warm.graph().name;
    forward(&warm, x, 2);
    assert!(warm.model().arena_bytes() > 0, "{name}: nothing was kept");
    for threads in [1, 2, 1, 2] {
        assert!(
            fresh == forward(&warm, x, threads),
            "{name}: a run at {threads} threads on reused buffers differs"
        );
    }
}

#[test]
fn a_fused_expansion_and_depthwise_layer_plan_no_expanded_map_and_keep_their_bits_on_2_threads() {
    // MobileNetV2 at 160x160: its second block expands 16 channels of 80x80 to 96 (2.5 MB,
    // above the size the pair fuses at) and convolves them depthwise at stride 2, fused, so
    // the expanded map is never whole: the plan holds no value of the expansion's, the
    // profile one step for both layers, and the output does not depend on the thread count
    // (the bands do not) and is the unfused network's within the golden tolerance.
    let net = zoo::MobileNetV2::init(3);
    let x = Array4::from_shape_fn((1, 3, 160, 160), |(_, c, h, w)| {
        (c as f32 * 0.9 + h as f32 * 0.07 - w as f32 * 0.05).sin()
    });
    let plan = checked(&net, [1, 3, 160, 160]);
    let keys: Vec<&str> = plan.values.iter().map(|v| v.key).collect();
    assert!(!keys.contains(&"features.2.conv.0.0"), "{keys:?}");
    assert!(keys.contains(&"features.2.conv.1.0"), "{keys:?}");
    // The block after it (144 channels of 40x40) is too small to fuse.
    assert!(keys.contains(&"features.3.conv.0.0"), "{keys:?}");
    let profile = net.profile(x.view(), 1).unwrap();
    let fused: Vec<(&str, &str)> = profile
        .steps
        .iter()
        .map(|s| (s.key, s.kind.as_str()))
        .filter(|(_, kind)| kind.contains("depthwise"))
        .collect();
    assert_eq!(fused, [("features.2.conv.0.0", "1x1 + depthwise fused")]);
    assert_eq!(profile.memory, plan);
    let one = forward(&net, &x, 1);
    assert!(one == forward(&net, &x, 2), "1 and 2 threads differ");
    let mut unfused = zoo::MobileNetV2::init(3);
    unfused.unfuse();
    let (Value::Flat(got), Value::Flat(want)) =
        (net.run(x.view()).unwrap(), unfused.run(x.view()).unwrap())
    else {
        panic!("MobileNetV2 ends in its classifier's logits");
    };
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (g - w).abs() <= 1e-4 * scale,
            "fused {g}, unfused {w} (scale {scale})"
        );
    }
}
