use ndarray::{Array2, Array4, array};

use super::*;
use crate::Padding;

/// A `[1, 1, H, W]` input from one plane.
fn plane(x: Array2<f32>) -> Array4<f32> {
    let (h, w) = x.dim();
    x.into_shape_with_order((1, 1, h, w)).unwrap()
}

/// The `[H, W]` plane of a `[1, 1, H, W]` output.
fn only_plane(y: Array4<f32>) -> Array2<f32> {
    let (_, _, h, w) = y.dim();
    y.into_shape_with_order((h, w)).unwrap()
}

/// A `[1, 1, H, W]` input counting 1, 2, 3, … in C order.
fn counting(h: usize, w: usize) -> Array4<f32> {
    Array4::from_shape_fn((1, 1, h, w), |(_, _, r, c)| (r * w + c + 1) as f32)
}

// Max pooling: values.

#[test]
fn max_pool_resnet_stem_halves_the_plane() {
    let x = counting(4, 4);
    let y = max_pool2d(x.view(), &MaxPool2dParams::new(3).stride(2).padding(1)).unwrap();
    // Windows [-1, 1] and [1, 3] on both axes; padding never wins.
    assert_eq!(only_plane(y), array![[6.0, 8.0], [14.0, 16.0]]);
}

#[test]
fn max_pool_ceil_mode_keeps_a_partial_last_window() {
    // 1x6, kernel 3, stride 2, padding 1: floor gives 3 windows, ceil a 4th starting at 5.
    let x = plane(array![[1.0, 6.0, 2.0, 3.0, 7.0, 5.0]]);
    let params = MaxPool2dParams::new((1, 3)).stride((1, 2)).padding((0, 1));
    // Windows [-1, 1], [1, 3], [3, 5].
    let floor = max_pool2d(x.view(), &params).unwrap();
    assert_eq!(only_plane(floor), array![[6.0, 6.0, 7.0]]);
    // And [5, 7], of which only 5 is on the input.
    let ceil = max_pool2d(x.view(), &params.ceil_mode(true)).unwrap();
    assert_eq!(only_plane(ceil), array![[6.0, 6.0, 7.0, 5.0]]);
}

#[test]
fn max_pool_ceil_mode_drops_window_starting_in_padding() {
    // 1x5, kernel 2, stride 2, padding 1: ceil((5 + 2 - 2) / 2) + 1 = 4 windows, but the 4th
    // would start at 6 - 1 = 5, in the end padding, so PyTorch keeps 3.
    let x = plane(array![[1.0, 5.0, 2.0, 3.0, 4.0]]);
    let params = MaxPool2dParams::new((1, 2))
        .stride((1, 2))
        .padding((0, 1))
        .ceil_mode(true);
    let y = max_pool2d(x.view(), &params).unwrap();
    // Windows [-1, 0], [1, 2], [3, 4].
    assert_eq!(only_plane(y), array![[1.0, 5.0, 4.0]]);
}

#[test]
fn max_pool_dilation_skips_between_taps() {
    let x = plane(array![[9.0, 1.0, 2.0, 8.0, 3.0]]);
    let y = max_pool2d(
        x.view(),
        &MaxPool2dParams::new((1, 2)).stride(1).dilation((1, 3)),
    )
    .unwrap();
    // Taps {0, 3} and {1, 4}.
    assert_eq!(only_plane(y), array![[9.0, 3.0]]);
}

#[test]
fn max_pool_window_with_every_tap_in_the_padding_gives_negative_infinity() {
    // Height 1, kernel 2, dilation 2, padding 1: the one window's taps are at -1 and 1, both
    // padding. PyTorch allows it (1 <= (2*1 + 1) / 2 and 1 <= 2 / 2) and returns -inf.
    let x = plane(array![[3.0, 4.0]]);
    let params = MaxPool2dParams::new((2, 1))
        .stride(1)
        .dilation((2, 1))
        .padding((1, 0));
    let y = max_pool2d(x.view(), &params).unwrap();
    assert_eq!(
        only_plane(y),
        array![[f32::NEG_INFINITY, f32::NEG_INFINITY]]
    );
}

