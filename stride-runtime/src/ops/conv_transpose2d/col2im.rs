//! Transposed convolution as GEMM + col2im: for each sample and each group, the group's weight
//! `[Cin/g, Cout/g * kh * kw]`, transposed, multiplies the input planes `[Cin/g, H * W]` into a
//! `[Cout/g * kh * kw, H * W]` matrix (row `(c, ki, kj)` holds what every input pixel sends
//! through that tap), which is then scatter-added into the output: input `(iy, ix)` reaches
//! output `(iy*S + ki*D - P, ix*S + kj*D - P)` when that lies inside it.
//!
//! The matrix is one buffer, reused for every group of every sample; the product is the
//! crate's GEMM, with the weight packed once per layer ([`pack_weights`]) and the columns of
//! the matrix split among the threads. The matrix has a row per kernel tap and output channel
//! and a column per input pixel, so a huge kernel on a large input would make it far larger
//! than either: it holds a block of input rows at a time, at most [`COLUMNS`] values (every
//! layer of the benchmark suite fits in one block).

use core::ops::Range;

use stride_geometry::TransposedAxis;

use crate::gemm::{self, Epilogue, MatMut, PackedA, StridedB};
use crate::ops::conv_layer::Geometry;
use crate::ops::taps::Taps;
use crate::{Result, memory};

/// The most values col2im's matrix holds at once, 16 MiB: the matrix of the suite's
/// `convT4x4s2_128_32` has `32 * 16` rows of `32 * 32` columns, a thirty-second of it. A
/// layer whose matrix is larger runs a block of input rows at a time (one row at least).
const COLUMNS: usize = 1 << 22;

/// Packs a contiguous `[Cin, Cout/groups, kh, kw]` weight as one `A` per group: the group's
/// `[Cin/g, Cout/g * kh * kw]` block transposed, so rows are the taps `(c, ki, kj)` of the
/// output channels and columns the input channels.
pub(super) fn pack_weights(weight: &[f32], groups: usize, group_in: usize) -> Vec<PackedA> {
    debug_assert!(groups > 0 && group_in > 0 && weight.len() % (groups * group_in) == 0);
    let patch = weight.len() / (groups * group_in);
    weight
        .chunks_exact(group_in * patch)
        .map(|w_g| PackedA::new(w_g, patch, group_in, 1, patch))
        .collect()
}

/// Writes the transposed convolution of `x` with the packed weights, plus `bias`, into `y`,
/// all contiguous and sized by `g`: `x` NCHW, `weights` from [`pack_weights`], `bias`
/// `[Cout]`, `y` `[N, Cout, OH, OW]` and zero on entry. Refuses a matrix block of one input
/// row that cannot be allocated (a kernel far larger than any real one, on a wide input).
pub(super) fn conv_transpose2d(
    op: &'static str,
    g: &Geometry<TransposedAxis>,
    x: &[f32],
    weights: &[PackedA],
    bias: Option<&[f32]>,
    y: &mut [f32],
) -> Result<()> {
    debug_assert_eq!(x.len(), g.input_len());
    debug_assert_eq!(y.len(), g.output_len());
    debug_assert_eq!(weights.len(), g.groups);
    debug_assert!(
        weights
            .iter()
            .all(|w| (w.m(), w.k()) == (g.patch_len(), g.group_in))
    );
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

    // Input rows per block of the matrix.
    let [h, w] = g.input;
    let block = (COLUMNS / patch.saturating_mul(w)).clamp(1, h);
    let len = memory::check::<f32>(op, "col2im matrix", &[patch, block * w])?;
    let mut columns = memory::vec(op, "col2im matrix", len)?;
    columns.resize(len, 0.0);
    let samples_in = x.chunks_exact(g.groups * g.group_in * plane_in);
    let samples_out = y.chunks_exact_mut(g.groups * g.group_out * plane_out);
    for (x_n, y_n) in samples_in.zip(samples_out) {
        let groups_in = x_n.chunks_exact(g.group_in * plane_in);
        let groups_out = y_n.chunks_exact_mut(g.group_out * plane_out);
        for ((x_g, y_g), w_g) in groups_in.zip(groups_out).zip(weights) {
            for first in (0..h).step_by(block) {
                let rows = first..(first + block).min(h);
                let pixels = rows.len() * w;
                // Columns `first * w ..` of the group's `[Cin/g, H * W]` input.
                let x_g = StridedB::new(&x_g[first * w..], g.group_in, pixels, plane_in, 1);
                let c = MatMut::row_major(&mut columns[..patch * pixels], patch, pixels);
                gemm::sgemm(w_g, &x_g, c, &Epilogue::default());
                scatter(g, &columns[..patch * pixels], rows, y_g);
            }
        }
    }
    Ok(())
}

/// Adds the matrix of input rows `rows`, `[Cout/g * kh * kw, rows * W]`, into the `Cout/g`
/// output planes of one group of one sample.
fn scatter(g: &Geometry<TransposedAxis>, columns: &[f32], rows: Range<usize>, y_g: &mut [f32]) {
    let [axis_h, axis_w] = g.axes;
    let [h, w] = g.input;
    let [oh, ow] = g.output;
    // The inputs whose tap `k` lands inside an output axis of `size`.
    let taps = |axis: TransposedAxis, k: usize, inputs: usize, size: usize| {
        let (stride, dilation, pad) = (axis.stride, axis.dilation, axis.padding);
        Taps::new(inputs, stride, k, dilation, pad, size)
    };
    let strides = [axis_h.stride, axis_w.stride];
    let mut lines = columns.chunks_exact(rows.len() * w);
    for plane in y_g.chunks_exact_mut(oh * ow) {
        for ki in 0..axis_h.kernel {
            let ys = taps(axis_h, ki, h, oh);
            // The input rows of this block among those this tap lands inside the output.
            let block = ys.indices.start.max(rows.start)..ys.indices.end.min(rows.end);
            for kj in 0..axis_w.kernel {
                let xs = taps(axis_w, kj, w, ow);
                let line = lines.next().expect("the matrix has a row per tap");
                if block.is_empty() {
                    continue;
                }
                let oy = ys.first + (block.start - ys.indices.start) * axis_h.stride;
                let ys = Taps {
                    indices: block.start - rows.start..block.end - rows.start,
                    first: oy,
                };
                scatter_tap(plane, line, [w, ow], strides, &ys, &xs);
            }
        }
    }
    debug_assert!(lines.next().is_none());
}

/// Adds one row of the matrix, one tap into one plane: input `(iy, ix)` in `ys` × `xs` goes to
/// output `(ys.first + (iy - ys.start) * stride_h, xs.first + (ix - xs.start) * stride_w)`,
/// `iy` counted from the matrix's first input row.
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
