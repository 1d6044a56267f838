use ndarray::{Array1, Array4, ArrayView1, ArrayView4, array, s};
use stride_geometry::{GeometryError, Param};

use super::*;
use crate::gemm::PackB;
use crate::ops::{Conv2dParams, conv2d};
use crate::testing::{assert_close, sample};

/// Direct transposed convolution, the definition written out: every input pixel adds
/// `value * kernel` into the output at `(iy*S + ki*D - P, ix*S + kj*D - P)`, dropping what
/// lands outside. `output` is the size the test expects, computed by hand.
#[allow(clippy::too_many_arguments)]
fn direct(
    x: ArrayView4<f32>,
    w: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
    output: [usize; 2],
) -> Array4<f32> {
    let (n, cin, h, wd) = x.dim();
    let (_, group_out, kh, kw) = w.dim();
    let group_in = cin / groups;
    let mut y = Array4::<f64>::zeros((n, group_out * groups, output[0], output[1]));
    if let Some(b) = bias {
        for (co, &b) in b.iter().enumerate() {
            y.slice_mut(s![.., co, .., ..]).fill(f64::from(b));
        }
    }
    for s in 0..n {
        for ci in 0..cin {
            for iy in 0..h {
                for ix in 0..wd {
                    for co in 0..group_out {
                        for ki in 0..kh {
                            for kj in 0..kw {
                                let oy = (iy * stride[0] + ki * dilation[0]) as isize
                                    - padding[0] as isize;
                                let ox = (ix * stride[1] + kj * dilation[1]) as isize
                                    - padding[1] as isize;
                                if (0..output[0] as isize).contains(&oy)
                                    && (0..output[1] as isize).contains(&ox)
                                {
                                    let c = ci / group_in * group_out + co;
                                    let v = f64::from(x[[s, ci, iy, ix]]);
                                    y[[s, c, oy as usize, ox as usize]] +=
                                        v * f64::from(w[[ci, co, ki, kj]]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    y.mapv(|v| v as f32)
}

// Values: hand-checked cases, the direct definition, and the adjoint of conv2d.

#[test]
fn conv_transpose2d_crops_padding_and_adds_output_padding_at_the_end() {
    // Each pixel paints a 3x3 block of its value at stride 2 into a 5x5 canvas:
    //   1 1 3 2 2
    //   1 1 3 2 2
    //   4 4 10 6 6
    //   3 3 7 4 4
    //   3 3 7 4 4
    // padding 1 crops one row and column from each end (3x3), output_padding 1 gives back
    // the last row and column (4x4).
    let x = array![[[[1.0f32, 2.0], [3.0, 4.0]]]];
    let w = Array4::ones((1, 1, 3, 3));
    let params = ConvTranspose2dParams::default()
        .stride(2)
        .padding(1)
        .output_padding(1);
    let y = conv_transpose2d(x.view(), w.view(), None, &params).unwrap();
    let want = array![[[
        [1.0, 3.0, 2.0, 2.0],
        [4.0, 10.0, 6.0, 6.0],
        [3.0, 7.0, 4.0, 4.0],
        [3.0, 7.0, 4.0, 4.0]
    ]]];
    assert_eq!(y, want);
}

#[test]
fn conv_transpose2d_with_stride_padding_and_output_padding_matches_direct() {
    let x = sample((2, 3, 4, 5), 1);
    let w = sample((3, 2, 3, 4), 2);
    let b = sample(2, 3);
    let params = ConvTranspose2dParams::default()
        .stride((2, 3))
        .padding((1, 2))
        .output_padding((1, 2));
    let y = conv_transpose2d(x.view(), w.view(), Some(b.view()), &params).unwrap();
    // (4-1)*2 - 2 + 2 + 1 + 1 = 8 rows, (5-1)*3 - 4 + 3 + 2 + 1 = 14 columns.
    let want = direct(
        x.view(),
        w.view(),
        Some(b.view()),
        [2, 3],
        [1, 2],
        [1, 1],
        1,
        [8, 14],
    );
    assert_close(&y, &want);
}

#[test]
fn dilated_grouped_conv_transpose2d_matches_direct() {
    let x = sample((2, 4, 3, 3), 4);
    let w = sample((4, 3, 2, 3), 5);
    let b = sample(6, 6);
    let params = ConvTranspose2dParams::default()
        .stride(2)
        .padding((0, 1))
        .dilation((3, 2))
        .output_padding((2, 0))
        .groups(2);
    let y = conv_transpose2d(x.view(), w.view(), Some(b.view()), &params).unwrap();
    // (3-1)*2 - 0 + 3*1 + 2 + 1 = 10 rows, (3-1)*2 - 2 + 2*2 + 0 + 1 = 7 columns.
    let want = direct(
        x.view(),
        w.view(),
        Some(b.view()),
        [2, 2],
        [0, 1],
        [3, 2],
        2,
        [10, 7],
    );
    assert_close(&y, &want);
}

#[test]
fn depthwise_conv_transpose2d_matches_direct() {
    let x = sample((1, 3, 4, 4), 7);
    let w = sample((3, 1, 4, 4), 8);
    let params = ConvTranspose2dParams::default()
        .stride(2)
        .padding(1)
        .groups(3);
    let y = conv_transpose2d(x.view(), w.view(), None, &params).unwrap();
    assert_eq!(y.shape(), &[1, 3, 8, 8]);
    let want = direct(x.view(), w.view(), None, [2, 2], [1, 1], [1, 1], 3, [8, 8]);
    assert_close(&y, &want);
}

#[test]
fn conv_transpose2d_is_the_adjoint_of_conv2d() {
    // <conv2d(x, w), z> = <x, conv_transpose2d(z, w)> for the same weight tensor and
    // parameters, with output_padding choosing conv2d's input size.
    let x = sample((2, 4, 9, 8), 9);
    let w = sample((6, 2, 3, 2), 10);
    let conv = Conv2dParams::default()
        .stride((2, 3))
        .padding((1, 2))
        .dilation((2, 1))
        .groups(2);
    let y = conv2d(x.view(), w.view(), None, &conv).unwrap();
    let z = sample(y.raw_dim(), 11);
    // conv2d: (9 + 2 - 4 - 1)/2 + 1 = 4 rows, floor((8 + 4 - 1 - 1)/3) + 1 = 4 columns; back:
    // (4-1)*2 - 2 + 4 + 1 = 9 rows with output_padding 1, (4-1)*3 - 4 + 1 + 1 = 7, so 1 more.
    let transposed = ConvTranspose2dParams::default()
        .stride((2, 3))
        .padding((1, 2))
        .dilation((2, 1))
        .output_padding((0, 1))
        .groups(2);
    let back = conv_transpose2d(z.view(), w.view(), None, &transposed).unwrap();
    assert_eq!(back.shape(), x.shape());
    let lhs: f64 = y
        .iter()
        .zip(&z)
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum();
    let rhs: f64 = x
        .iter()
        .zip(&back)
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum();
    assert!(
        (lhs - rhs).abs() <= 1e-4 * lhs.abs().max(1.0),
        "{lhs} vs {rhs}"
    );
}

#[test]
fn conv_transpose2d_accepts_non_contiguous_views() {
    let x = sample((1, 2, 3, 4), 12);
    let w = sample((2, 3, 2, 2), 13);
    let x_t = x.view().permuted_axes([0, 1, 3, 2]);
    let params = ConvTranspose2dParams::default().stride(2);
    let y = conv_transpose2d(x_t, w.view(), None, &params).unwrap();
    let want = direct(x_t, w.view(), None, [2, 2], [0, 0], [1, 1], 1, [8, 6]);
    assert_close(&y, &want);
}

#[test]
fn conv_transpose2d_layer_and_function_agree() {
    let x = sample((2, 4, 3, 3), 14);
    let w = sample((4, 2, 4, 4), 15);
    let b = sample(4, 16);
    let params = ConvTranspose2dParams::default()
        .stride(2)
        .padding(1)
        .groups(2);
    let layer = ConvTranspose2d::new(w.clone(), Some(b.clone()), params).unwrap();
    assert_eq!(layer.params(), &params);
    assert_eq!((layer.in_channels(), layer.out_channels()), (4, 4));
    assert_eq!(layer.weight(), w.view());
    assert_eq!(layer.bias(), Some(b.view()));
    let from_function = conv_transpose2d(x.view(), w.view(), Some(b.view()), &params).unwrap();
    assert_eq!(layer.forward(x.view()).unwrap(), from_function);
}

// Refusals.

fn refusal(
    x: (usize, usize, usize, usize),
    w: (usize, usize, usize, usize),
    params: ConvTranspose2dParams,
) -> Error {
    conv_transpose2d(
        Array4::zeros(x).view(),
        Array4::zeros(w).view(),
        None,
        &params,
    )
    .unwrap_err()
}

#[test]
fn conv_transpose2d_refuses_input_with_wrong_channel_count() {
    let err = refusal((1, 8, 4, 4), (16, 4, 4, 4), Default::default());
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
    assert_eq!(
        err.to_string(),
        "conv_transpose2d: input has shape [1, 8, 4, 4], expected [N, 16, H, W]"
    );
}

#[test]
fn conv_transpose2d_refuses_bias_of_wrong_length() {
    // Cout is Cout/groups * groups = 3 * 2.
    let params = ConvTranspose2dParams::default().groups(2);
    let err = ConvTranspose2d::new(Array4::zeros((4, 3, 2, 2)), Some(Array1::zeros(3)), params)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "conv_transpose2d: bias has shape [3], expected [6]"
    );
}

#[test]
fn conv_transpose2d_refuses_empty_weight() {
    let err = refusal((1, 0, 4, 4), (0, 4, 4, 4), Default::default());
    assert_eq!(
        err.to_string(),
        "conv_transpose2d: weight has shape [0, 4, 4, 4], expected [Cin, Cout/groups, kh, kw], \
         each at least 1"
    );
}

#[test]
fn conv_transpose2d_refuses_groups_that_do_not_divide_input_channels() {
    let err = refusal(
        (1, 4, 4, 4),
        (4, 2, 3, 3),
        ConvTranspose2dParams::default().groups(3),
    );
    assert_eq!(
        err.to_string(),
        "conv_transpose2d: groups (3) must divide the input channels (4)"
    );
}

#[test]
fn conv_transpose2d_refuses_zero_groups() {
    let err = refusal(
        (1, 4, 4, 4),
        (4, 2, 3, 3),
        ConvTranspose2dParams::default().groups(0),
    );
    assert_eq!(
        err.to_string(),
        "conv_transpose2d: groups must be at least 1, got 0"
    );
}

#[test]
fn conv_transpose2d_refuses_zero_stride_and_dilation_naming_the_axis() {
    let params = ConvTranspose2dParams::default().stride((0, 1));
    let err = ConvTranspose2d::new(Array4::zeros((4, 2, 3, 3)), None, params).unwrap_err();
    assert_eq!(
        err.to_string(),
        "conv_transpose2d: height: stride must be at least 1, got 0"
    );
    let params = ConvTranspose2dParams::default().dilation((1, 0));
    let err = refusal((1, 4, 4, 4), (4, 2, 3, 3), params);
    assert!(
        matches!(
            err,
            Error::Geometry {
                axis: "width: ",
                source: GeometryError::Zero(Param::Dilation),
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn conv_transpose2d_refuses_output_padding_not_below_stride_or_dilation() {
    let params = ConvTranspose2dParams::default()
        .stride(2)
        .output_padding((1, 2));
    let err = ConvTranspose2d::new(Array4::zeros((4, 2, 3, 3)), None, params).unwrap_err();
    assert_eq!(
        err.to_string(),
        "conv_transpose2d: width: output_padding (2) must be smaller than the stride (2) or the \
         dilation (1)"
    );
    // Smaller than the dilation is enough, as in PyTorch.
    let params = ConvTranspose2dParams::default()
        .dilation(3)
        .output_padding(2);
    assert!(ConvTranspose2d::new(Array4::zeros((4, 2, 3, 3)), None, params).is_ok());
}

#[test]
fn conv_transpose2d_refuses_padding_that_crops_the_whole_output() {
    let err = refusal(
        (1, 4, 1, 5),
        (4, 2, 3, 3),
        ConvTranspose2dParams::default().padding(2),
    );
    assert!(
        matches!(
            err,
            Error::Geometry {
                axis: "height: ",
                source: GeometryError::TransposedOutputBelowOne { output: -1, .. },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "conv_transpose2d: height: output size is -1: (1 - 1)*1 - 2*2 + 1*(3-1) + 0 + 1 = -1; the padding removes more than the layer produces"
    );
}

#[test]
fn conv_transpose2d_refuses_an_empty_input_plane() {
    let err = refusal((1, 4, 0, 4), (4, 2, 3, 3), Default::default());
    assert_eq!(
        err.to_string(),
        "conv_transpose2d: height: input size must be at least 1, got 0"
    );
}

// The sub-pixel kernel, against the direct definition and the col2im kernel, on both
// GEMM micro-kernels.

/// The micro-kernels this machine can run: the portable one always, the AVX2 and AVX-512
/// ones if the CPU has them. Passed to the kernel directly, so the test does not touch
/// `simd`'s global choice.
fn paths() -> Vec<Isa> {
    Isa::all()
}

/// `x` through the sub-pixel kernel with `kernel`, whatever the stride, into an output that
/// starts as NaN so that an element the kernel forgets shows.
fn sub_pixel(
    x: ArrayView4<f32>,
    w: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    params: &ConvTranspose2dParams,
    activation: Activation,
    isa: Isa,
) -> Array4<f32> {
    let geometry = Geometry::resolve(x, w.dim(), params).unwrap();
    let (_, _, kh, kw) = w.dim();
    let axes = [params.axis(0, kh), params.axis(1, kw)];
    let w = w.as_standard_layout();
    let weights = subpixel::pack_weights(w.as_slice().unwrap(), w.dim(), params.groups, axes);
    let x = x.as_standard_layout();
    let mut y = Array4::from_elem(geometry.output_shape(), f32::NAN);
    subpixel::conv_transpose2d(
        isa,
        &geometry,
        x.as_slice().unwrap(),
        &weights,
        bias.map(|b| b.to_slice().unwrap()),
        activation,
        y.as_slice_mut().unwrap(),
        false,
    );
    y
}

/// `x` through the GEMM + col2im kernel, whatever the stride.
fn col2im_path(
    x: ArrayView4<f32>,
    w: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    params: &ConvTranspose2dParams,
) -> Array4<f32> {
    let geometry = Geometry::resolve(x, w.dim(), params).unwrap();
    let packed = col2im::pack_weights(
        w.as_slice().unwrap(),
        params.groups,
        w.dim().0 / params.groups,
    );
    let mut y = Array4::zeros(geometry.output_shape());
    col2im::conv_transpose2d(
        "test",
        &geometry,
        x.as_slice().unwrap(),
        &packed,
        bias.map(|b| b.to_slice().unwrap()),
        y.as_slice_mut().unwrap(),
    )
    .unwrap();
    y
}

#[test]
fn sub_pixel_matches_direct_and_col2im_over_kernels_strides_paddings_dilations_and_groups() {
    let activations = [
        Activation::Identity,
        Activation::Relu,
        Activation::LeakyRelu(0.1),
        Activation::Sigmoid,
    ];
    let mut cases = 0;
    for kh in 1..=5 {
        for sh in 1..=3 {
            for dh in 1..=2 {
                for groups in 1..=2 {
                    // The width axis pairs each height axis with another kernel, stride,
                    // dilation and padding, so the two axes differ in most cases.
                    let (kw, sw, dw) = ((kh * 2) % 5 + 1, sh % 3 + 1, 3 - dh);
                    let (ph, pw) = ((kh + sh + groups) % 3, (kw + dh) % 3);
                    let oph = (kh + groups) % sh.max(dh);
                    let opw = (kw + sh) % sw.max(dw);
                    let (h, w) = (3 + kh % 3, 6 - kw % 2);
                    let params = ConvTranspose2dParams::default()
                        .stride((sh, sw))
                        .padding((ph, pw))
                        .output_padding((oph, opw))
                        .dilation((dh, dw))
                        .groups(groups);
                    let seed = (kh * 100 + sh * 10 + dh) as u64 * 3 + groups as u64;
                    let x = sample((2, 2 * groups, h, w), seed);
                    let wt = sample((2 * groups, 3, kh, kw), seed + 1);
                    let b = sample(3 * groups, seed + 2);
                    let Ok(geometry) = Geometry::resolve(x.view(), wt.dim(), &params) else {
                        continue; // the padding crops the whole output
                    };
                    cases += 1;
                    let want = direct(
                        x.view(),
                        wt.view(),
                        Some(b.view()),
                        [sh, sw],
                        [ph, pw],
                        [dh, dw],
                        groups,
                        geometry.output,
                    );
                    let col2im = col2im_path(x.view(), wt.view(), Some(b.view()), &params);
                    assert_close(&col2im, &want);
                    let activation = activations[cases % activations.len()];
                    let want = activation.map(want.view()).unwrap();
                    for isa in paths() {
                        let got = sub_pixel(
                            x.view(),
                            wt.view(),
                            Some(b.view()),
                            &params,
                            activation,
                            isa,
                        );
                        assert_close(&got, &want);
                    }
                }
            }
        }
    }
    assert!(cases >= 50, "only {cases} shapes had an output");
}

#[test]
fn sub_pixel_phases_without_taps_get_the_activated_bias() {
    // Kernel 2 at stride 3: output rows 2 and 5 and columns 2, 5 and 8 meet no tap.
    let x = sample((2, 2, 3, 4), 20);
    let w = sample((2, 3, 2, 2), 21);
    let b = sample(3, 22);
    let params = ConvTranspose2dParams::default().stride(3);
    let want = direct(
        x.view(),
        w.view(),
        Some(b.view()),
        [3, 3],
        [0, 0],
        [1, 1],
        1,
        [8, 11],
    );
    for isa in paths() {
        let y = sub_pixel(
            x.view(),
            w.view(),
            Some(b.view()),
            &params,
            Activation::Tanh,
            isa,
        );
        assert_close(&y, &Activation::Tanh.map(want.view()).unwrap());
        for c in 0..3 {
            assert_eq!(y[[1, c, 2, 5]], b[c].tanh());
            assert_eq!(y[[0, c, 5, 0]], b[c].tanh());
        }
    }
}

/// A kernel run directly on one path, as [`sub_pixel`] and [`shuffled`] do.
type Kernel = fn(
    ArrayView4<f32>,
    ArrayView4<f32>,
    Option<ArrayView1<f32>>,
    &ConvTranspose2dParams,
    Activation,
    Isa,
) -> Array4<f32>;

/// Checks that the layer of `w`, `b` and `params` gives `want` on one thread and the same
/// bits on two, and that `kernel` gives `want` on every path.
fn splits_agree(
    x: ArrayView4<f32>,
    w: Array4<f32>,
    b: Array1<f32>,
    params: ConvTranspose2dParams,
    want: &Array4<f32>,
    kernel: Kernel,
) {
    let layer = ConvTranspose2d::new(w.clone(), Some(b.clone()), params).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| layer.forward(x).unwrap())
    };
    let one = run(1);
    assert_close(&one, want);
    assert_eq!(run(2), one);
    for isa in paths() {
        let y = kernel(
            x,
            w.view(),
            Some(b.view()),
            &params,
            Activation::Identity,
            isa,
        );
        assert_close(&y, want);
    }
}

#[test]
fn sub_pixel_splits_a_large_layer_into_row_blocks_and_threads_without_changing_a_value() {
    // 16 output channels of 150-pixel rows: a scratch block holds 13 rows, so each phase's
    // 75 rows run as several blocks and a short last one; and enough work for the tasks to
    // go to the threads.
    let macs = 2 * 75 * 75 * 16 * 4 * 4;
    assert!(2 * macs >= crate::gemm::parallel_flops());
    let x = sample((1, 2, 75, 75), 23);
    let w = sample((2, 16, 4, 4), 24);
    let b = sample(16, 25);
    let params = ConvTranspose2dParams::default().stride(2).padding(1);
    let want = direct(
        x.view(),
        w.view(),
        Some(b.view()),
        [2, 2],
        [1, 1],
        [1, 1],
        1,
        [150, 150],
    );
    splits_agree(x.view(), w, b, params, &want, sub_pixel);
}

#[test]
fn phase_b_packs_any_block_as_its_definition_with_phase_rows_as_wide_as_input_rows_or_not() {
    // Two channels of a 4x5 input; the phase's taps look one row up, in place and two rows
    // down, and one column left, in place and two right, so every block meets padding. Phase
    // rows 5 wide take the one-copy path, 4 and 7 wide the segment by segment one; on every path.
    let x = sample((2, 4, 5), 26).into_raw_vec_and_offset().0;
    let (offsets_h, offsets_w) = ([-1isize, 0, 2], [-1isize, 0, 2]);
    let shapes = [(5, 4), (5, 6), (4, 3), (7, 5)];
    for (isa, (width, height)) in paths().into_iter().flat_map(|i| shapes.map(|s| (i, s))) {
        let b = subpixel::PhaseB {
            isa,
            x: &x,
            channels: 2,
            input: [4, 5],
            offsets: [&offsets_h, &offsets_w],
            width,
            height,
        };
        let (k, n) = (b.k(), b.n());
        assert_eq!((k, n), (18, width * height));
        let value = |p: usize, col: usize| {
            let (c, tap) = (p / 9, p % 9);
            let iy = (col / width) as isize + offsets_h[tap / 3];
            let ix = (col % width) as isize + offsets_w[tap % 3];
            if (0..4).contains(&iy) && (0..5).contains(&ix) {
                x[c * 20 + iy as usize * 5 + ix as usize]
            } else {
                0.0
            }
        };
        let blocks = [
            (0, k, 0, n),
            (3, 5, 7, n - 9),
            (k - 1, 1, n - 1, 1),
            (0, 9, 1, n - 3),
        ];
        for (k0, kc, j0, nc) in blocks {
            let stride = crate::gemm::b_row_stride(nc);
            let mut dst = vec![f32::NAN; kc * stride];
            b.pack(k0, kc, j0, nc, &mut dst, stride);
            for p in 0..kc {
                let row = &dst[p * stride..][..nc.div_ceil(crate::gemm::NR) * crate::gemm::NR];
                for (j, &v) in row.iter().enumerate() {
                    let want = if j < nc { value(k0 + p, j0 + j) } else { 0.0 };
                    assert_eq!(
                        v,
                        want,
                        "{width}x{height}: row {} column {}",
                        k0 + p,
                        j0 + j
                    );
                }
            }
        }
    }
}

#[test]
fn strided_layers_with_over_a_quarter_as_many_outputs_and_few_phases_take_the_sub_pixel_kernel() {
    let params = ConvTranspose2dParams::default();
    // [Cin, Cout/groups, kh, kw]
    let (suite, to_rgb, grouped) = ((128, 64, 4, 4), (64, 3, 4, 4), (64, 5, 4, 4));
    assert_eq!(Method::choose(&params, suite), Method::Col2im);
    assert_eq!(
        Method::choose(&params.stride((1, 2)), suite),
        Method::SubPixel
    );
    assert_eq!(Method::choose(&params.stride(3), suite), Method::SubPixel);
    assert_eq!(Method::choose(&params.stride(2), to_rgb), Method::Col2im);
    assert_eq!(
        Method::choose(&params.stride(2), (64, 16, 4, 4)),
        Method::Col2im
    );
    assert_eq!(
        Method::choose(&params.stride(2), (64, 17, 4, 4)),
        Method::SubPixel
    );
    // Per group: 16 input channels to 5 outputs.
    assert_eq!(Method::choose(&params.stride(2), grouped), Method::Col2im);
    assert_eq!(
        Method::choose(&params.stride(2).groups(4), grouped),
        Method::SubPixel
    );
    // Strides far above any upsampling layer's: sub-pixel's phases follow the kernel.
    assert_eq!(Method::choose(&params.stride(257), suite), Method::SubPixel);
    assert_eq!(
        Method::choose(&params.stride(usize::MAX), suite),
        Method::SubPixel
    );
}

#[test]
fn sub_pixel_packs_each_weight_once_whatever_the_stride() {
    // 256 depthwise filters of 1x1 and a 3x2 kernel: stride 256 used to pack 65,536
    // matrices per group (659 MB for 256 weights); the phases are now the residues the taps
    // feed, at most the kernel's.
    for (shape, groups) in [((256, 1, 1, 1), 256), ((4, 6, 3, 2), 2)] {
        let w = sample(shape, 40);
        for stride in [1, 2, 3, 256, 4096, 1 << 31, usize::MAX] {
            for dilation in [1, 2] {
                let params = ConvTranspose2dParams::default()
                    .stride(stride)
                    .dilation(dilation)
                    .groups(groups);
                let (_, _, kh, kw) = shape;
                let axes = [params.axis(0, kh), params.axis(1, kw)];
                let packed = subpixel::pack_weights(w.as_slice().unwrap(), shape, groups, axes);
                assert_eq!(
                    packed.values(),
                    w.len(),
                    "stride {stride}, dilation {dilation}"
                );
            }
        }
    }
}

#[test]
fn sub_pixel_matches_direct_at_strides_beyond_the_kernel_and_the_output() {
    // Strides of 5 and 7 on a 3x2 kernel (tapless residues on both axes, filled with the
    // bias), of 2 with dilation 2 (the taps all land on one residue), and of 2^20 on an input
    // one row high (every residue past the kernel's is off the output).
    let cases = [
        ((5, 7), (1, 1), (1, 0), 3),
        ((2, 2), (2, 2), (0, 1), 3),
        ((1 << 20, 3), (1, 3), (0, 0), 1),
    ];
    for (stride, dilation, padding, height) in cases {
        let params = ConvTranspose2dParams::default()
            .stride(stride)
            .dilation(dilation)
            .padding(padding);
        let x = sample((2, 4, height, 2), 41);
        let w = sample((4, 3, 3, 2), 42);
        let b = sample(3, 43);
        let geometry = Geometry::resolve(x.view(), w.dim(), &params).unwrap();
        let want = direct(
            x.view(),
            w.view(),
            Some(b.view()),
            [stride.0, stride.1],
            [padding.0, padding.1],
            [dilation.0, dilation.1],
            1,
            geometry.output,
        );
        for isa in paths() {
            let got = sub_pixel(
                x.view(),
                w.view(),
                Some(b.view()),
                &params,
                Activation::Relu,
                isa,
            );
            assert_close(&got, &Activation::Relu.map(want.view()).unwrap());
        }
        let layer = ConvTranspose2d::new(w.clone(), Some(b.clone()), params).unwrap();
        assert_close(&layer.forward(x.view()).unwrap(), &want);
    }
}

#[test]
fn col2im_runs_a_matrix_larger_than_its_block_a_few_input_rows_at_a_time() {
    // Cout * kh * kw = 2 * 64 * 64 rows of the matrix, 40 input columns a row: 327,680
    // values a row, so a block of 12 of the 30 input rows, and a short last block.
    let params = ConvTranspose2dParams::default().padding(3).dilation(2);
    let x = sample((1, 3, 30, 40), 44);
    let w = sample((3, 2, 64, 64), 45);
    let b = sample(2, 46);
    let geometry = Geometry::resolve(x.view(), w.dim(), &params).unwrap();
    let want = direct(
        x.view(),
        w.view(),
        Some(b.view()),
        [1, 1],
        [3, 3],
        [2, 2],
        1,
        geometry.output,
    );
    assert_close(
        &col2im_path(x.view(), w.view(), Some(b.view()), &params),
        &want,
    );
}

#[test]
fn conv_transpose2d_layer_applies_its_activation_on_either_kernel() {
    // Stride 1 and stride 2 with few outputs run col2im; stride 2 with more, sub-pixel.
    let cases = [
        (1, (4, 3, 3, 3), Method::Col2im),
        (2, (4, 3, 3, 3), Method::SubPixel),
        (2, (16, 2, 3, 3), Method::Col2im),
    ];
    for (stride, shape, method) in cases {
        let params = ConvTranspose2dParams::default().stride(stride).padding(1);
        assert_eq!(Method::choose(&params, shape), method);
        let x = sample((2, shape.0, 5, 3), 27);
        let w = sample(shape, 28);
        let b = sample(shape.1, 29);
        let plain = ConvTranspose2d::new(w.clone(), Some(b.clone()), params).unwrap();
        let leaky = plain.clone().with_activation(Activation::LeakyRelu(0.2));
        assert_eq!(leaky.activation(), Activation::LeakyRelu(0.2));
        let want = Activation::LeakyRelu(0.2)
            .map(plain.forward(x.view()).unwrap().view())
            .unwrap();
        assert_close(&leaky.forward(x.view()).unwrap(), &want);
    }
}

#[test]
fn sub_pixel_handles_padding_wider_than_the_kernel_reach() {
    // Padding 7 crops more than a dilated 3-tap kernel spans (5), so whole phases' taps
    // start past the input's first rows and columns.
    let x = sample((2, 2, 6, 7), 30);
    let w = sample((2, 3, 3, 3), 31);
    let b = sample(3, 32);
    let params = ConvTranspose2dParams::default()
        .stride((3, 2))
        .padding(7)
        .dilation(2)
        .output_padding((1, 0));
    // (6-1)*3 - 14 + 2*2 + 1 + 1 = 7 rows, (7-1)*2 - 14 + 4 + 0 + 1 = 3 columns.
    let want = direct(
        x.view(),
        w.view(),
        Some(b.view()),
        [3, 2],
        [7, 7],
        [2, 2],
        1,
        [7, 3],
    );
    for isa in paths() {
        let y = sub_pixel(
            x.view(),
            w.view(),
            Some(b.view()),
            &params,
            Activation::Identity,
            isa,
        );
        assert_close(&y, &want);
    }
}

/// `x` through the pixel-shuffle kernel, into an output that starts as NaN so that an
/// element the kernel forgets shows.
fn shuffled(
    x: ArrayView4<f32>,
    w: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    params: &ConvTranspose2dParams,
    activation: Activation,
    isa: Isa,
) -> Array4<f32> {
    let geometry = Geometry::resolve(x, w.dim(), params).unwrap();
    assert!(shuffle::tiles(&geometry.axes));
    let w = w.as_standard_layout();
    let group_in = w.dim().0 / params.groups;
    let packed = col2im::pack_weights(w.as_slice().unwrap(), params.groups, group_in);
    let x = x.as_standard_layout();
    let mut y = Array4::from_elem(geometry.output_shape(), f32::NAN);
    shuffle::conv_transpose2d(
        isa,
        &geometry,
        x.as_slice().unwrap(),
        &packed,
        bias.map(|b| b.to_slice().unwrap()),
        activation,
        y.as_slice_mut().unwrap(),
    );
    y
}

#[test]
fn shuffle_matches_direct_over_tiling_kernels_groups_batches_and_activations() {
    let activations = [
        Activation::Identity,
        Activation::Relu,
        Activation::Relu6,
        Activation::Sigmoid,
    ];
    let mut cases = 0;
    for kh in 1..=3 {
        for kw in [1, 2, 4] {
            for groups in 1..=3 {
                for (h, w) in [(1, 1), (3, 5), (7, 2)] {
                    let params = ConvTranspose2dParams::default()
                        .stride((kh, kw))
                        .groups(groups);
                    let seed = (kh * 100 + kw * 10 + groups) as u64 * 7 + h as u64;
                    let x = sample((2, 2 * groups, h, w), seed);
                    let wt = sample((2 * groups, 3, kh, kw), seed + 1);
                    let b = sample(3 * groups, seed + 2);
                    let output = [h * kh, w * kw];
                    let activation = activations[cases % activations.len()];
                    cases += 1;
                    for bias in [Some(b.view()), None] {
                        let stride = [kh, kw];
                        let plain = direct(
                            x.view(),
                            wt.view(),
                            bias,
                            stride,
                            [0, 0],
                            [1, 1],
                            groups,
                            output,
                        );
                        let want = activation.map(plain.view()).unwrap();
                        for isa in paths() {
                            let got = shuffled(x.view(), wt.view(), bias, &params, activation, isa);
                            assert_close(&got, &want);
                        }
                    }
                }
            }
        }
    }
    assert_eq!(cases, 81);
}

#[test]
fn shuffle_splits_blocks_across_input_rows_and_threads_without_changing_a_value() {
    // 64 output channels of a 2x2 kernel: 256 rows of `C`, so a block holds 256 pixels, and
    // the 37x41 input's 1517 pixels run as 6 blocks that start inside input rows, the last
    // one short; and enough work for the tasks to go to the threads.
    let x = sample((2, 24, 37, 41), 50);
    let w = sample((24, 64, 2, 2), 51);
    let b = sample(64, 52);
    assert!(2 * 256 * 24 * 37 * 41 >= crate::gemm::parallel_flops());
    let params = ConvTranspose2dParams::default().stride(2);
    assert_eq!(Method::choose(&params, w.dim()), Method::Shuffle);
    let want = direct(
        x.view(),
        w.view(),
        Some(b.view()),
        [2, 2],
        [0, 0],
        [1, 1],
        1,
        [74, 82],
    );
    splits_agree(x.view(), w, b, params, &want, shuffled);
}

#[test]
fn kernels_that_tile_the_output_take_the_shuffle_and_no_other_layer_does() {
    let params = ConvTranspose2dParams::default();
    // [Cin, Cout/groups, kh, kw]: U-Net's decoder, DCGAN's last layer, a 1x1 at stride 1.
    let unet = (256, 128, 2, 2);
    assert_eq!(Method::choose(&params.stride(2), unet), Method::Shuffle);
    assert_eq!(
        Method::choose(&params.stride(2), (64, 3, 2, 2)),
        Method::Shuffle
    );
    assert_eq!(Method::choose(&params, (64, 3, 1, 1)), Method::Shuffle);
    assert_eq!(
        Method::choose(&params.stride((2, 3)), (8, 8, 2, 3)),
        Method::Shuffle
    );
    assert_eq!(
        Method::choose(&params.stride(2).groups(4), unet),
        Method::Shuffle
    );
    // Padding, output padding or dilation: some output is reached by no tap or is cropped.
    let strided = params.stride(2);
    for other in [
        strided.padding((0, 1)),
        strided.output_padding((1, 0)),
        strided.dilation((1, 2)),
        params.stride((2, 1)),
    ] {
        assert_ne!(Method::choose(&other, unet), Method::Shuffle, "{other:?}");
    }
}
