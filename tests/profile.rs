//! `Module::profile`: each step of a forward, named, in order, with its output shape. Times are
//! reported, never asserted on.

use stride::ndarray::Array4;
use stride::runtime::graph::{Module, Op};
use stride::runtime::simd;
use stride::zoo::{EfficientNetB0, ResNet18};

#[test]
fn a_fused_resnet_profiles_as_fused_convolutions_that_add_their_residual() {
    let net = ResNet18::init(0); // fused, as `init` gives it
    let x = Array4::from_elem((2, 3, 64, 64), 0.5f32);
    let profile = net.profile(x.view(), 2).unwrap();
    assert_eq!((profile.batch, profile.runs), (2, 2));
    let steps: Vec<(&str, &str)> = profile
        .steps
        .iter()
        .map(|s| (s.key, s.kind.as_str()))
        .collect();
    // The stem and its max pool run as one step, its output the pool's, where the stem runs
    // the direct kernel: on AVX-512 and the portable path. AVX2 runs it on im2col, then the
    // pool.
    let pool = if simd::avx2_fma() && !simd::avx512() {
        assert_eq!(steps[0], ("conv1", "conv2d 7x7/2 fused"));
        assert_eq!(profile.steps[0].output, [2, 64, 32, 32]);
        assert_eq!(steps[1], ("maxpool", "max_pool2d 3x3/2"));
        1
    } else {
        assert_eq!(steps[0], ("conv1", "conv2d 7x7/2 + max_pool2d 3x3/2 fused"));
        0
    };
    assert_eq!(profile.steps[pool].output, [2, 64, 16, 16]);
    assert_eq!(steps[pool + 1], ("layer1.0.conv1", "conv2d 3x3/1 fused"));
    assert_eq!(
        steps[pool + 2],
        ("layer1.0.conv2", "conv2d 3x3/1 fused + add")
    );
    assert_eq!(steps.last(), Some(&("fc", "linear")));
    assert_eq!(profile.steps.last().unwrap().output, [2, 1000]);
    let table = profile.to_string();
    for step in &profile.steps {
        assert!(table.contains(step.key), "{table}");
    }
    // The last line is the network's memory plan for that input.
    assert_eq!(profile.memory, net.memory_plan([2, 3, 64, 64]).unwrap());
    let memory = format!(
        "(median of 2 runs)\nmemory: {}; buffers kept",
        profile.memory
    );
    assert!(table.contains(&memory), "{table}");
    assert!(table.ends_with(" MiB"), "{table}");
    assert_eq!(profile.slowest(3).len(), 3);
    assert!(profile.slowest(3)[0].time >= profile.slowest(3)[2].time);
}

#[test]
fn an_unfused_network_profiles_each_layer_and_each_join() {
    let mut net = EfficientNetB0::init(0);
    net.unfuse();
    let x = Array4::from_elem((1, 3, 32, 32), 0.5f32);
    let profile = net.profile(x.view(), 1).unwrap();
    let kinds: Vec<&str> = profile.steps.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(&kinds[..3], ["conv2d 3x3/2", "batch_norm2d", "silu"]);
    assert!(
        kinds.contains(&"scale"),
        "squeeze-excitation's multiply: {kinds:?}"
    );
    assert!(kinds.contains(&"add"), "the residual adds: {kinds:?}");
    // Every layer of the graph ran once, in order, between the joins; the stochastic depths
    // are identities at inference and the walk skips them.
    let ran: Vec<&str> = profile
        .steps
        .iter()
        .filter(|s| !["scale", "add"].contains(&s.kind.as_str()))
        .map(|s| s.key)
        .collect();
    let layers: Vec<&str> = net
        .graph()
        .layers
        .iter()
        .filter(|l| l.op != Op::Identity)
        .map(|l| l.key)
        .collect();
    assert_eq!(ran, layers);
    assert!(net.profile(x.view(), 0).is_err());
}
