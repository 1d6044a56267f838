//! Quick GFLOP/s of the layer suite's convolutions (FLOPs = 2 × MACs), the median
//! of a short run per layer. A rough gauge while tuning, not the project's benchmark:
//!
//! ```text
//! cargo run --release -p stride-runtime --example conv_gflops -- [THREADS] [NAME_FILTER]
//! ```

use std::time::{Duration, Instant};

use ndarray::{Array1, Array4};
use stride_runtime::ops::{Conv2d, Conv2dParams};

/// name, n, cin, h, w, cout, k, s, p, d, groups: the conv2d rows of `benches/layers.json`.
const LAYERS: &[(&str, [usize; 10])] = &[
    ("resnet_conv3x3_64_56", [1, 64, 56, 56, 64, 3, 1, 1, 1, 1]),
    (
        "resnet_conv3x3s2_128_28",
        [1, 128, 28, 28, 256, 3, 2, 1, 1, 1],
    ),
    (
        "bottleneck_conv1x1_256_56",
        [1, 256, 56, 56, 64, 1, 1, 0, 1, 1],
    ),
    ("vgg_conv3x3_64_224", [1, 64, 224, 224, 64, 3, 1, 1, 1, 1]),
    ("resnet_stem_conv7x7s2", [1, 3, 224, 224, 64, 7, 2, 3, 1, 1]),
    ("dilated3x3_d2_256_28", [1, 256, 28, 28, 256, 3, 1, 2, 2, 1]),
    (
        "resnet_conv3x3_64_56_b8",
        [8, 64, 56, 56, 64, 3, 1, 1, 1, 1],
    ),
    ("depthwise3x3_96_112", [1, 96, 112, 112, 96, 3, 1, 1, 1, 96]),
];

fn main() -> Result<(), stride_runtime::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads = args
        .first()
        .map_or(1, |t| t.parse().expect("THREADS is a number"));
    let filter = args.get(1).cloned().unwrap_or_default();
    stride_runtime::set_threads(threads)?;
    for &(name, [n, cin, h, w, cout, k, s, p, d, groups]) in LAYERS {
        if !name.contains(&filter) {
            continue;
        }
        let weight = Array4::from_shape_fn((cout, cin / groups, k, k), |(a, b, c, e)| {
            ((a * 7 + b * 3 + c * 5 + e) % 13) as f32 * 0.01 - 0.06
        });
        let params = Conv2dParams::default()
            .stride(s)
            .padding(p)
            .dilation(d)
            .groups(groups);
        let conv = Conv2d::new(weight, Some(Array1::zeros(cout)), params)?;
        let x = Array4::from_shape_fn((n, cin, h, w), |(a, b, c, e)| {
            ((a + b + c + e) % 7) as f32 * 0.1
        });
        let y = conv.forward(x.view())?;
        let (_, _, oh, ow) = y.dim();
        let flops = 2.0 * (n * cout * oh * ow * (cin / groups) * k * k) as f64;
        let mut times = Vec::new();
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(400) || times.len() < 5 {
            let t = Instant::now();
            std::hint::black_box(conv.forward(x.view())?);
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "{name:28} threads={threads} {:8.3} ms {:6.1} GFLOP/s (best {:6.1})",
            median * 1e3,
            flops / median / 1e9,
            flops / times[0] / 1e9
        );
    }
    Ok(())
}
