use ndarray::{Array1, Array4, ArrayView1, ArrayView4, array, s};

use super::*;
use crate::ops::testing::{assert_close, sample};
use crate::ops::{Conv2dParams, conv2d};

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
        "conv_transpose2d: height: output size is -1: (1 - 1)*1 - 2*2 + 1*(3-1) + 0 + 1 = -1"
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
