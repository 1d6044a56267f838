use ndarray::{Array1, Array4, ArrayView1, ArrayView4, array};

use stride_geometry::{GeometryError, Param};

use super::*;
use crate::Padding;
use crate::gemm::{PackB, StridedB, b_row_stride};
use crate::testing::{assert_close, sample};

/// Direct convolution, the definition written out in seven loops: explicit pads
/// `[top, bottom, left, right]`, and an output size found by counting the window positions that
/// fit in the padded input (not by the formula under test).
pub(super) fn direct(
    x: ArrayView4<f32>,
    w: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    stride: [usize; 2],
    pads: [usize; 4],
    dilation: [usize; 2],
    groups: usize,
) -> Array4<f32> {
    let (n, _, h, wd) = x.dim();
    let (cout, group_in, kh, kw) = w.dim();
    let positions = |size: usize, pad: usize, k: usize, s: usize, d: usize| {
        (0..)
            .take_while(|o| o * s + d * (k - 1) < size + pad)
            .count()
    };
    let oh = positions(h, pads[0] + pads[1], kh, stride[0], dilation[0]);
    let ow = positions(wd, pads[2] + pads[3], kw, stride[1], dilation[1]);
    let group_out = cout / groups;
    let mut y = Array4::zeros((n, cout, oh, ow));
    for s in 0..n {
        for co in 0..cout {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = bias.map_or(0.0, |b| f64::from(b[co]));
                    for ci in 0..group_in {
                        for ki in 0..kh {
                            for kj in 0..kw {
                                let iy =
                                    (oy * stride[0] + ki * dilation[0]) as isize - pads[0] as isize;
                                let ix =
                                    (ox * stride[1] + kj * dilation[1]) as isize - pads[2] as isize;
                                if (0..h as isize).contains(&iy) && (0..wd as isize).contains(&ix) {
                                    let c = co / group_out * group_in + ci;
                                    let v = x[[s, c, iy as usize, ix as usize]];
                                    acc += f64::from(v) * f64::from(w[[co, ci, ki, kj]]);
                                }
                            }
                        }
                    }
                    y[[s, co, oy, ox]] = acc as f32;
                }
            }
        }
    }
    y
}

// Values: hand-checked cases and the direct convolution.

#[test]
fn conv2d_with_asymmetric_padding_pads_each_side_as_asked() {
    // A 1x1 identity kernel shows where the pads went: one row on top, one column on the right.
    let x = array![[[[1.0f32, 2.0], [3.0, 4.0]]]];
    let w = Array4::ones((1, 1, 1, 1));
    let params = Conv2dParams::default().padding(Padding2d::asymmetric(1, 0, 0, 1));
    let y = conv2d(x.view(), w.view(), None, &params).unwrap();
    assert_eq!(
        y,
        array![[[[0.0, 0.0, 0.0], [1.0, 2.0, 0.0], [3.0, 4.0, 0.0]]]]
    );
}

#[test]
fn conv2d_with_asymmetric_padding_matches_direct_convolution() {
    let x = sample((2, 2, 3, 4), 1);
    let w = sample((3, 2, 2, 3), 2);
    let b = sample(3, 3);
    let params = Conv2dParams::default().padding(Padding2d::asymmetric(1, 0, 2, 1));
    let y = conv2d(x.view(), w.view(), Some(b.view()), &params).unwrap();
    // (3 + 1 + 0 - 2) + 1 = 3 rows, (4 + 2 + 1 - 3) + 1 = 5 columns.
    assert_eq!(y.shape(), &[2, 3, 3, 5]);
    let want = direct(
        x.view(),
        w.view(),
        Some(b.view()),
        [1, 1],
        [1, 0, 2, 1],
        [1, 1],
        1,
    );
    assert_close(&y, &want);
}

#[test]
fn conv2d_same_upper_with_stride_2_puts_the_odd_pad_after_the_input() {
    // 6 inputs, kernel 3, stride 2: ceil(6/2) = 3 outputs need (3-1)*2 + 3 - 6 = 1 pad, which
    // SAME_UPPER puts at the bottom and right, so only the last window reads padding.
    let x = Array4::ones((1, 1, 6, 6));
    let w = Array4::ones((1, 1, 3, 3));
    let params = Conv2dParams::default()
        .stride(2)
        .padding(Padding::SameUpper);
    let y = conv2d(x.view(), w.view(), None, &params).unwrap();
    let want = array![[[[9.0, 9.0, 6.0], [9.0, 9.0, 6.0], [6.0, 6.0, 4.0]]]];
    assert_eq!(y, want);

    let x = sample((1, 2, 6, 7), 4);
    let w = sample((3, 2, 3, 3), 5);
    let y = conv2d(x.view(), w.view(), None, &params).unwrap();
    // Width 7: ceil(7/2) = 4 outputs, (4-1)*2 + 3 - 7 = 2 pads, one each side.
    assert_eq!(y.shape(), &[1, 3, 3, 4]);
    let want = direct(x.view(), w.view(), None, [2, 2], [0, 1, 1, 1], [1, 1], 1);
    assert_close(&y, &want);
}

#[test]
fn conv2d_same_lower_with_stride_2_puts_the_odd_pad_before_the_input() {
    let x = Array4::ones((1, 1, 6, 6));
    let w = Array4::ones((1, 1, 3, 3));
    let params = Conv2dParams::default()
        .stride(2)
        .padding(Padding::SameLower);
    let y = conv2d(x.view(), w.view(), None, &params).unwrap();
    let want = array![[[[4.0, 6.0, 6.0], [6.0, 9.0, 9.0], [6.0, 9.0, 9.0]]]];
    assert_eq!(y, want);
}

#[test]
fn conv2d_same_with_an_even_kernel_keeps_the_size_and_pads_more_at_the_end() {
    // PyTorch's `same`: total D*(K-1) = 3, split 1 before and 2 after.
    let x = sample((1, 2, 5, 6), 6);
    let w = sample((2, 2, 4, 4), 7);
    let params = Conv2dParams::default().padding(Padding::Same);
    let y = conv2d(x.view(), w.view(), None, &params).unwrap();
    assert_eq!(y.shape(), &[1, 2, 5, 6]);
    let want = direct(x.view(), w.view(), None, [1, 1], [1, 2, 1, 2], [1, 1], 1);
    assert_close(&y, &want);
}