#[test]
fn max_pool_propagates_nan_like_pytorch() {
    let x = plane(array![[1.0, f32::NAN, 3.0, 2.0]]);
    let y = max_pool2d(x.view(), &MaxPool2dParams::new((1, 2))).unwrap();
    let y = only_plane(y);
    assert!(y[[0, 0]].is_nan());
    assert_eq!(y[[0, 1]], 3.0);
}

#[test]
fn max_pool_pads_asymmetrically_and_with_same_upper() {
    let x = counting(1, 4);
    let params = MaxPool2dParams::new((1, 2)).padding(Padding2d::asymmetric(0, 0, 0, 1));
    let y = max_pool2d(x.view(), &params).unwrap();
    assert_eq!(only_plane(y), array![[2.0, 4.0]]);
    // TensorFlow's SAME on 5 inputs, kernel 2, stride 2: output 3, one pad at the end.
    let x = counting(1, 5);
    let params = MaxPool2dParams::new((1, 2)).padding(Padding::SameUpper);
    let y = max_pool2d(x.view(), &params).unwrap();
    assert_eq!(only_plane(y), array![[2.0, 4.0, 5.0]]);
}

#[test]
fn max_pool_reads_a_transposed_view_like_its_standard_copy() {
    let x = Array4::from_shape_fn((2, 3, 5, 4), |(n, c, h, w)| {
        ((n * 7 + c * 5 + h * 3 + w * 11) % 13) as f32
    });
    let transposed = x.view().permuted_axes([0, 1, 3, 2]);
    let params = MaxPool2dParams::new(2).stride(1);
    assert_eq!(
        max_pool2d(transposed, &params).unwrap(),
        max_pool2d(transposed.as_standard_layout().view(), &params).unwrap()
    );
}

// Max pooling: refusals.

