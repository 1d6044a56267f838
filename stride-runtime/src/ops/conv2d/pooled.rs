//! A convolution and the max pool after it as one step, a band of pooled rows at a time: a
//! network's stem (ResNet's, GoogLeNet's and DenseNet's 7x7/2 convolution to 64 channels, its
//! batch norm and ReLU folded in, then a 3x3/2 max pool).
//!
//! Unfused, the convolution writes its whole output (64 planes of 112x112 at 224x224, 3.2 MB,
//! three times the L2) and the pool reads it back. Inside a network that round trip cost
//! more than the pool's arithmetic: ResNet-18 at batch 1 ran 1.6% faster on one thread and
//! 3.1% on two with the pool skipped altogether (its output left as the arena had it, the two
//! forms alternated forward by forward), 0.27 and 0.36 ms, against 0.12 and 0.08 ms for the
//! same pool called alone on an input in the caches (`maxpool3x3s2_64_112` in the layer
//! bench; 2 vCPUs of an AMD EPYC Zen 5).
//!
//! Here each task takes a range of pooled rows of one sample and walks it in bands: a band
//! computes the convolution's rows its pooled rows read (every output channel) into the
//! thread's workspace, at most [`BAND_BYTES`] of them, then pools them into the output. The
//! rows a band shares with the next (a 3x3/2 pool's windows overlap by one row) are kept and
//! moved to the front, not computed again, so a task computes each convolution row once and
//! only the seams between tasks compute a row twice.
//!
//! Measured on 2 vCPUs of an AMD EPYC Zen 5 (AVX-512) by running the two forms forward by
//! forward in one process (a temporary switch in the network benchmark, not kept), at batch 1,
//! as the median of the per-pair ratios unfused/fused with their quartiles: ResNet-18 1.009
//! (0.996-1.022) and 1.025 (1.011-1.040) on one thread, 1.026 (1.009-1.042) and 1.019
//! (1.003-1.038) on two, in two runs; GoogLeNet 1.014 and 0.999, DenseNet-121 1.012 and 1.006,
//! ResNet-50 0.994 and 1.005 (one and two threads, quartiles on both sides of 1): the saving
//! is about the pool's time, which is a few percent of the smaller networks only. In the
//! profile (`cargo bench --bench networks -- --net resnet18 --batch 1 --threads 1 --profile`),
//! the fused step took 1.55 ms where the stem and the pool took 1.50 + 0.39 and 1.63 + 0.44
//! (those two runs unfused through the same temporary switch).
//!
//! Where it applies ([`plan`]): the convolution runs on the direct kernel ([`grouped`], which
//! takes a stem's few input channels and computes any band of output rows), and the pool on
//! the separable row kernels ([`MaxBands`]: undilated, and not `small.rs`'s narrow stride-1
//! planes). Both kernels run as they would unfused, so the result is the two layers' bit for
//! bit on every path and does not depend on the thread count.

use core::ops::Range;

use ndarray::{Array4, ArrayView4, Dim};

use super::shared::SharedOutput;
use super::{Algorithm, Conv2d, Geometry, OP, Window, grouped, with_slices};
use crate::gemm::{self, Epilogue, MatMut};
use crate::ops::MaxPool2dParams;
use crate::ops::pool::MaxBands;
use crate::simd::Isa;
use crate::workspace::Workspace;
use crate::{Result, memory};

/// Bytes of convolution rows a band holds at most: half of a 1 MiB L2, leaving room for the
/// direct kernel's copy of the band's input and for the pooled rows.
const BAND_BYTES: usize = 512 << 10;

impl Conv2d {
    /// Whether this layer and the max pool `pool` after it run as one step on an input of
    /// shape `input` ([`plan`]): what the executor and the memory plan ask.
    pub(crate) fn fuses_with_max_pool(&self, pool: &MaxPool2dParams, input: [usize; 4]) -> bool {
        plan(Isa::detect(), self, pool, input).is_some()
    }

    /// `max_pool2d(self(x), pool)`, fused (the module docs), for a pool that
    /// [`Conv2d::fuses_with_max_pool`] accepts for `x`'s shape. Refuses, as the two layers
    /// would, an output too large to allocate.
    pub(crate) fn forward_with_max_pool(
        &self,
        pool: &MaxPool2dParams,
        x: ArrayView4<f32>,
    ) -> Result<Array4<f32>> {
        banded(Isa::detect(), self, pool, x, BAND_BYTES)
    }
}

/// The convolution's geometry, the pool over its output planes and the most convolution rows
/// one pooled row reads, for an input of shape `input` on `isa`, when the two run fused (the
/// module docs), else `None`. A band of one pooled row must fit in [`BAND_BYTES`]: a map too
/// wide for that (or a pool window of most of its rows) runs unfused, where a size too large
/// to allocate is refused rather than taken from the workspace.
fn plan(
    isa: Isa,
    conv: &Conv2d,
    pool: &MaxPool2dParams,
    input: [usize; 4],
) -> Option<(Geometry<Window>, MaxBands, usize)> {
    if conv.algorithm != Algorithm::Grouped || input[0] == 0 {
        return None;
    }
    // The geometry needs an input only for its shape: one value, broadcast.
    let one = [0.0f32];
    let one = ArrayView4::from_shape((1, 1, 1, 1), &one).ok()?;
    let g = conv.layer.resolve(one.broadcast(input)?).ok()?;
    let bands = MaxBands::new(isa, pool, g.output)?;
    let one_row = (0..bands.output()[0])
        .map(|q| bands.input_rows(q..q + 1).len())
        .max()?;
    let bytes = (one_row * size_of::<f32>())
        .checked_mul(g.groups * g.group_out)?
        .checked_mul(g.output[1])?;
    (bytes <= BAND_BYTES).then_some((g, bands, one_row))
}