#[test]
fn conv2d_valid_padding_adds_no_pads() {
    let x = sample((1, 1, 5, 5), 8);
    let w = sample((1, 1, 3, 3), 9);
    let params = Conv2dParams::default().padding(Padding::Valid);
    let y = conv2d(x.view(), w.view(), None, &params).unwrap();
    assert_close(
        &y,
        &direct(x.view(), w.view(), None, [1, 1], [0; 4], [1, 1], 1),
    );
}

#[test]
fn depthwise_conv2d_matches_direct_convolution() {
    let x = sample((2, 4, 7, 6), 10);
    let w = sample((4, 1, 3, 3), 11);
    let b = sample(4, 12);
    let params = Conv2dParams::default().stride(2).padding(1).groups(4);
    let y = conv2d(x.view(), w.view(), Some(b.view()), &params).unwrap();
    assert_eq!(y.shape(), &[2, 4, 4, 3]);
    let want = direct(
        x.view(),
        w.view(),
        Some(b.view()),
        [2, 2],
        [1; 4],
        [1, 1],
        4,
    );
    assert_close(&y, &want);
}

#[test]
fn depthwise_conv2d_with_a_channel_multiplier_matches_direct_convolution() {
    // Two output channels per input channel.
    let x = sample((1, 3, 5, 5), 13);
    let w = sample((6, 1, 3, 3), 14);
    let params = Conv2dParams::default().padding(1).groups(3);
    let y = conv2d(x.view(), w.view(), None, &params).unwrap();
    let want = direct(x.view(), w.view(), None, [1, 1], [1; 4], [1, 1], 3);
    assert_close(&y, &want);
}

#[test]
fn dilated_conv2d_matches_direct_convolution() {
    let x = sample((1, 3, 9, 8), 15);
    let w = sample((2, 3, 3, 2), 16);
    let b = sample(2, 17);
    let params = Conv2dParams::default().padding((2, 1)).dilation((2, 3));
    let y = conv2d(x.view(), w.view(), Some(b.view()), &params).unwrap();
    // (9 + 4 - 2*2 - 1) + 1 = 9 rows, (8 + 2 - 3*1 - 1) + 1 = 7 columns.
    assert_eq!(y.shape(), &[1, 2, 9, 7]);
    let want = direct(
        x.view(),
        w.view(),
        Some(b.view()),
        [1, 1],
        [2, 2, 1, 1],
        [2, 3],
        1,
    );
    assert_close(&y, &want);
}

#[test]
fn grouped_strided_conv2d_matches_direct_convolution() {
    let x = sample((3, 4, 8, 7), 18);
    let w = sample((6, 2, 3, 2), 19);
    let b = sample(6, 20);
    let params = Conv2dParams::default()
        .stride((2, 3))
        .padding((1, 2))
        .dilation((1, 2))
        .groups(2);
    let y = conv2d(x.view(), w.view(), Some(b.view()), &params).unwrap();
    let want = direct(
        x.view(),
        w.view(),
        Some(b.view()),
        [2, 3],
        [1, 1, 2, 2],
        [1, 2],
        2,
    );
    assert_close(&y, &want);
}

#[test]
fn pointwise_conv2d_reads_the_input_as_the_unrolled_matrix() {
    let x = sample((2, 4, 3, 5), 21);
    let w = sample((6, 2, 1, 1), 22);
    let b = sample(6, 23);
    let params = Conv2dParams::default().groups(2);
    let y = conv2d(x.view(), w.view(), Some(b.view()), &params).unwrap();
    let want = direct(
        x.view(),
        w.view(),
        Some(b.view()),
        [1, 1],
        [0; 4],
        [1, 1],
        2,
    );
    assert_close(&y, &want);
}

#[test]
fn conv2d_with_padding_larger_than_the_kernel_reads_zeros() {
    let x = sample((1, 1, 2, 3), 24);
    let w = sample((2, 1, 2, 2), 25);
    let params = Conv2dParams::default().padding(4).stride(3);
    let y = conv2d(x.view(), w.view(), None, &params).unwrap();
    assert_close(
        &y,
        &direct(x.view(), w.view(), None, [3, 3], [4; 4], [1, 1], 1),
    );
}

#[test]
fn conv2d_accepts_non_contiguous_views() {
    let x = sample((1, 6, 5, 2), 26);
    let w = sample((3, 2, 2, 2), 27);
    let x_t = x.view().permuted_axes([0, 1, 3, 2]);
    let w_t = w.view().permuted_axes([0, 1, 3, 2]);
    let params = Conv2dParams::default().groups(3).padding(1);
    let y = conv2d(x_t, w_t, None, &params).unwrap();
    let want = direct(x_t, w_t, None, [1, 1], [1; 4], [1, 1], 3);
    assert_close(&y, &want);
}

#[test]
fn conv2d_layer_and_function_agree() {
    let x = sample((2, 3, 6, 6), 28);
    let w = sample((4, 3, 3, 3), 29);
    let b = sample(4, 30);
    let params = Conv2dParams::default()
        .stride(2)
        .padding(Padding::SameUpper);
    let layer = Conv2d::new(w.clone(), Some(b.clone()), params).unwrap();
    assert_eq!(layer.params(), &params);
    assert_eq!((layer.in_channels(), layer.out_channels()), (3, 4));
    assert_eq!(layer.weight(), w.view());
    assert_eq!(layer.bias(), Some(b.view()));
    let from_layer = layer.forward(x.view()).unwrap();
    let from_function = conv2d(x.view(), w.view(), Some(b.view()), &params).unwrap();
    assert_eq!(from_layer, from_function);
}

#[test]
fn conv2d_of_an_empty_batch_is_an_empty_batch() {
    let y = conv2d(
        Array4::zeros((0, 3, 8, 8)).view(),
        Array4::zeros((5, 3, 3, 3)).view(),
        None,
        &Conv2dParams::default(),
    )
    .unwrap();
    assert_eq!(y.shape(), &[0, 5, 6, 6]);
}

// The GEMM path: im2col packing, both kernels, the fused activation.

