use stride_geometry::{Window, pool_output};

use super::super::avg::{self, Divisor};
use super::super::max;
use super::super::windows::AxisWindows;
use super::*;
use crate::testing::sample;

/// Whether this machine can run the AVX2 kernels.
fn has_avx2() -> bool {
    Isa::avx2().is_some()
}

/// The paths to test: scalar, and AVX2 and AVX-512 where the CPU has them.
fn paths() -> Vec<Isa> {
    Isa::all()
}

/// Values with every case the max must get right: NaN, both infinities, both zeros, ties.
fn awkward(len: usize, seed: u64) -> Vec<f32> {
    let special = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, 1.0];
    sample(len, seed)
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let pick = (i * 7 + seed as usize * 3) % 23;
            if pick < special.len() {
                special[pick]
            } else {
                v
            }
        })
        .collect()
}

/// The same bits, NaN matching any NaN.
#[track_caller]
fn assert_same(got: &[f32], want: &[f32], context: &str) {
    assert_eq!(got.len(), want.len(), "{context}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g.is_nan() && w.is_nan()) || g.to_bits() == w.to_bits(),
            "{context}: at {i}: got {g}, want {w}"
        );
    }
}

/// The same values, NaN matching any NaN and 0 matching -0: a max over the same window in
/// another order can keep the other zero of a tie.
#[track_caller]
fn assert_same_values(got: &[f32], want: &[f32], context: &str) {
    assert_eq!(got.len(), want.len(), "{context}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g.is_nan() && w.is_nan()) || g == w,
            "{context}: at {i}: got {g}, want {w}"
        );
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_vertical_pass_matches_the_scalar_one_bit_for_bit() {
    if !has_avx2() {
        return;
    }
    for width in 1..40 {
        for taps in 1..5 {
            let rows = awkward(width * taps, (width * 5 + taps) as u64);
            let mut want = vec![0.0; width];
            let mut got = vec![0.0; width];
            scalar::vertical::<true>(&rows, width, &mut want);
            // SAFETY: AVX2 and FMA were detected above.
            unsafe { avx2::vertical::<true>(&rows, width, &mut got) };
            assert_same(&got, &want, &format!("max, width {width}, {taps} rows"));
            let rows = sample(width * taps, width as u64)
                .into_raw_vec_and_offset()
                .0;
            scalar::vertical::<false>(&rows, width, &mut want);
            // SAFETY: as above.
            unsafe { avx2::vertical::<false>(&rows, width, &mut got) };
            assert_same(&got, &want, &format!("sum, width {width}, {taps} rows"));
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_horizontal_pass_matches_the_scalar_one_bit_for_bit() {
    if !has_avx2() {
        return;
    }
    // 3 and 2 wide at stride 2 and stride 1 have kernels of their own; the rest falls back.
    for (kernel, stride) in [
        (3, 2),
        (2, 2),
        (1, 1),
        (2, 1),
        (3, 1),
        (5, 1),
        (3, 3),
        (4, 2),
    ] {
        // One element past the last window, and the room `Separable::scratch` leaves past
        // that, in which a row of fewer than 8 outputs runs as one masked block.
        for (outputs, extra) in (1..40).flat_map(|n| [(n, 0), (n, super::SHORT_ROW_READS)]) {
            let len = (outputs - 1) * stride + kernel + 1 + extra;
            let padded = awkward(len, (outputs * 11 + kernel) as u64);
            let mut want = vec![0.0; outputs];
            let mut got = vec![0.0; outputs];
            scalar::horizontal::<true>(&padded, kernel, stride, None, &mut want);
            // SAFETY: AVX2 and FMA were detected above.
            unsafe { avx2::horizontal::<true>(&padded, kernel, stride, None, &mut got) };
            let context =
                format!("max, kernel {kernel}, stride {stride}, {outputs} outputs, +{extra}");
            assert_same(&got, &want, &context);
            let padded = sample(len, outputs as u64).into_raw_vec_and_offset().0;
            let scale = sample(outputs, kernel as u64).into_raw_vec_and_offset().0;
            let scale = Some(&scale[..]);
            scalar::horizontal::<false>(&padded, kernel, stride, scale, &mut want);
            // SAFETY: as above.
            unsafe { avx2::horizontal::<false>(&padded, kernel, stride, scale, &mut got) };
            let context =
                format!("scaled sum, kernel {kernel}, stride {stride}, {outputs} outputs");
            assert_same(&got, &want, &context);
        }
    }
}

#[test]
fn scalar_max_step_lets_nan_win_and_stick_as_pytorch() {
    let max = scalar::combine::<true>;
    assert!(max(1.0, f32::NAN).is_nan());
    assert!(max(f32::NAN, 1.0).is_nan());
    assert_eq!(max(f32::NEG_INFINITY, -3.0), -3.0);
    assert_eq!(max(2.0, 1.0), 2.0);
}

/// One pool's parameters along one axis, for the plane tests.
#[derive(Debug, Clone, Copy)]
struct Axis {
    input: usize,
    kernel: usize,
    stride: usize,
    pads: (usize, usize),
}

impl Axis {
    fn window(self) -> Window {
        Window::new(self.kernel)
            .stride(self.stride)
            .pads(self.pads.0, self.pads.1)
    }

    fn windows(self, ceil_mode: bool) -> Option<AxisWindows> {
        let output = pool_output(self.input, self.window(), ceil_mode).ok()?;
        Some(AxisWindows::sliding("test", self.input, output, self.window()).unwrap())
    }
}

/// Every undilated axis with a window up to 4, stride up to 3 and pads up to half the window,
/// on inputs of 1 to `max_input`.
fn axes(max_input: usize) -> Vec<Axis> {
    let mut axes = Vec::new();
    for input in 1..=max_input {
        for kernel in 1..=4 {
            for stride in 1..=3 {
                for begin in 0..=kernel / 2 {
                    for end in 0..=kernel / 2 {
                        axes.push(Axis {
                            input,
                            kernel,
                            stride,
                            pads: (begin, end),
                        });
                    }
                }
            }
        }
    }
    axes
}

/// Runs `reduction` over a plane on one path, and the reference kernel of `max.rs` or `avg.rs`.
fn both(
    rows: &AxisWindows,
    cols: &AxisWindows,
    width: Window,
    reduction: Reduction,
    isa: Isa,
    x: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let len = rows.output() * cols.output();
    let pool = Separable::new(rows, cols, width, reduction).on(isa);
    let mut got = vec![f32::NAN; len];
    pool.plane(&mut pool.scratch(), x, &mut got);
    let mut want = vec![f32::NAN; len];
    match reduction {
        Reduction::Max => max::max_plane(rows, cols, x, &mut want),
        Reduction::Mean(divisor) => avg::avg_plane(rows, cols, divisor, x, &mut want),
    }
    (got, want)
}

#[test]
fn separable_max_matches_the_window_by_window_kernel_on_both_paths() {
    let height = Axis {
        input: 5,
        kernel: 3,
        stride: 2,
        pads: (1, 1),
    };
    for isa in paths() {
        for width in axes(19) {
            for ceil_mode in [false, true] {
                let (Some(rows), Some(cols)) =
                    (height.windows(ceil_mode), width.windows(ceil_mode))
                else {
                    continue;
                };
                let x = awkward(height.input * width.input, width.input as u64);
                let (got, want) = both(&rows, &cols, width.window(), Reduction::Max, isa, &x);
                assert_same_values(
                    &got,
                    &want,
                    &format!("{isa:?}, {width:?}, ceil {ceil_mode}"),
                );
            }
        }
    }
}

#[test]
fn separable_average_matches_the_window_by_window_kernel_on_both_paths() {
    // Heights with edge rows of their own (padding, a ceil_mode window past the padding).
    let heights = [(6, 3, 2, (1, 1)), (5, 2, 2, (0, 1)), (4, 1, 1, (0, 0))].map(
        |(input, kernel, stride, pads)| Axis {
            input,
            kernel,
            stride,
            pads,
        },
    );
    let divisors = [Divisor::Padded, Divisor::Taps, Divisor::Fixed(3)];
    for isa in paths() {
        for axis in axes(13) {
            for height in heights {
                // Each axis as the width and as the height.
                for (rows_axis, cols_axis) in [(height, axis), (axis, height)] {
                    for ceil_mode in [false, true] {
                        let (Some(rows), Some(cols)) =
                            (rows_axis.windows(ceil_mode), cols_axis.windows(ceil_mode))
                        else {
                            continue;
                        };
                        let x = sample(rows_axis.input * cols_axis.input, axis.input as u64)
                            .into_raw_vec_and_offset()
                            .0;
                        for divisor in divisors {
                            let mean = Reduction::Mean(divisor);
                            let (got, want) = both(&rows, &cols, cols_axis.window(), mean, isa, &x);
                            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                                assert!(
                                    (g - w).abs() <= 1e-6 + 1e-6 * w.abs(),
                                    "{isa:?}, {rows_axis:?} x {cols_axis:?}, ceil \
                                     {ceil_mode}, {divisor:?}: at {i}: got {g}, want {w}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn resnet_max_pool_3x3_stride_2_keeps_nan_and_ignores_padding_on_both_paths() {
    // 4x20, kernel 3, stride 2, padding 1: 2x10 outputs, so the AVX2 path runs a full block
    // and an overlapping last one.
    let axis = |input| Axis {
        input,
        kernel: 3,
        stride: 2,
        pads: (1, 1),
    };
    let (rows, cols) = (
        axis(4).windows(false).unwrap(),
        axis(20).windows(false).unwrap(),
    );
    let mut x: Vec<f32> = (0..80).map(|i| -(i as f32)).collect();
    x[20 + 7] = f32::NAN; // row 1, column 7: windows 3 and 4 of output row 0 and 1
    for isa in paths() {
        let pool = Separable::new(&rows, &cols, axis(20).window(), Reduction::Max).on(isa);
        let mut y = vec![0.0; 20];
        pool.plane(&mut pool.scratch(), &x, &mut y);
        // Output (0, 0) covers rows 0..=1 and columns 0..=1 (the rest is padding): the max is
        // x[0] = 0.
        assert_eq!(y[0], 0.0);
        for (o, &v) in y.iter().enumerate() {
            assert_eq!(
                v.is_nan(),
                o % 10 == 3 || o % 10 == 4,
                "{isa:?}, output {o}: {v}"
            );
        }
        // Output (1, 9) covers rows 1..=3 and columns 17..=19; its max is x[20 + 17] = -37.
        assert_eq!(y[19], -37.0);
    }
}

/// Pools a plane on `isa`'s path.
fn pool_on(
    rows: &AxisWindows,
    cols: &AxisWindows,
    width: Window,
    reduction: Reduction,
    isa: Isa,
    x: &[f32],
) -> Vec<f32> {
    let pool = Separable::new(rows, cols, width, reduction).on(isa);
    let mut y = vec![f32::NAN; rows.output() * cols.output()];
    pool.plane(&mut pool.scratch(), x, &mut y);
    y
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx512_plane_matches_the_scalar_path_bit_for_bit() {
    let Some(avx512) = Isa::avx512() else {
        return;
    };
    // Widths of 1 to 40 columns (less than a block, one, several and a partial last one),
    // windows of 1 to 7 and one past the kernel's widest (17, which falls back), strides 1 to 3
    // (3 falls back), every padding up to half the window, both roundings.
    let heights = [(7, 3, 1, (1, 1)), (6, 2, 2, (0, 1)), (9, 5, 2, (2, 2))].map(
        |(input, kernel, stride, pads)| Axis {
            input,
            kernel,
            stride,
            pads,
        },
    );
    let mut checked = 0;
    for input in [1, 2, 5, 8, 13, 15, 16, 17, 28, 31, 33, 40] {
        for kernel in [1, 2, 3, 4, 5, 7, 17] {
            for stride in 1..=3 {
                for begin in 0..=kernel / 2 {
                    let end = (begin + 1).min(kernel / 2);
                    let axis = Axis {
                        input,
                        kernel,
                        stride,
                        pads: (begin, end),
                    };
                    for (height, ceil_mode) in heights.iter().zip([false, true, true]) {
                        let (Some(rows), Some(cols)) =
                            (height.windows(ceil_mode), axis.windows(ceil_mode))
                        else {
                            continue;
                        };
                        let seed = (input * 31 + kernel * 7 + stride) as u64;
                        let context = format!("{height:?} x {axis:?}, ceil {ceil_mode}");
                        let x = awkward(height.input * input, seed);
                        let want =
                            pool_on(&rows, &cols, axis.window(), Reduction::Max, Isa::Scalar, &x);
                        let got = pool_on(&rows, &cols, axis.window(), Reduction::Max, avx512, &x);
                        assert_same(&got, &want, &format!("max, {context}"));
                        let x = sample(height.input * input, seed)
                            .into_raw_vec_and_offset()
                            .0;
                        for divisor in [Divisor::Padded, Divisor::Taps, Divisor::Fixed(3)] {
                            let mean = Reduction::Mean(divisor);
                            let want = pool_on(&rows, &cols, axis.window(), mean, Isa::Scalar, &x);
                            let got = pool_on(&rows, &cols, axis.window(), mean, avx512, &x);
                            assert_same(&got, &want, &format!("{divisor:?}, {context}"));
                        }
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 500, "only {checked} shapes had an output");
}
