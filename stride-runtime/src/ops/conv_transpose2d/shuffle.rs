//! Transposed convolution whose kernel tiles the output (a kernel as large as the stride, no
//! dilation, padding or output padding: U-Net's and FCN's 2x2/2 decoders): every input pixel
//! paints its own `kh x kw` block of the output and no two blocks meet, so the layer is one
//! GEMM and a pixel shuffle.
//!
//! Per sample and group, the weight as col2im packs it (`[Cout/g * kh * kw, Cin/g]`, row
//! `(c, ki, kj)`, [`super::col2im::pack_weights`]) multiplies the group's input planes, read
//! in place as `B` (`[Cin/g, H * W]`, no packing), into a block of `C` whose column is an
//! input pixel; the bias and the activation run in the GEMM's epilogue, since each output
//! gets exactly one product. The block is then shuffled into the output: row `(c, ki, kj)`,
//! pixel `(i, j)` is output `(c, i * kh + ki, j * kw + kj)`.
//!
//! The sub-pixel kernel computes the same products as `kh * kw` GEMMs of `Cout/g` rows, each
//! packing the same `B` again; col2im computes them as this GEMM, then adds its matrix into
//! an output filled with the bias and makes a pass for the activation. Measured beside ONNX
//! Runtime 1.32 (AMD EPYC Zen 5, 2 vCPUs shared with other builds; `bench/compare.sh
//! --threads 1,2 --suite benches/layers_zoo.json --layer convT2x2s2_256_128_28 --layer
//! convT2x2s2_128_64_56`, ms ours / ORT's), sub-pixel before -> this kernel:
//! `convT2x2s2_256_128_28` 1.095 / 0.878 -> 0.905 / 0.846 at one thread, 0.558 / 0.452 ->
//! 0.524 / 0.457 at two; `convT2x2s2_128_64_56` 1.256 / 0.939 -> 1.026 / 0.848, and
//! 0.670 / 0.465 -> 0.558 / 0.468.
//!
//! Still behind ORT: `perf` gives the GEMM 83% of the layer's time and the shuffle 10%. The
//! GEMM's rate (190-225 GFLOP/s) is the crate's for this shape (`K` = 128 or 256): blocks of
//! 16 Ki to 256 Ki values of `C`, or the whole matrix at once, measured the same within
//! 5%, and so did packing `B` instead of reading it in place.
//!
//! A block holds at most [`SCRATCH`] values of `C`, a whole number of the micro-kernel's
//! column panels, so it is written by the GEMM and read by the shuffle in L2. Threads: a task
//! is one sample, one group and one block of pixels; blocks write disjoint outputs.

use core::marker::PhantomData;

use stride_geometry::TransposedAxis;

use crate::gemm::{self, Epilogue, MatMut, NR_WIDE, PackedA, StridedB};
use crate::ops::conv_layer::Geometry;
use crate::simd::{Activation, Isa};
use crate::workspace::Workspace;

/// Values of `C` in one task's block: 256 KiB, a quarter of the L2, so that the block, the
/// part of `A` a panel walks and the input columns it reads stay there together.
const SCRATCH: usize = 64 * 1024;

/// Whether a layer of these axes takes this kernel: on both axes, kernel equal to stride,
/// no dilation, no padding and no output padding, so that the output is the input's size
/// times the kernel's, each output reached by exactly one tap.
pub(super) fn tiles(axes: &[TransposedAxis; 2]) -> bool {
    axes.iter()
        .all(|a| a.kernel == a.stride && a.dilation == 1 && a.padding == 0 && a.output_padding == 0)
}