/// im2col's matrix `[Cin * kh * kw, OH * OW]` of a one-sample, one-group input, from the
/// definition: row `(c, ki, kj)`, column `(oy, ox)` holds the input pixel the tap meets, or 0.
fn unrolled(x: ArrayView4<f32>, g: &Geometry<Window>) -> Vec<f32> {
    let [wh, ww] = g.axes;
    let [oh, ow] = g.output;
    let mut b = Vec::new();
    for c in 0..g.group_in {
        for ki in 0..wh.kernel {
            for kj in 0..ww.kernel {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let iy =
                            (oy * wh.stride + ki * wh.dilation) as isize - wh.pad_begin as isize;
                        let ix =
                            (ox * ww.stride + kj * ww.dilation) as isize - ww.pad_begin as isize;
                        let inside = (0..g.input[0] as isize).contains(&iy)
                            && (0..g.input[1] as isize).contains(&ix);
                        b.push(if inside {
                            x[[0, c, iy as usize, ix as usize]]
                        } else {
                            0.0
                        });
                    }
                }
            }
        }
    }
    b
}

#[test]
fn im2col_packs_every_block_exactly_as_the_unrolled_matrix_would_be_packed() {
    let cases = [
        // (cin, h, w, kernel, params)
        (3, 7, 9, (3, 3), Conv2dParams::default().padding(1)),
        (
            2,
            8,
            8,
            (3, 3),
            Conv2dParams::default().stride(2).padding(1),
        ),
        (
            2,
            9,
            11,
            (2, 3),
            Conv2dParams::default()
                .stride((3, 2))
                .dilation((2, 2))
                .padding((2, 3)),
        ),
        (
            1,
            4,
            5,
            (2, 2),
            Conv2dParams::default().padding(4).stride(3),
        ),
        (
            2,
            20,
            21,
            (3, 3),
            Conv2dParams::default().padding(Padding2d::asymmetric(0, 2, 1, 0)),
        ),
        (1, 3, 40, (1, 7), Conv2dParams::default().padding((0, 3))),
        (
            2,
            9,
            70,
            (3, 7),
            Conv2dParams::default().stride(2).padding(3),
        ),
        // Rows of several vectors and a ragged one, with padding at both ends, at every
        // stride the AVX-512 packing has a form for (1, 2, and the gather's 3 and 4), the
        // stems' shapes among them: ResNet's 7x7/2, MobileNet's 3x3/2, ConvNeXt's 4x4/4.
        (
            3,
            11,
            61,
            (7, 7),
            Conv2dParams::default().stride(2).padding(3),
        ),
        (
            3,
            9,
            67,
            (3, 3),
            Conv2dParams::default().stride(2).padding(1),
        ),
        (3, 8, 72, (4, 4), Conv2dParams::default().stride(4)),
        (2, 8, 53, (5, 5), Conv2dParams::default().padding(2)),
        (
            2,
            9,
            47,
            (3, 3),
            Conv2dParams::default().padding(2).dilation(2),
        ),
        (
            2,
            10,
            50,
            (3, 3),
            Conv2dParams::default().stride(3).padding(1),
        ),
        (4, 6, 36, (2, 2), Conv2dParams::default().stride(2)),
        // Output rows narrower than a vector, so that 16 positions cross several of them (a
        // 7x7 map, a 14-wide stride-2 output, a 3-wide and a 1-wide one), and a map that
        // shrinks (no padding, so a row of the output is shorter than the input's).
        (3, 7, 7, (3, 3), Conv2dParams::default().padding(1)),
        (
            2,
            28,
            28,
            (3, 3),
            Conv2dParams::default().stride(2).padding(1),
        ),
        (
            2,
            9,
            9,
            (3, 3),
            Conv2dParams::default().stride(2).padding(1).dilation(2),
        ),
        (2, 5, 5, (5, 5), Conv2dParams::default().padding(2)),
        (2, 6, 3, (3, 3), Conv2dParams::default().padding(1)),
        (2, 11, 1, (3, 1), Conv2dParams::default().padding((1, 0))),
        (2, 12, 30, (3, 3), Conv2dParams::default()),
        (
            2,
            13,
            19,
            (3, 3),
            Conv2dParams::default().stride(2).dilation((1, 3)),
        ),
        (
            2,
            10,
            10,
            (3, 3),
            Conv2dParams::default().stride(3).padding(2),
        ),
        // Strided output rows at most half a vector wide, which AVX-512 gathers through a
        // grid of positions: ConvNeXt's 2x2/2 onto a 7-wide map, and a block of more columns
        // than one grid holds (150 rows of 8).
        (3, 14, 14, (2, 2), Conv2dParams::default().stride(2)),
        (
            2,
            300,
            15,
            (3, 3),
            Conv2dParams::default().stride(2).padding(1),
        ),
    ];
    for (seed, (cin, h, w, (kh, kw), params)) in cases.into_iter().enumerate() {
        let x = sample((1, cin, h, w), seed as u64);
        let g = Geometry::resolve(x.view(), (1, cin, kh, kw), &params).unwrap();
        let slice = x.as_slice().unwrap();
        let full = unrolled(x.view(), &g);
        for isa in Isa::all() {
            let source = im2col::Im2col::new(isa, &g, slice);
            let (k, n) = (source.k(), source.n());
            let reference = StridedB::row_major(&full, k, n);
            // Whole, from an offset in both directions, and single rows and columns.
            for (k0, kc, j0, nc) in [
                (0, k, 0, n),
                (1, k - 1, 5, n - 5),
                (k - 1, 1, n - 1, 1),
                (0, k.min(3), 3, (n - 3).min(37)),
                (k / 2, k - k / 2, n / 3, n - n / 3),
            ] {
                let ldb = b_row_stride(nc);
                // The same filler in both, for the gaps between rows that neither writes.
                let (mut got, mut want) = (vec![-7.0; kc * ldb], vec![-7.0; kc * ldb]);
                source.pack(k0, kc, j0, nc, &mut got, ldb);
                reference.pack(k0, kc, j0, nc, &mut want, ldb);
                assert_eq!(got, want, "case {seed}: rows {k0}+{kc}, columns {j0}+{nc}");
            }
        }
    }
}