#[test]
fn max_pool_refuses_an_empty_plane() {
    let x = Array4::<f32>::zeros((1, 3, 0, 4));
    let err = max_pool2d(x.view(), &MaxPool2dParams::new(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "max_pool2d: input has shape [1, 3, 0, 4], expected [N, C, H, W] with H, W >= 1"
    );
}

#[test]
fn max_pool_refuses_a_zero_kernel() {
    let x = counting(4, 4);
    let err = max_pool2d(x.view(), &MaxPool2dParams::new((2, 0)).stride(1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "max_pool2d: width: kernel must be at least 1, got 0"
    );
}

#[test]
fn max_pool_refuses_a_zero_stride() {
    let x = counting(4, 4);
    let err = max_pool2d(x.view(), &MaxPool2dParams::new(2).stride((0, 1))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "max_pool2d: height: stride must be at least 1, got 0"
    );
}

#[test]
fn max_pool_refuses_a_zero_dilation() {
    let x = counting(4, 4);
    let err = max_pool2d(x.view(), &MaxPool2dParams::new(2).dilation(0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "max_pool2d: height: dilation must be at least 1, got 0"
    );
}

#[test]
fn max_pool_refuses_padding_above_half_kernel() {
    let x = counting(8, 8);
    let err = max_pool2d(x.view(), &MaxPool2dParams::new((3, 2)).padding((1, 2))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "max_pool2d: width: padding (2) is more than half the effective kernel: (1*(2-1) + 1) / 2 = 1"
    );
}

#[test]
fn max_pool_refuses_padding_above_half_the_undilated_kernel_after_the_dilated_rule() {
    // Height: 3 <= (2*(4-1) + 1) / 2 = 3 but 3 > 4 / 2. Width: 1 > (1*(1-1) + 1) / 2 = 0.
    // PyTorch checks the effective-kernel rule on both axes first, so width is refused.
    let x = counting(16, 16);
    let params = MaxPool2dParams::new((4, 1))
        .dilation((2, 1))
        .padding((3, 1));
    let err = max_pool2d(x.view(), &params).unwrap_err();
    assert_eq!(
        err.to_string(),
        "max_pool2d: width: padding (1) is more than half the effective kernel: (1*(1-1) + 1) / 2 = 0"
    );
    let err = max_pool2d(x.view(), &params.padding((3, 0))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "max_pool2d: height: padding (3) is more than half the kernel: 4 / 2 = 2"
    );
}

#[test]
fn max_pool_refuses_an_output_below_one() {
    let x = counting(4, 2);
    let err = max_pool2d(x.view(), &MaxPool2dParams::new(3)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "max_pool2d: width: output size is 0: (2 + 2*0 - 1*(3-1) - 1) / 3 + 1 = 0; the kernel (3) is larger than the padded input (2)"
    );
}

// Average pooling: values.

#[test]
fn avg_pool_without_count_include_pad_divides_a_corner_by_its_input_elements() {
    // 3x3 input 1..9, kernel 3, stride 2, padding 1: the top-left window holds 1, 2, 4, 5
    // (sum 12) and 5 zeros of padding; the bottom-right one 5, 6, 8, 9 (sum 28).
    let x = counting(3, 3);
    let params = AvgPool2dParams::new(3).stride(2).padding(1);
    let y = avg_pool2d(x.view(), &params.count_include_pad(false)).unwrap();
    assert_eq!(
        only_plane(y),
        array![[12.0 / 4.0, 16.0 / 4.0], [24.0 / 4.0, 28.0 / 4.0]]
    );
    let y = avg_pool2d(x.view(), &params).unwrap();
    assert_eq!(
        only_plane(y),
        array![[12.0 / 9.0, 16.0 / 9.0], [24.0 / 9.0, 28.0 / 9.0]]
    );
}

#[test]
fn avg_pool_divisor_override_replaces_both_divisors() {
    let x = counting(3, 3);
    let params = AvgPool2dParams::new(3)
        .stride(2)
        .padding(1)
        .divisor_override(2);
    let want = array![[6.0, 8.0], [12.0, 14.0]];
    assert_eq!(only_plane(avg_pool2d(x.view(), &params).unwrap()), want);
    let params = params.count_include_pad(false);
    assert_eq!(only_plane(avg_pool2d(x.view(), &params).unwrap()), want);
}

#[test]
fn avg_pool_ceil_mode_divides_by_the_window_clipped_to_the_padded_input() {
    // 1x6, kernel 3, stride 2, padding 1, ceil: the 4th window starts at input 5 and covers
    // input 5, one pad, and one position past the padding, so it divides by 2, not 3.
    let x = counting(1, 6);
    let params = AvgPool2dParams::new((1, 3))
        .stride((1, 2))
        .padding((0, 1))
        .ceil_mode(true);
    let y = avg_pool2d(x.view(), &params).unwrap();
    assert_eq!(
        only_plane(y),
        array![[3.0 / 3.0, 9.0 / 3.0, 15.0 / 3.0, 6.0 / 2.0]]
    );
    let y = avg_pool2d(x.view(), &params.count_include_pad(false)).unwrap();
    assert_eq!(
        only_plane(y),
        array![[3.0 / 2.0, 9.0 / 3.0, 15.0 / 3.0, 6.0 / 1.0]]
    );
}

// Average pooling: refusals.

#[test]
fn avg_pool_refuses_an_empty_plane() {
    let x = Array4::<f32>::zeros((1, 3, 4, 0));
    let err = avg_pool2d(x.view(), &AvgPool2dParams::new(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "avg_pool2d: input has shape [1, 3, 4, 0], expected [N, C, H, W] with H, W >= 1"
    );
}

#[test]
fn avg_pool_refuses_a_zero_kernel() {
    let x = counting(4, 4);
    let err = avg_pool2d(x.view(), &AvgPool2dParams::new(0).stride(1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "avg_pool2d: height: kernel must be at least 1, got 0"
    );
}

#[test]
fn avg_pool_refuses_a_zero_stride() {
    let x = counting(4, 4);
    let err = avg_pool2d(x.view(), &AvgPool2dParams::new(2).stride((1, 0))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "avg_pool2d: width: stride must be at least 1, got 0"
    );
}

#[test]
fn avg_pool_refuses_padding_above_half_kernel() {
    let x = counting(8, 8);
    let err = avg_pool2d(x.view(), &AvgPool2dParams::new(2).padding(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "avg_pool2d: height: padding (2) is more than half the effective kernel: (1*(2-1) + 1) / 2 = 1"
    );
}

#[test]
fn avg_pool_refuses_an_output_below_one() {
    let x = counting(2, 5);
    let err = avg_pool2d(x.view(), &AvgPool2dParams::new(3)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "avg_pool2d: height: output size is 0: (2 + 2*0 - 1*(3-1) - 1) / 3 + 1 = 0; the kernel (3) is larger than the padded input (2)"
    );
}

#[test]
fn avg_pool_refuses_a_zero_divisor_override() {
    let x = counting(4, 4);
    let err = avg_pool2d(x.view(), &AvgPool2dParams::new(2).divisor_override(0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "avg_pool2d: divisor_override must be at least 1, got 0"
    );
}

// Adaptive and global average pooling.

#[test]
fn adaptive_avg_pool_averages_overlapping_bins_of_a_non_divisible_size() {
    // Height 2 -> 1 bin [0, 2); width 5 -> 3 bins [0, 2), [1, 4), [3, 5).
    let x = counting(2, 5);
    let y = adaptive_avg_pool2d(x.view(), (1, 3)).unwrap();
    assert_eq!(
        only_plane(y),
        array![[
            (1.0 + 2.0 + 6.0 + 7.0) / 4.0,
            (2.0 + 3.0 + 4.0 + 7.0 + 8.0 + 9.0) / 6.0,
            (4.0 + 5.0 + 9.0 + 10.0) / 4.0
        ]]
    );
}

#[test]
fn adaptive_avg_pool_to_a_larger_size_repeats_inputs() {
    // 2 -> 3 bins: [0, 1), [0, 2), [1, 2).
    let x = plane(array![[2.0, 4.0]]);
    let y = adaptive_avg_pool2d(x.view(), (1, 3)).unwrap();
    assert_eq!(only_plane(y), array![[2.0, 3.0, 4.0]]);
}

#[test]
fn global_avg_pool_is_adaptive_pooling_to_one_by_one() {
    let x = Array4::from_shape_fn((2, 3, 5, 6), |(n, c, h, w)| {
        ((n * 7 + c * 5 + h * 3 + w * 11) % 13) as f32
    });
    assert_eq!(
        global_avg_pool2d(x.view()).unwrap(),
        adaptive_avg_pool2d(x.view(), 1).unwrap()
    );
}

#[test]
fn adaptive_avg_pool_refuses_a_zero_output_size() {
    let x = counting(4, 4);
    let err = adaptive_avg_pool2d(x.view(), (3, 0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "adaptive_avg_pool2d: width: output size must be at least 1, got 0"
    );
}

#[test]
fn adaptive_avg_pool_refuses_an_empty_plane() {
    let x = Array4::<f32>::zeros((2, 3, 0, 0));
    let err = adaptive_avg_pool2d(x.view(), 1).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Shape {
                tensor: "input",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn global_avg_pool_refuses_an_empty_plane() {
    let x = Array4::<f32>::zeros((2, 3, 7, 0));
    let err = global_avg_pool2d(x.view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "global_avg_pool2d: input has shape [2, 3, 7, 0], expected [N, C, H, W] with H, W >= 1"
    );
}

#[test]
fn pools_keep_an_empty_batch_empty() {
    let x = Array4::<f32>::zeros((0, 3, 4, 4));
    assert_eq!(
        max_pool2d(x.view(), &MaxPool2dParams::new(2))
            .unwrap()
            .dim(),
        (0, 3, 2, 2)
    );
    assert_eq!(global_avg_pool2d(x.view()).unwrap().dim(), (0, 3, 1, 1));
}

#[test]
fn pools_split_over_two_threads_give_what_one_thread_gives() {
    // 64 planes of 40x40: enough work for `plane.rs` to split the planes.
    let x = crate::testing::sample((4, 16, 40, 40), 7);
    let max = MaxPool2dParams::new(3).stride(2).padding(1).ceil_mode(true);
    let avg = AvgPool2dParams::new(2).count_include_pad(false);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            (
                max_pool2d(x.view(), &max).unwrap(),
                avg_pool2d(x.view(), &avg).unwrap(),
            )
        })
    };
    assert_eq!(run(2), run(1));
}

#[test]
fn pools_write_every_output_value_of_a_reused_buffer() {
    use ndarray::Array1;

    use crate::arena::{self, Arena};
    use crate::testing::sample;

    type Pool = Box<dyn Fn(ArrayView4<f32>) -> Result<Array4<f32>>>;
    // Each kernel, with outputs of at least 2^14 values, the least the arena lends.
    let max = |p: MaxPool2dParams| -> Pool { Box::new(move |x| max_pool2d(x, &p)) };
    let avg = |p: AvgPool2dParams| -> Pool { Box::new(move |x| avg_pool2d(x, &p)) };
    let cases: Vec<(&str, Array4<f32>, Pool)> = vec![
        (
            "separable max, 3x3 stride 2, padding 1, ceil",
            sample((1, 64, 33, 35), 1),
            max(MaxPool2dParams::new(3).stride(2).padding(1).ceil_mode(true)),
        ),
        (
            "small-plane max, 3x3 stride 1, padding 1, ceil (small.rs on AVX-512)",
            sample((1, 400, 7, 7), 7),
            max(MaxPool2dParams::new(3).stride(1).padding(1).ceil_mode(true)),
        ),
        (
            "window-by-window max, dilation 2",
            sample((1, 64, 33, 35), 2),
            max(MaxPool2dParams::new(3).stride(1).dilation(2).padding(1)),
        ),
        (
            "separable average, 3x3 stride 1, padding 1, without the padding",
            sample((1, 64, 28, 30), 3),
            avg(AvgPool2dParams::new(3)
                .stride(1)
                .padding(1)
                .count_include_pad(false)),
        ),
        (
            "separable average, 2x2 stride 2, ceil",
            sample((1, 64, 33, 35), 4),
            avg(AvgPool2dParams::new(2).ceil_mode(true)),
        ),
        (
            "window-by-window average, a kernel wider than the separable row",
            sample((1, 64, 300, 1), 5),
            avg(AvgPool2dParams::new((1, 9001)).stride(1).padding((0, 4500))),
        ),
        (
            "adaptive average",
            sample((1, 64, 30, 20), 6),
            Box::new(|x| adaptive_avg_pool2d(x, (17, 17))),
        ),
        (
            "global average",
            sample((1, 1 << 14, 2, 3), 7),
            Box::new(global_avg_pool2d),
        ),
    ];
    for (name, x, pool) in cases {
        let fresh = pool(x.view()).unwrap();
        let (len, given) = (fresh.len(), (fresh.len()).max(1 << 14));
        let reused = Arena::default().scope(|| {
            let nan = Array1::from_elem(given, f32::NAN);
            let ptr = nan.as_ptr();
            arena::give(nan);
            let y = pool(x.view()).unwrap();
            assert_eq!(
                y.as_ptr(),
                ptr,
                "{name}: the output is not the buffer given back"
            );
            y
        });
        assert!(
            len >= 1 << 14,
            "{name}: {len} outputs, too few for the arena to lend"
        );
        assert!(
            reused.iter().all(|v| !v.is_nan()),
            "{name}: a value left unwritten"
        );
        assert_eq!(reused, fresh, "{name}");
    }
}
