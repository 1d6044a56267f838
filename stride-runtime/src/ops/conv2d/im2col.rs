//! Convolution as im2col + GEMM: for each sample and each group, the input patches are unrolled
//! into a `[Cin/g * kh * kw, OH * OW]` matrix (row `(c, ki, kj)` holds, for every output
//! position, the input pixel that tap meets, or 0 in the padding), and the group's weight rows
//! `[Cout/g, Cin/g * kh * kw]` multiply it into the output planes with ndarray's GEMM.
//!
//! The unrolled matrix is one buffer the size of one group of one sample, reused. A 1x1 kernel
//! with stride 1 and no padding skips it: the input planes already are that matrix.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};
use stride_geometry::Window;

use super::Geometry;
use crate::ops::taps::Taps;

/// Writes `x ⋆ weight + bias` into `y`, all contiguous and sized by `g`: `x` NCHW, `weight`
/// `[Cout, Cin/groups, kh, kw]`, `bias` `[Cout]`, `y` `[N, Cout, OH, OW]`.
pub(super) fn conv2d(g: &Geometry, x: &[f32], weight: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
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

    let pointwise = g.is_pointwise();
    let mut unrolled = if pointwise {
        Vec::new()
    } else {
        vec![0.0; patch * plane_out]
    };
    let samples_in = x.chunks_exact(g.groups * g.group_in * plane_in);
    let samples_out = y.chunks_exact_mut(g.groups * g.group_out * plane_out);
    for (x_n, y_n) in samples_in.zip(samples_out) {
        let groups_in = x_n.chunks_exact(g.group_in * plane_in);
        let groups_out = y_n.chunks_exact_mut(g.group_out * plane_out);
        let weights = weight.chunks_exact(g.group_out * patch);
        for ((x_g, y_g), w_g) in groups_in.zip(groups_out).zip(weights) {
            let columns: &[f32] = if pointwise {
                x_g
            } else {
                unroll(g, x_g, &mut unrolled);
                &unrolled
            };
            let w_g = matrix(g.group_out, patch, w_g);
            let columns = matrix(patch, plane_out, columns);
            let mut y_g = ArrayViewMut2::from_shape((g.group_out, plane_out), y_g)
                .expect("the geometry sizes the output");
            general_mat_mul(1.0, &w_g, &columns, 1.0, &mut y_g);
        }
    }
}

/// A row-major `[rows, cols]` view of `data`.
fn matrix(rows: usize, cols: usize, data: &[f32]) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((rows, cols), data).expect("the geometry sizes every slice")
}

/// Unrolls the `Cin/g` planes of one group of one sample into im2col's
/// `[Cin/g * kh * kw, OH * OW]` matrix.
fn unroll(g: &Geometry, x_g: &[f32], unrolled: &mut [f32]) {
    let [window_h, window_w] = g.windows;
    let [h, w] = g.input;
    let [oh, ow] = g.output;
    // The outputs whose tap `k` reads inside an input axis of `size`.
    let taps = |window: Window, k: usize, outputs: usize, size: usize| {
        let (stride, dilation, pad) = (window.stride, window.dilation, window.pad_begin);
        Taps::new(outputs, stride, k, dilation, pad, size)
    };
    let strides = [window_h.stride, window_w.stride];
    let mut rows = unrolled.chunks_exact_mut(oh * ow);
    for plane in x_g.chunks_exact(h * w) {
        for ki in 0..window_h.kernel {
            let ys = taps(window_h, ki, oh, h);
            for kj in 0..window_w.kernel {
                let xs = taps(window_w, kj, ow, w);
                let row = rows.next().expect("the buffer has a row per tap");
                unroll_tap(row, plane, [w, ow], strides, &ys, &xs);
            }
        }
    }
    debug_assert!(rows.next().is_none());
}

/// Fills one row of the matrix, one tap of one plane: output `(oy, ox)` gets input pixel
/// `(ys.first + (oy - ys.start) * stride_h, xs.first + (ox - xs.start) * stride_w)` where both
/// lie inside the input, and 0 where the tap falls in the padding.
fn unroll_tap(
    row: &mut [f32],
    plane: &[f32],
    [width, ow]: [usize; 2],
    [stride_h, stride_w]: [usize; 2],
    ys: &Taps,
    xs: &Taps,
) {
    let (start, end) = (xs.indices.start, xs.indices.end);
    for (oy, out) in row.chunks_exact_mut(ow).enumerate() {
        if !ys.indices.contains(&oy) {
            out.fill(0.0);
            continue;
        }
        let iy = ys.first + (oy - ys.indices.start) * stride_h;
        let input = &plane[iy * width..][..width];
        out[..start].fill(0.0);
        out[end..].fill(0.0);
        let out = &mut out[start..end];
        if stride_w == 1 {
            out.copy_from_slice(&input[xs.first..][..out.len()]);
        } else {
            let taken = input[xs.first..].iter().step_by(stride_w);
            for (o, &v) in out.iter_mut().zip(taken) {
                *o = v;
            }
        }
    }
}