#[test]
fn splitting_by_rows_over_a_shared_b_gives_what_splitting_by_columns_gives() {
    // Few columns for many rows, the shape that splits by rows: M = 70 (a ragged last
    // panel), K = 40 * 9 = 360 (two K blocks), N = 7 * 7; and a pointwise layer.
    let cases = [
        (
            (1, 40, 14, 14),
            (70, 40, 3, 3),
            Conv2dParams::default().stride(2).padding(1),
        ),
        ((1, 300, 5, 7), (50, 300, 1, 1), Conv2dParams::default()),
    ];
    let paths = Isa::all();
    for (seed, (input, weight, params)) in cases.into_iter().enumerate() {
        let x = sample(input, 70 + seed as u64);
        let w = sample(weight, 80 + seed as u64);
        let b = sample(weight.0, 90 + seed as u64);
        let g = Geometry::resolve(x.view(), w.dim(), &params).unwrap();
        let packed = im2col::pack_weights(w.as_slice().unwrap(), 1, weight.0);
        for &isa in &paths {
            let run = |split| {
                let mut y = Array4::from_elem(g.output_shape(), f32::NAN);
                im2col::conv2d_split(
                    isa,
                    &g,
                    x.as_slice().unwrap(),
                    &packed,
                    &relu(&b),
                    y.as_slice_mut().unwrap(),
                    Some(split),
                );
                y
            };
            let columns = run((1, false));
            for tasks in [2, 3, 4, 7, 20] {
                assert_eq!(run((tasks, true)), columns, "{isa:?}, {tasks} row tasks");
                assert_eq!(
                    run((tasks, false)),
                    columns,
                    "{isa:?}, {tasks} column tasks"
                );
            }
        }
    }
}

#[test]
fn conv2d_matches_direct_convolution_on_both_kernels_across_gemm_blocks() {
    // K = 30 * 9 = 270 spans two K blocks, N = 23 * 21 = 483 two N blocks, M = 13 a ragged
    // row panel; grouped and pointwise variants go through the same driver.
    let cases = [
        (
            (2, 30, 23, 21),
            (13, 30, 3, 3),
            Conv2dParams::default().padding(1),
            1,
        ),
        (
            (1, 8, 30, 30),
            (10, 4, 3, 3),
            Conv2dParams::default().stride(2).padding(1).groups(2),
            2,
        ),
        ((1, 300, 5, 7), (7, 300, 1, 1), Conv2dParams::default(), 1),
    ];
    let paths = Isa::all();
    for (seed, (input, weight, params, groups)) in cases.into_iter().enumerate() {
        let x = sample(input, 40 + seed as u64);
        let w = sample(weight, 50 + seed as u64);
        let b = sample(weight.0, 60 + seed as u64);
        let g = Geometry::resolve(x.view(), w.dim(), &params).unwrap();
        let pads = [0, 1].map(|axis| [g.axes[axis].pad_begin, g.axes[axis].pad_end]);
        let want = direct(
            x.view(),
            w.view(),
            Some(b.view()),
            params.stride.0,
            [pads[0][0], pads[0][1], pads[1][0], pads[1][1]],
            params.dilation.0,
            groups,
        );
        let want = Activation::Relu.map(want.view()).unwrap();
        let packed = im2col::pack_weights(w.as_slice().unwrap(), groups, weight.0 / groups);
        for &isa in &paths {
            let mut y = Array4::from_elem(g.output_shape(), f32::NAN);
            im2col::conv2d(
                isa,
                &g,
                x.as_slice().unwrap(),
                &packed,
                &relu(&b),
                y.as_slice_mut().unwrap(),
            );
            assert_close(&y, &want);
        }
    }
}

#[test]
fn conv2d_layer_with_an_activation_applies_it_to_every_output() {
    let x = sample((2, 3, 9, 10), 70);
    let w = sample((5, 3, 3, 3), 71);
    let b = sample(5, 72);
    let params = Conv2dParams::default().padding(1);
    let plain = direct(
        x.view(),
        w.view(),
        Some(b.view()),
        [1, 1],
        [1; 4],
        [1, 1],
        1,
    );
    let activations = [
        Activation::Identity,
        Activation::Relu,
        Activation::Relu6,
        Activation::LeakyRelu(0.2),
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Silu,
    ];
    for activation in activations {
        let layer = Conv2d::new(w.clone(), Some(b.clone()), params)
            .unwrap()
            .with_activation(activation);
        assert_eq!(layer.activation(), activation);
        assert_close(
            &layer.forward(x.view()).unwrap(),
            &activation.map(plain.view()).unwrap(),
        );
    }
}

// Refusals.

fn refusal(
    x: (usize, usize, usize, usize),
    w: (usize, usize, usize, usize),
    params: Conv2dParams,
) -> Error {
    conv2d(
        Array4::zeros(x).view(),
        Array4::zeros(w).view(),
        None,
        &params,
    )
    .unwrap_err()
}

#[test]
fn conv2d_refuses_input_with_wrong_channel_count() {
    let err = refusal(
        (1, 3, 8, 8),
        (4, 3, 3, 3),
        Conv2dParams::default().groups(2),
    );
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
        "conv2d: input has shape [1, 3, 8, 8], expected [N, 6, H, W]"
    );
}

#[test]
fn conv2d_refuses_bias_of_wrong_length() {
    let err = Conv2d::new(
        Array4::zeros((4, 3, 3, 3)),
        Some(Array1::zeros(5)),
        Conv2dParams::default(),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "conv2d: bias has shape [5], expected [4]");
}

#[test]
fn conv2d_refuses_empty_weight() {
    let err = refusal((1, 3, 8, 8), (4, 3, 0, 3), Conv2dParams::default());
    assert_eq!(
        err.to_string(),
        "conv2d: weight has shape [4, 3, 0, 3], expected [Cout, Cin/groups, kh, kw], each at least 1"
    );
}

#[test]
fn conv2d_refuses_groups_that_do_not_divide_output_channels() {
    let err = refusal(
        (1, 8, 8, 8),
        (6, 2, 3, 3),
        Conv2dParams::default().groups(4),
    );
    assert_eq!(
        err.to_string(),
        "conv2d: groups (4) must divide the output channels (6)"
    );
}

#[test]
fn conv2d_refuses_zero_groups() {
    let err = refusal(
        (1, 3, 8, 8),
        (4, 3, 3, 3),
        Conv2dParams::default().groups(0),
    );
    assert_eq!(err.to_string(), "conv2d: groups must be at least 1, got 0");
}