/// `max_pool2d(conv(x), pool)` by bands of at most about `band_bytes` of convolution rows (at
/// least what one pooled row reads), on `isa`, for a pair [`plan`] accepts for `x`'s shape.
fn banded(
    isa: Isa,
    conv: &Conv2d,
    pool: &MaxPool2dParams,
    x: ArrayView4<f32>,
    band_bytes: usize,
) -> Result<Array4<f32>> {
    let (n, c, h, w) = x.dim();
    let (g, bands, one_row) =
        plan(isa, conv, pool, [n, c, h, w]).expect("the caller checked the pair with `plan`");
    let [ph, pw] = bands.output();
    let ow = g.output[1];
    let cout = g.groups * g.group_out;
    // Convolution rows a band holds: as many as `band_bytes` take, at most what keeps the
    // direct kernel's input copy in L2, and at least what one pooled row reads.
    let cap = (band_bytes / (cout * ow * size_of::<f32>()))
        .min(grouped::band_rows(&g))
        .max(one_row);

    // Each sample's pooled rows cut into as many ranges as the threads want, one task each.
    let flops = 2 * g.output_len() * g.patch_len();
    let tasks = if flops < gemm::parallel_flops() {
        1
    } else {
        gemm::tasks_for(crate::threads::threads())
    };
    let ranges = gemm::panel_ranges(ph, 1, tasks.div_ceil(n).min(ph));
    let jobs: Vec<_> = (0..n)
        .flat_map(|sample| ranges.iter().map(move |rows| (sample, rows.clone())))
        .collect();

    let mut y = memory::uninit(OP, "output", Dim([n, cout, ph, pw]))?;
    let out = SharedOutput::uninit(super::contiguous(y.as_slice_mut()));
    let weights = conv.grouped_weights();
    with_slices(OP, x, conv.bias(), |x, bias| {
        let epilogue = Epilogue::finish(bias, conv.activation());
        let sample_len = c * h * w;
        crate::threads::for_each(jobs, |(sample, rows)| {
            let x = &x[sample * sample_len..][..sample_len];
            Workspace::with(cout * cap * ow, |held| {
                let run = Run {
                    isa,
                    g: &g,
                    bands: &bands,
                    x,
                    weights,
                    epilogue: &epilogue,
                    cap,
                };
                // SAFETY: rows `rows` of every output plane of `sample`, which no other task
                // writes (a sample's ranges are disjoint), inside `y`.
                unsafe { run.rows(rows, held, out.at(sample * cout * ph * pw)) };
            });
        });
    })?;
    // SAFETY: the tasks cover every pooled row of every sample and channel, and the pool's
    // kernels write every value of their rows.
    Ok(unsafe { y.assume_init() })
}

/// What a task needs to make its pooled rows.
struct Run<'a> {
    isa: Isa,
    g: &'a Geometry<Window>,
    bands: &'a MaxBands,
    /// The sample's input planes.
    x: &'a [f32],
    weights: &'a grouped::Weights,
    epilogue: &'a Epilogue<'a>,
    /// Convolution rows `held` has room for, per output channel.
    cap: usize,
}

impl Run<'_> {
    /// Pooled rows `rows` of every channel into the sample's output `y`, band by band, with
    /// `held` (`cap` convolution rows of each output channel, one after the other) for the
    /// convolution's rows.
    ///
    /// # Safety
    /// `y` is the sample's `[Cout, PH, PW]` output, whose rows `rows` of every plane nothing
    /// else reads or writes meanwhile.
    unsafe fn rows(&self, rows: Range<usize>, held: &mut [f32], y: *mut f32) {
        let [ph, pw] = self.bands.output();
        let ow = self.g.output[1];
        let stride = self.cap * ow;
        let cout = self.g.groups * self.g.group_out;
        debug_assert_eq!(held.len(), cout * stride);
        // The convolution rows in `held`, from its first row on.
        let mut have = 0..0;
        let mut q = rows.start;
        while q < rows.end {
            // As many pooled rows as the convolution rows they read fit in `held`.
            let mut end = q + 1;
            while end < rows.end && self.bands.input_rows(q..end + 1).len() <= self.cap {
                end += 1;
            }
            let need = self.bands.input_rows(q..end);
            debug_assert!(need.len() <= self.cap && have.start <= need.start);
            // The rows of the band before that this one reads too move to the front.
            let kept = have.end.min(need.end).saturating_sub(need.start);
            if kept > 0 && need.start > have.start {
                let from = (need.start - have.start) * ow;
                for channel in held.chunks_exact_mut(stride) {
                    channel.copy_within(from..from + kept * ow, 0);
                }
            }
            if kept < need.len() {
                let new = need.start + kept..need.end;
                let c = MatMut::new(&mut held[kept * ow..], cout, new.len() * ow, stride, 1);
                grouped::band_serial(
                    self.isa,
                    self.g,
                    self.x,
                    self.weights,
                    self.epilogue,
                    new,
                    c,
                );
            }
            self.bands.band(q..end, |pool| {
                for (channel, held) in held.chunks_exact(stride).enumerate() {
                    // SAFETY: rows `q..end` of plane `channel`, inside the rows the caller
                    // gave this task.
                    let y = unsafe {
                        core::slice::from_raw_parts_mut(
                            y.add((channel * ph + q) * pw),
                            (end - q) * pw,
                        )
                    };
                    pool.plane(&held[..need.len() * ow], y);
                }
            });
            have = need;
            q = end;
        }
    }
}

#[cfg(test)]
mod tests;
