//! Transposed convolution as GEMM + col2im: for each sample and each group, the group's weight
//! `[Cin/g, Cout/g * kh * kw]`, transposed, multiplies the input planes `[Cin/g, H * W]` into a
//! `[Cout/g * kh * kw, H * W]` matrix (row `(c, ki, kj)` holds what every input pixel sends
//! through that tap), which is then scatter-added into the output: input `(iy, ix)` reaches
//! output `(iy*S + ki*D - P, ix*S + kj*D - P)` when that lies inside it.
//!
//! The matrix is one buffer the size of one group of one sample, reused.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};
use stride_geometry::TransposedAxis;

use super::Geometry;
use crate::ops::taps::Taps;

/// Writes the transposed convolution of `x` with `weight`, plus `bias`, into `y`, all
/// contiguous and sized by `g`: `x` NCHW, `weight` `[Cin, Cout/groups, kh, kw]`, `bias`
/// `[Cout]`, `y` `[N, Cout, OH, OW]` and zero on entry.
pub(super) fn conv_transpose2d(
    g: &Geometry,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
) {
    debug_assert_eq!(x.len(), g.input_len());
    debug_assert_eq!(weight.len(), g.weight_len());
    debug_assert_eq!(y.len(), g.output_len());
    debug_assert!(bias.is_none_or(|b| b.len() == g.groups * g.group_out));

    let plane_in = g.input[0] * g.input[1];
    let plane_out = g.output[0] * g.output[1];
    let patch = g.patch_len();
    debug_assert!(plane_in > 0 && plane_out > 0 && patch > 0);

    if let Some(bias) = bias {
        for sample in y.chunks_exact_mut(bias.len() * plane_out) {
            for (plane, &b) in sample.chunks_exact_mut(plane_out).zip(bias) {
                plane.fill(b);
            }
        }
    }

    let mut columns = vec![0.0; patch * plane_in];
    let samples_in = x.chunks_exact(g.groups * g.group_in * plane_in);
    let samples_out = y.chunks_exact_mut(g.groups * g.group_out * plane_out);
    for (x_n, y_n) in samples_in.zip(samples_out) {
        let groups_in = x_n.chunks_exact(g.group_in * plane_in);
        let groups_out = y_n.chunks_exact_mut(g.group_out * plane_out);
        let weights = weight.chunks_exact(g.group_in * patch);
        for ((x_g, y_g), w_g) in groups_in.zip(groups_out).zip(weights) {
            let w_g = matrix(g.group_in, patch, w_g);
            let x_g = matrix(g.group_in, plane_in, x_g);
            let mut c = ArrayViewMut2::from_shape((patch, plane_in), &mut columns[..])
                .expect("the geometry sizes the buffer");
            general_mat_mul(1.0, &w_g.t(), &x_g, 0.0, &mut c);
            scatter(g, &columns, y_g);
        }
    }
}

/// A row-major `[rows, cols]` view of `data`.
fn matrix(rows: usize, cols: usize, data: &[f32]) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((rows, cols), data).expect("the geometry sizes every slice")
}

/// Adds the `[Cout/g * kh * kw, H * W]` matrix into the `Cout/g` output planes of one group of
/// one sample.
fn scatter(g: &Geometry, columns: &[f32], y_g: &mut [f32]) {
    let [axis_h, axis_w] = g.axes;
    let [h, w] = g.input;
    let [oh, ow] = g.output;
    // The inputs whose tap `k` lands inside an output axis of `size`.
    let taps = |axis: TransposedAxis, k: usize, inputs: usize, size: usize| {
        let (stride, dilation, pad) = (axis.stride, axis.dilation, axis.padding);
        Taps::new(inputs, stride, k, dilation, pad, size)
    };
    let strides = [axis_h.stride, axis_w.stride];
    let mut rows = columns.chunks_exact(h * w);
    for plane in y_g.chunks_exact_mut(oh * ow) {
        for ki in 0..axis_h.kernel {
            let ys = taps(axis_h, ki, h, oh);
            for kj in 0..axis_w.kernel {
                let xs = taps(axis_w, kj, w, ow);
                let row = rows.next().expect("the matrix has a row per tap");
                scatter_tap(plane, row, [w, ow], strides, &ys, &xs);
            }
        }
    }
    debug_assert!(rows.next().is_none());
}

/// Adds one row of the matrix, one tap into one plane: input `(iy, ix)` in `ys` × `xs` goes to
/// output `(ys.first + (iy - ys.start) * stride_h, xs.first + (ix - xs.start) * stride_w)`.
fn scatter_tap(
    plane: &mut [f32],
    row: &[f32],
    [width, ow]: [usize; 2],
    [stride_h, stride_w]: [usize; 2],
    ys: &Taps,
    xs: &Taps,
) {
    let (start, end) = (xs.indices.start, xs.indices.end);
    for (step, iy) in ys.indices.clone().enumerate() {
        let oy = ys.first + step * stride_h;
        let out = plane[oy * ow..][..ow][xs.first..]
            .iter_mut()
            .step_by(stride_w);
        for (o, &v) in out.zip(&row[iy * width..][start..end]) {
            *o += v;
        }
    }
}