#[test]
fn conv2d_refuses_zero_stride_naming_the_axis() {
    let err = Conv2d::new(
        Array4::zeros((4, 3, 3, 3)),
        None,
        Conv2dParams::default().stride((1, 0)),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Geometry {
                axis: "width: ",
                source: GeometryError::Zero(Param::Stride),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "conv2d: width: stride must be at least 1, got 0"
    );
}

#[test]
fn conv2d_refuses_zero_dilation_naming_the_axis() {
    let err = refusal(
        (1, 3, 8, 8),
        (4, 3, 3, 3),
        Conv2dParams::default().dilation((0, 1)),
    );
    assert_eq!(
        err.to_string(),
        "conv2d: height: dilation must be at least 1, got 0"
    );
}

#[test]
fn conv2d_refuses_kernel_larger_than_padded_input() {
    let err = refusal((1, 1, 4, 10), (1, 1, 5, 5), Conv2dParams::default());
    assert!(
        matches!(
            err,
            Error::Geometry {
                axis: "height: ",
                source: GeometryError::ConvOutputBelowOne { output: 0, .. },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "conv2d: height: output size is 0: (4 + 2*0 - 1*(5-1) - 1) / 1 + 1 = 0; \
         the kernel (5) is larger than the padded input (4)"
    );
}

#[test]
fn conv2d_refuses_dilated_kernel_larger_than_padded_width() {
    let err = refusal(
        (1, 1, 10, 5),
        (1, 1, 3, 3),
        Conv2dParams::default().dilation(3),
    );
    assert_eq!(
        err.to_string(),
        "conv2d: width: output size is -1: (5 + 2*0 - 3*(3-1) - 1) / 1 + 1 = -1; \
         the effective kernel (7) is larger than the padded input (5)"
    );
}

#[test]
fn conv2d_refuses_same_padding_with_stride_above_one() {
    let params = Conv2dParams::default().stride(2).padding(Padding::Same);
    let err = Conv2d::new(Array4::zeros((4, 3, 3, 3)), None, params).unwrap_err();
    assert_eq!(
        err.to_string(),
        "conv2d: height: padding `same` needs stride 1, got 2; `same_upper` or `same_lower` \
         work with any stride"
    );
    let err = refusal((1, 3, 8, 8), (4, 3, 3, 3), params);
    assert!(matches!(
        err,
        Error::Geometry {
            source: GeometryError::SameWithStride { stride: 2 },
            ..
        }
    ));
}

#[test]
fn conv2d_refuses_an_empty_input_plane() {
    let err = refusal((1, 3, 8, 0), (4, 3, 1, 1), Conv2dParams::default());
    assert_eq!(
        err.to_string(),
        "conv2d: width: input size must be at least 1, got 0"
    );
}

#[test]
fn conv2d_refuses_an_output_too_large_to_index() {
    let params = Conv2dParams::default().padding(usize::MAX / 4);
    let err = refusal((1, 1, 1, 1), (1, 1, 1, 1), params);
    assert!(
        matches!(
            err,
            Error::TooLarge {
                tensor: "output",
                refused: false,
                ..
            }
        ),
        "{err}"
    );
}

// The choice of kernel.

#[test]
fn each_shape_class_picks_its_kernel_and_everything_else_im2col() {
    let class = |weight: (usize, usize, usize, usize), params: Conv2dParams| {
        Algorithm::for_layer(Isa::Scalar, weight, &params)
    };
    let p = Conv2dParams::default().padding(1);
    // Every depthwise layer: any kernel, stride and dilation, and a depth multiplier.
    for (weight, params) in [
        ((8, 1, 3, 3), p.groups(8)),
        ((8, 1, 3, 3), p.groups(8).stride((2, 1))),
        ((16, 1, 3, 3), p.groups(8)),          // a depth multiplier of 2
        ((8, 1, 3, 3), p.groups(8).stride(3)), // stride 3
        ((8, 1, 3, 3), p.groups(8).dilation(2)), // dilated
        ((8, 1, 5, 5), p.groups(8).stride(2)), // 5x5
        ((8, 1, 7, 7), p.groups(8).padding(3)), // 7x7
        ((8, 1, 1, 9), p.groups(8).padding((0, 4))), // 1x9
    ] {
        assert_eq!(
            class(weight, params),
            Algorithm::Depthwise,
            "{weight:?} {params:?}"
        );
    }
    // Every grouped layer with more than one input channel per group.
    for (weight, params) in [
        ((16, 8, 3, 3), p.groups(2)),
        ((64, 4, 3, 3), p.groups(32).stride(2)),
        ((8, 2, 1, 1), Conv2dParams::default().groups(4)),
        ((12, 3, 5, 5), p.groups(4).dilation(2)),
    ] {
        assert_eq!(
            class(weight, params),
            Algorithm::Grouped,
            "{weight:?} {params:?}"
        );
    }
    // One group of at most `FEW_CHANNELS` input channels: a stem, any kernel, stride and
    // padding, 3x3 stride 1 included (ahead of Winograd there), 1x1 only at a stride.
    for (weight, params) in [
        ((64, 3, 7, 7), p.padding(3).stride(2)), // ResNet's stem
        ((32, 3, 3, 3), p.stride(2)),            // MobileNet's
        ((96, 3, 4, 4), Conv2dParams::default().stride(4)), // ConvNeXt's patchify
        ((16, 1, 3, 3), p),                      // one input channel
        ((16, FEW_CHANNELS, 3, 3), p),           // the most, at 3x3 stride 1
        ((16, 4, 1, 1), Conv2dParams::default().stride(2)), // 1x1 at stride 2
        // Up to `DIRECT_CHANNELS` with a kernel wider than 1x1 that Winograd does not take.
        ((16, 16, 3, 3), p.stride(2)),              // strided
        ((16, 16, 3, 3), p.dilation(2)),            // dilated
        ((16, 16, 3, 1), p),                        // 3x1
        ((16, DIRECT_CHANNELS, 5, 5), p),           // the most, at 5x5
        ((16, DIRECT_CHANNELS, 7, 7), p.stride(2)), // and 7x7/2
    ] {
        assert_eq!(
            class(weight, params),
            Algorithm::Grouped,
            "{weight:?} {params:?}"
        );
    }
    assert_eq!(class((16, 16, 3, 3), p), Algorithm::Winograd);
    // On AVX2 the same one-group layers go to im2col, or Winograd at 3x3 stride 1 from
    // `winograd::MIN_CHANNELS`; grouped layers keep the direct kernel.
    if let Some(avx2) = Isa::avx2() {
        let on_avx2 = |weight, params: Conv2dParams| Algorithm::for_layer(avx2, weight, &params);
        assert_eq!(
            on_avx2((64, 3, 7, 7), p.padding(3).stride(2)),
            Algorithm::Im2col
        );
        assert_eq!(on_avx2((16, DIRECT_CHANNELS, 5, 5), p), Algorithm::Im2col);
        assert_eq!(on_avx2((16, FEW_CHANNELS, 3, 3), p), Algorithm::Winograd);
        assert_eq!(on_avx2((64, 4, 3, 3), p.groups(32)), Algorithm::Grouped);
        assert_eq!(on_avx2((8, 1, 3, 3), p.groups(8)), Algorithm::Depthwise);
    }
    // On AVX-512 the cut is `direct_channels`: `DIRECT_CHANNELS_HALVED` on Zen 4.
    if let Some(avx512) = Isa::avx512() {
        let on_avx512 =
            |weight, params: Conv2dParams| Algorithm::for_layer(avx512, weight, &params);
        let most = direct_channels(avx512);
        let want = if crate::simd::halved_zmm() {
            DIRECT_CHANNELS_HALVED
        } else {
            DIRECT_CHANNELS
        };
        assert_eq!(most, want);
        assert_eq!(on_avx512((16, most, 3, 3), p.stride(2)), Algorithm::Grouped);
        assert_eq!(
            on_avx512((16, most + 1, 3, 3), p.stride(2)),
            Algorithm::Im2col
        );
    }
    assert_eq!(
        class((16, 16, 3, 3), p.padding(Padding::Same)),
        Algorithm::Winograd
    );
    for (weight, params) in [
        ((16, DIRECT_CHANNELS + 1, 3, 3), p.stride(2)), // strided, past the direct kernel's
        ((16, DIRECT_CHANNELS + 1, 3, 3), p.dilation(2)), // dilated, the same
        ((16, DIRECT_CHANNELS + 1, 5, 5), p),           // 5x5, the same
        ((16, 16, 1, 1), Conv2dParams::default().stride(2)), // 1x1 at a stride past the few
        ((16, 16, 1, 1), Conv2dParams::default()),      // pointwise
        ((16, 4, 1, 1), Conv2dParams::default()),       // pointwise of few channels: no windows
        ((16, 4, 1, 1), p),                             // the same, padded
    ] {
        assert_eq!(
            class(weight, params),
            Algorithm::Im2col,
            "{weight:?} {params:?}"
        );
    }
}

#[test]
fn a_depthwise_layer_runs_the_direct_kernel_and_agrees_with_im2col_on_the_same_weights() {
    let x = sample((2, 6, 13, 11), 80);
    let w = sample((6, 1, 3, 3), 81);
    let b = sample(6, 82);
    for stride in [1, 2] {
        let params = Conv2dParams::default().padding(1).groups(6).stride(stride);
        let layer = Conv2d::new(w.clone(), Some(b.clone()), params)
            .unwrap()
            .with_activation(Activation::Relu6);
        assert_eq!(layer.algorithm, Algorithm::Depthwise);
        let im2col = layer.clone().with_algorithm(Algorithm::Im2col);
        let want = direct(
            x.view(),
            w.view(),
            Some(b.view()),
            [stride; 2],
            [1; 4],
            [1, 1],
            6,
        );
        let want = Activation::Relu6.map(want.view()).unwrap();
        assert_close(&layer.forward(x.view()).unwrap(), &want);
        assert_close(&im2col.forward(x.view()).unwrap(), &want);
    }
}

#[test]
fn depthwise_layers_of_every_kernel_stride_and_padding_agree_with_im2col_on_the_same_weights() {
    // Rectangular kernels, strides 1 to 3, dilation, asymmetric pads and a depth multiplier,
    // through the layer (its weight as the layer holds it, its fused activation).
    let mut cases = 0;
    for (kernel, stride, dilation, multiplier) in [
        ([5, 5], [2, 2], [1, 1], 1),
        ([7, 7], [1, 1], [1, 1], 1),
        ([3, 5], [1, 2], [1, 1], 2),
        ([1, 7], [3, 1], [1, 1], 1),
        ([3, 3], [1, 1], [2, 2], 3),
        ([4, 2], [3, 3], [2, 1], 1),
    ] {
        for pads in [[0, 0, 0, 0], [1, 2, 3, 0], [3, 3, 3, 3]] {
            let (channels, cout) = (4, 4 * multiplier);
            let x = sample((2, channels, 17, 43), 90 + cases);
            let w = sample((cout, 1, kernel[0], kernel[1]), 91 + cases);
            let b = sample(cout, 92 + cases);
            let params = Conv2dParams::default()
                .stride((stride[0], stride[1]))
                .dilation((dilation[0], dilation[1]))
                .padding(Padding2d::asymmetric(pads[0], pads[1], pads[2], pads[3]))
                .groups(channels);
            let layer = Conv2d::new(w.clone(), Some(b.clone()), params)
                .unwrap()
                .with_activation(Activation::Silu);
            assert_eq!(layer.algorithm, Algorithm::Depthwise);
            let im2col = layer.clone().with_algorithm(Algorithm::Im2col);
            let want = direct(
                x.view(),
                w.view(),
                Some(b.view()),
                stride,
                pads,
                dilation,
                channels,
            );
            let want = Activation::Silu.map(want.view()).unwrap();
            let got = layer.forward(x.view()).unwrap();
            assert_close(&got, &want);
            assert_close(&im2col.forward(x.view()).unwrap(), &got);
            cases += 1;
        }
    }
}

#[test]
fn a_1x1_layer_on_a_1x1_input_is_a_matrix_product_and_matches_the_definition() {
    // Squeeze-excitation's layers: [N, C, 1, 1] in, a few samples, with and without bias and
    // activation; batches past gemv::MAX_BATCH and a padded window take the GEMM instead.
    let mut gemv_cases = 0;
    for (cin, cout) in [(1, 1), (7, 3), (96, 24), (24, 96), (1152, 48)] {
        for batch in 1..=gemv::MAX_BATCH + 1 {
            for (params, pads) in [
                (Conv2dParams::default(), [0; 4]),
                (
                    Conv2dParams::default()
                        .stride(2)
                        .padding(Padding2d::asymmetric(1, 0, 1, 0)),
                    [1, 0, 1, 0],
                ),
            ] {
                let seed = (cin * 100 + cout * 10 + batch) as u64;
                let x = sample((batch, cin, 1, 1), seed);
                let w = sample((cout, cin, 1, 1), seed + 1);
                let b = sample(cout, seed + 2);
                let layer = Conv2d::new(w.clone(), Some(b.clone()), params)
                    .unwrap()
                    .with_activation(Activation::Silu);
                let geometry = layer.layer.resolve(x.view()).unwrap();
                let chosen = layer.algorithm.for_input(&geometry, x.view());
                let stride = [params.stride.0[0]; 2];
                let want_plain =
                    direct(x.view(), w.view(), Some(b.view()), stride, pads, [1; 2], 1);
                let want = Activation::Silu.map(want_plain.view()).unwrap();
                let got = layer.forward(x.view()).unwrap();
                assert_eq!(got.dim(), want.dim());
                assert_close(&got, &want);
                let plain = conv2d(x.view(), w.view(), Some(b.view()), &params).unwrap();
                assert_close(&plain, &want_plain);
                if chosen == Algorithm::Gemv {
                    gemv_cases += 1;
                    assert!(batch <= gemv::MAX_BATCH && pads == [0; 4]);
                }
            }
        }
    }
    assert_eq!(gemv_cases, 5 * gemv::MAX_BATCH);
}

#[test]
fn adding_a_residual_as_the_tiles_are_written_gives_the_separate_add() {
    // Every kernel class: the GEMM adds in its epilogue, the others after.
    let cases = [
        ((1, 64, 14, 14), (128, 64, 1, 1), Conv2dParams::default()),
        (
            (2, 32, 9, 9),
            (48, 32, 3, 3),
            Conv2dParams::default().padding(1),
        ),
        (
            (1, 16, 12, 12),
            (24, 16, 3, 3),
            Conv2dParams::default().stride(2).padding(1),
        ),
        (
            (1, 8, 10, 10),
            (8, 1, 5, 5),
            Conv2dParams::default().padding(2).groups(8),
        ),
        ((3, 40, 1, 1), (12, 40, 1, 1), Conv2dParams::default()),
    ];
    for (i, (input, weight, params)) in cases.into_iter().enumerate() {
        let x = sample(input, 10 + i as u64);
        let layer = Conv2d::new(
            sample(weight, 20 + i as u64),
            Some(sample(weight.0, 30)),
            params,
        )
        .unwrap();
        let y = layer.forward(x.view()).unwrap();
        let residual = sample(y.dim(), 40 + i as u64);
        for activation in [Activation::Identity, Activation::Relu, Activation::Silu] {
            let mut want = &y + &residual;
            activation.apply_in_place(want.view_mut());
            let got = layer
                .forward_add_into(x.view(), residual.clone(), activation)
                .unwrap();
            assert_close(&got, &want);
        }
        let wrong = Array4::zeros((1, 1, 1, 1));
        let err = layer
            .forward_add_into(x.view(), wrong, Activation::Relu)
            .unwrap_err();
        assert!(err.to_string().contains("residual"), "{err}");
    }
    let with_own = Conv2d::new(sample((4, 3, 1, 1), 1), None, Conv2dParams::default())
        .unwrap()
        .with_activation(Activation::Relu);
    let x = sample((1, 3, 2, 2), 2);
    assert!(
        with_own
            .forward_add_into(x.view(), sample((1, 4, 2, 2), 3), Activation::Relu)
            .is_err()
    );
}

/// The epilogue of a layer with `bias` and ReLU.
fn relu(bias: &Array1<f32>) -> crate::gemm::Epilogue<'_> {
    crate::gemm::Epilogue {
        bias: Some(bias.as_slice().unwrap()),
        activation: Activation::Relu,
        accumulate: false,
    }
}

// Few input channels: one group through the direct kernel.

/// A one-group layer of few input channels: batch, input and output channels, input size,
/// kernel, stride, dilation and `[top, bottom, left, right]` pads.
#[derive(Debug, Clone, Copy)]
struct Stem {
    batch: usize,
    cin: usize,
    cout: usize,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pads: [usize; 4],
}

impl Stem {
    fn params(&self) -> Conv2dParams {
        let [t, b, l, r] = self.pads;
        Conv2dParams::default()
            .stride(self.stride)
            .dilation(self.dilation)
            .padding(Padding2d::asymmetric(t, b, l, r))
    }

    /// The input, weight and bias of seed `seed`.
    fn tensors(&self, seed: u64) -> (Array4<f32>, Array4<f32>, Array1<f32>) {
        let [h, w] = self.input;
        let [kh, kw] = self.kernel;
        let x = sample((self.batch, self.cin, h, w), seed);
        let weight = sample((self.cout, self.cin, kh, kw), seed + 1);
        (x, weight, sample(self.cout, seed + 2))
    }

    /// The direct kernel on `isa`, cut into `tasks` tasks, with `activation`.
    fn run(
        &self,
        isa: Isa,
        (x, weight, bias): (&Array4<f32>, &Array4<f32>, &Array1<f32>),
        activation: Activation,
        tasks: usize,
    ) -> Array4<f32> {
        let geometry = Geometry::resolve(x.view(), weight.dim(), &self.params()).unwrap();
        let weights = grouped::Weights::new(weight.as_slice().unwrap(), 1, self.cout);
        let mut y = Array4::from_elem(geometry.output_shape(), f32::NAN);
        let epilogue = Epilogue::finish(bias.as_slice(), activation);
        let (xs, ys) = (x.as_slice().unwrap(), y.as_slice_mut().unwrap());
        let wide = grouped::wide::takes(isa, &geometry);
        grouped::conv2d_split(isa, &geometry, xs, &weights, &epilogue, ys, tasks, wide);
        y
    }

    /// Every instruction set against the definition, with every activation the epilogue
    /// takes, and the same bits whatever the cut into tasks.
    fn check(&self, seed: u64) {
        assert_eq!(
            Algorithm::for_layer(
                Isa::Scalar,
                (self.cout, self.cin, self.kernel[0], self.kernel[1]),
                &self.params()
            ),
            Algorithm::Grouped,
            "{self:?}"
        );
        let tensors = self.tensors(seed);
        let (x, weight, bias) = &tensors;
        let sum = direct(
            x.view(),
            weight.view(),
            Some(bias.view()),
            self.stride,
            self.pads,
            self.dilation,
            1,
        );
        for isa in Isa::all() {
            for activation in crate::testing::EVERY_ACTIVATION {
                let got = self.run(isa, (x, weight, bias), activation, 1);
                for ((index, &g), &s) in got.indexed_iter().zip(&sum) {
                    let w = activation.apply(s);
                    assert!(
                        (g - w).abs() <= 2e-4 + 2e-4 * w.abs(),
                        "{self:?} {activation:?} {isa:?}: at {index:?}: got {g}, want {w}"
                    );
                }
            }
            let one = self.run(isa, (x, weight, bias), Activation::Relu, 1);
            for tasks in [2, 3, 8] {
                let cut = self.run(isa, (x, weight, bias), Activation::Relu, tasks);
                let same = one
                    .iter()
                    .zip(&cut)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{self:?} {isa:?}: {tasks} tasks changed the bits");
            }
        }
    }
}

impl Stem {
    /// One sample of `cin` square planes of `size`, a square `k` kernel at stride `s`,
    /// padding `p` on every side, no dilation.
    fn square(cin: usize, cout: usize, size: usize, k: usize, s: usize, p: usize) -> Stem {
        Stem {
            batch: 1,
            cin,
            cout,
            input: [size, size],
            kernel: [k, k],
            stride: [s, s],
            dilation: [1, 1],
            pads: [p; 4],
        }
    }
}

#[test]
fn few_channel_convolutions_match_the_definition_at_the_zoos_stems_scaled_down() {
    let stem = Stem::square;
    for (i, case) in [
        stem(3, 64, 37, 7, 2, 3),            // ResNet, GoogLeNet
        stem(3, 32, 33, 3, 2, 1),            // MobileNetV2, EfficientNet
        stem(3, 16, 30, 3, 2, 1),            // MobileNetV3
        stem(3, 96, 36, 4, 4, 0),            // ConvNeXt's patchify
        stem(3, 24, 20, 3, 1, 1),            // an ordinary 3x3 on an image
        stem(1, 32, 19, 5, 1, 2),            // one channel
        stem(4, 64, 29, 7, 2, 3),            // four channels
        stem(FEW_CHANNELS, 20, 17, 3, 1, 1), // the most, 20 outputs: a last tile of 4 rows
        Stem {
            batch: 3,
            input: [26, 33],
            ..stem(3, 24, 0, 3, 2, 1)
        },
    ]
    .into_iter()
    .enumerate()
    {
        case.check(500 + 10 * i as u64);
    }
}

#[test]
fn direct_convolutions_up_to_direct_channels_match_the_definition() {
    let case = Stem::square;
    for (i, case) in [
        case(16, 32, 20, 5, 1, 2), // GoogLeNet's 5x5 branch, scaled down
        case(32, 24, 23, 3, 2, 1), // 3x3/2
        case(24, 40, 19, 5, 2, 2), // 5x5/2
        case(DIRECT_CHANNELS, 20, 15, 5, 1, 2), // the most, at 5x5
        case(DIRECT_CHANNELS, 9, 17, 7, 2, 3), // and 7x7/2
        Stem {
            dilation: [2, 2],
            batch: 2,
            ..case(40, 33, 21, 3, 1, 2) // dilated
        },
    ]
    .into_iter()
    .enumerate()
    {
        let weight = (case.cout, case.cin, case.kernel[0], case.kernel[1]);
        let params = Conv2dParams::default()
            .stride(case.stride[0])
            .dilation(case.dilation[0]);
        assert_eq!(
            Algorithm::for_layer(Isa::Scalar, weight, &params),
            Algorithm::Grouped
        );
        case.check(1500 + 10 * i as u64);
    }
}

#[test]
fn few_channel_convolutions_match_the_definition_on_random_shapes() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut checked = 0;
    for seed in 0..60 {
        let kernel = [1 + next(7), 1 + next(7)];
        let dilation = [1 + next(3), 1 + next(3)];
        let stride = [1 + next(5), 1 + next(5)];
        let pads = [next(4), next(4), next(4), next(4)];
        let input = [1 + next(24), 1 + next(40)];
        let fits = (0..2)
            .all(|a| input[a] + pads[2 * a] + pads[2 * a + 1] > dilation[a] * (kernel[a] - 1));
        if !fits {
            continue;
        }
        let case = Stem {
            batch: 1 + next(3),
            cin: 1 + next(FEW_CHANNELS),
            cout: 1 + next(40),
            input,
            kernel,
            stride,
            dilation,
            pads,
        };
        case.check(700 + seed);
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} random shapes fitted");
}

#[test]
fn a_few_channel_layer_agrees_with_im2col_forward_and_with_a_residual() {
    let x = sample((2, 3, 23, 31), 900);
    let params = Conv2dParams::default().stride(2).padding(3);
    // The direct kernel as AVX-512 and the portable path choose it (AVX2 takes im2col).
    let layer = Conv2d::new(sample((40, 3, 7, 7), 901), Some(sample(40, 902)), params)
        .unwrap()
        .with_algorithm(Algorithm::Grouped);
    let im2col = layer.clone().with_algorithm(Algorithm::Im2col);
    let relu = |l: &Conv2d| l.clone().with_activation(Activation::Relu);
    let got = relu(&layer).forward(x.view()).unwrap();
    assert_close(&got, &relu(&im2col).forward(x.view()).unwrap());
    let residual = sample(got.raw_dim(), 903);
    let got = layer
        .forward_add_into(x.view(), residual.clone(), Activation::Hardswish)
        .unwrap();
    let want = im2col
        .forward_add_into(x.view(), residual, Activation::Hardswish)
        .unwrap();
    assert_close(&got, &want);
}