/// Writes `activation(conv_transpose(x, weight) + bias)` into `y` on `isa`, all contiguous
/// and sized by `g`, whose axes [`tiles`]: `x` NCHW, `weights` from
/// [`super::col2im::pack_weights`], `bias` `[Cout]`, `y` `[N, Cout, OH, OW]`. Every element
/// of `y` is written.
pub(super) fn conv_transpose2d(
    isa: Isa,
    g: &Geometry<TransposedAxis>,
    x: &[f32],
    weights: &[PackedA],
    bias: Option<&[f32]>,
    activation: Activation,
    y: &mut [f32],
) {
    let [h, w] = g.input;
    let [kh, kw] = [g.axes[0].kernel, g.axes[1].kernel];
    let [oh, ow] = g.output;
    let (pixels, patch) = (h * w, kh * kw);
    let rows = g.group_out * patch;
    assert_eq!(y.len(), g.output_len(), "the output's size");
    debug_assert!(tiles(&g.axes));
    debug_assert_eq!((oh, ow), (h * kh, w * kw));
    debug_assert_eq!(x.len(), g.input_len());
    debug_assert_eq!(weights.len(), g.groups);
    debug_assert!(weights.iter().all(|a| (a.m(), a.k()) == (rows, g.group_in)));
    debug_assert!(bias.is_none_or(|b| b.len() == g.groups * g.group_out));
    let units = g.batch * g.groups;
    if units == 0 || pixels == 0 {
        return;
    }

    // One bias per row of `C`: row `(c, ki, kj)` takes channel `c`'s.
    let bias: Option<Vec<f32>> = bias.map(|b| {
        b.iter()
            .flat_map(|&v| core::iter::repeat_n(v, patch))
            .collect()
    });

    // Pixels per block: whole panels of the widest micro-kernel, at least one.
    let block = (SCRATCH / rows / NR_WIDE).max(1) * NR_WIDE;
    let blocks = pixels.div_ceil(block);
    let tasks: Vec<(usize, usize)> = (0..units)
        .flat_map(|unit| (0..blocks).map(move |b| (unit, b * block)))
        .collect();
    // Saturating: the weight's and the input's sizes fit in memory, not their product.
    let flops = [rows, g.group_in, pixels, units]
        .iter()
        .fold(2usize, |f, &v| f.saturating_mul(v));
    let parallel = flops >= gemm::parallel_flops();

    let out = Output::new(y);
    let plane_out = oh * ow;
    let run = |(unit, first): (usize, usize)| {
        let group = unit % g.groups;
        let n = block.min(pixels - first);
        let x_unit = &x[unit * g.group_in * pixels..][..g.group_in * pixels];
        let b = StridedB::row_major(x_unit, g.group_in, pixels);
        let epilogue = Epilogue::finish(
            bias.as_deref().map(|b| &b[group * rows..][..rows]),
            activation,
        );
        Workspace::with(rows * n, |scratch| {
            let c = MatMut::row_major(scratch, rows, n);
            gemm::gemm_serial(isa, &weights[group], &b, first, c, &epilogue);
            let planes = unit * g.group_out * plane_out;
            for co in 0..g.group_out {
                for ki in 0..kh {
                    let lines = &scratch[(co * kh + ki) * kw * n..][..kw * n];
                    // SAFETY: the outputs of pixels `first..first + n` (rows `i * kh + ki`,
                    // columns `j * kw ..`) of this sample and group's channel `co` belong
                    // to this task alone: no other pixel's block meets them.
                    unsafe {
                        out.shuffle(planes + co * plane_out, lines, [w, ow], [kh, kw], ki, first);
                    }
                }
            }
        });
    };
    if parallel {
        crate::threads::for_each(tasks, run);
    } else {
        tasks.into_iter().for_each(run);
    }
}

/// The output tensor, written by tasks whose pixels' blocks are disjoint.
struct Output<'a> {
    ptr: *mut f32,
    len: usize,
    _borrow: PhantomData<&'a mut [f32]>,
}

// SAFETY: an `Output` is a unique borrow of the output; it writes only through the unsafe
// `shuffle`, whose callers promise that no two tasks write the same element, so sharing it
// between threads is like sharing disjoint `&mut [f32]`s.
unsafe impl Sync for Output<'_> {}

impl<'a> Output<'a> {
    fn new(data: &'a mut [f32]) -> Self {
        Output {
            ptr: data.as_mut_ptr(),
            len: data.len(),
            _borrow: PhantomData,
        }
    }

    /// Writes kernel row `ki` of the blocks of pixels `first .. first + n` of one output
    /// plane, which starts at `plane`: `lines` holds `kw` rows of `n` values, row `kj`'s
    /// value `p - first` going to output `(i * kh + ki, j * kw + kj)` for pixel `p = i * w +
    /// j` of a `[h, w]` input (`width` is `[w, ow]`).
    ///
    /// # Safety
    /// No other thread reads or writes those outputs while this runs.
    unsafe fn shuffle(
        &self,
        plane: usize,
        lines: &[f32],
        [w, ow]: [usize; 2],
        [kh, kw]: [usize; 2],
        ki: usize,
        first: usize,
    ) {
        let n = lines.len() / kw;
        let mut p = first;
        while p < first + n {
            // The pixels of input row `i` from column `j`, as far as the block goes.
            let (i, j) = (p / w, p % w);
            let len = (w - j).min(first + n - p);
            let start = plane + (i * kh + ki) * ow + j * kw;
            assert!(start + len * kw <= self.len, "the row lies in the output");
            // SAFETY: in bounds (checked above), inside the slice this borrows uniquely;
            // the caller promises these outputs are this call's alone.
            let row = unsafe { core::slice::from_raw_parts_mut(self.ptr.add(start), len * kw) };
            let at = p - first;
            interleave(row, lines, n, at, kw);
            p += len;
        }
    }
}

/// `row[jx * kw + kj] = lines[kj * n + at + jx]`: `kw` rows of `lines` (each `n` long, read
/// from `at`) interleaved into one output row segment.
#[inline]
fn interleave(row: &mut [f32], lines: &[f32], n: usize, at: usize, kw: usize) {
    let len = row.len() / kw;
    match kw {
        1 => row.copy_from_slice(&lines[at..at + len]),
        2 => {
            let (even, odd) = (&lines[at..at + len], &lines[n + at..n + at + len]);
            for ((pair, &a), &b) in row.chunks_exact_mut(2).zip(even).zip(odd) {
                pair[0] = a;
                pair[1] = b;
            }
        }
        _ => {
            for kj in 0..kw {
                let values = &lines[kj * n + at..][..len];
                for (o, &v) in row[kj..].iter_mut().step_by(kw).zip(values) {
                    *o = v;
                }
            }
        }
    }
}
