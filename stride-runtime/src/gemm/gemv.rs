//! `yᵀ = activation(w · xᵀ + b)` for a batch of a few rows, straight from the row-major
//! weight: each output is a dot product of one weight row with each input row. Linear layers
//! at small batches run here, and so do 1x1 convolutions of a 1x1 input (squeeze-excitation's
//! two layers), which are the same product.
//!
//! At batch 1 to [`MAX_BATCH`] the GEMM would fill its register tile's columns with one to
//! four useful values out of [`NR`](super::NR), and pack the input for nothing: a classifier
//! of 1280 x 1000 took about 1 ms there where reading its 5 MB of weights once takes a fifth of
//! that. Here the weights are read once, in the order they lie, four rows at a time against
//! every input row (the input rows stay in L1), and the rows are split over the threads.
//!
//! Each group of rows is a short stream (4 rows of a 1280-wide classifier are 20 KiB) that the
//! hardware prefetcher picks up anew, late, so while one group is summed the next group's
//! lines are asked for, as many a step as the step reads (`Ahead`, in `ahead.rs`). Measured
//! on Zen 5, one thread, a 1280 → 1000 classifier whose weights are not in cache (the layer
//! cycling through copies of its weights that overflow L3): 0.31 ms (16 GB/s) before, 0.17-0.21
//! ms (24-30 GB/s) with it; with warm weights 0.05 ms either way.
//!
//! Each output is summed in 8 lanes over `k` and the lanes added at the end; the scalar path
//! sums the same lanes in the same order, so the two agree to the last bit but for FMA's
//! rounding.

use crate::simd::{Activation, Isa};

/// The largest batch this path takes; larger batches go through the GEMM.
pub(crate) const MAX_BATCH: usize = 4;

/// Output rows a kernel call computes at once.
const ROWS: usize = 4;

/// Lanes of the partial sums.
const LANES: usize = 8;

/// Below this many weights, one thread: about 25 µs of reading, more than a task hand-off.
const PARALLEL_WEIGHTS: usize = 1 << 17;

/// `yt[o * batch + n] = activation(bias[o] + Σ_k w[o * k + i] · x[n * k + i])`: `w` is
/// `out × k` row-major, `x` is `batch × k`, and `yt` is `out × batch` (the output transposed;
/// at batch 1 it is the output).
pub(crate) fn gemv(
    isa: Isa,
    w: &[f32],
    k: usize,
    x: &[f32],
    bias: Option<&[f32]>,
    activation: Activation,
    yt: &mut [f32],
) {
    let batch = x.len() / k;
    let out = w.len() / k;
    debug_assert!((1..=MAX_BATCH).contains(&batch) && k > 0);
    debug_assert_eq!(
        (w.len(), x.len(), yt.len()),
        (out * k, batch * k, out * batch)
    );
    debug_assert!(bias.is_none_or(|b| b.len() == out));
    let tasks = if w.len() < PARALLEL_WEIGHTS {
        1
    } else {
        super::tasks_for(crate::threads::threads())
    };
    // Whole groups of ROWS rows per task, but the last.
    let rows_per_task = out.div_ceil(tasks).next_multiple_of(ROWS);
    crate::threads::for_each_chunk(yt, rows_per_task * batch, |offset, yt| {
        let first = offset / batch;
        let rows = yt.len() / batch;
        let w = &w[first * k..(first + rows) * k];
        let bias = bias.map(|b| &b[first..first + rows]);
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the token (`Avx2`, or `Avx512`, which implies them) proves AVX2 and
            // FMA; the sizes are those of the debug assertions above, for this task's rows. A
            // product of one row per weight is bound by reading the weights: AVX2 is enough.
            Isa::Avx2(_) | Isa::Avx512(_) => unsafe { avx2::rows(w, k, x, batch, bias, yt) },
            Isa::Scalar => scalar::rows(w, k, x, batch, bias, yt),
        }
        if activation != Activation::Identity {
            activation.apply_to_slice_on(Isa::Scalar, yt);
        }
    });
}

mod scalar {
    use super::LANES;

    /// [`gemv`](super::gemv)'s sums for the rows of `w`, lane by lane as the AVX2 path adds
    /// them.
    pub(super) fn rows(
        w: &[f32],
        k: usize,
        x: &[f32],
        batch: usize,
        bias: Option<&[f32]>,
        yt: &mut [f32],
    ) {
        for (o, w) in w.chunks_exact(k).enumerate() {
            for (n, x) in x.chunks_exact(k).enumerate() {
                let mut lanes = [0.0f32; LANES];
                let body = k - k % LANES;
                for (w, x) in w[..body]
                    .chunks_exact(LANES)
                    .zip(x[..body].chunks_exact(LANES))
                {
                    for ((lane, &w), &x) in lanes.iter_mut().zip(w).zip(x) {
                        *lane = w.mul_add(x, *lane);
                    }
                }
                let mut sum = super::add_lanes(lanes);
                for i in body..k {
                    sum = w[i].mul_add(x[i], sum);
                }
                yt[o * batch + n] = sum + bias.map_or(0.0, |b| b[o]);
            }
        }
    }
}

/// The 8 lanes' partial sums added pairwise, `((0+4)+(2+6)) + ((1+5)+(3+7))`, as the AVX2
/// path's horizontal add does.
fn add_lanes(l: [f32; LANES]) -> f32 {
    let quads = [l[0] + l[4], l[1] + l[5], l[2] + l[6], l[3] + l[7]];
    let pairs = [quads[0] + quads[2], quads[1] + quads[3]];
    pairs[0] + pairs[1]
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use core::arch::x86_64::*;

    use super::{LANES, MAX_BATCH, ROWS};
    use crate::gemm::ahead::Ahead;

    /// [`gemv`](super::gemv)'s sums for the rows of `w`: [`ROWS`] rows at a time against
    /// every input row, 8 lanes of `k` per step.
    ///
    /// # Safety
    /// AVX2 and FMA; `w` is `rows × k`, `x` is `batch × k` with `batch <= MAX_BATCH`, `yt` is
    /// `rows × batch`, and `bias`, if any, has `rows` values.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn rows(
        w: &[f32],
        k: usize,
        x: &[f32],
        batch: usize,
        bias: Option<&[f32]>,
        yt: &mut [f32],
    ) {
        const _: () = assert!(MAX_BATCH == 4 && ROWS == 4);
        let rows = w.len() / k;
        let mut o = 0;
        while o < rows {
            let group = (rows - o).min(ROWS);
            let rows = Rows { w, k, o, x, bias };
            // SAFETY (every arm): the caller's promises, and rows `o .. o + group` exist.
            unsafe {
                match (group, batch) {
                    (4, 1) => rows.sums::<4, 1>(yt),
                    (4, 2) => rows.sums::<4, 2>(yt),
                    (4, 3) => rows.sums::<4, 3>(yt),
                    (4, _) => rows.sums::<4, 4>(yt),
                    (3, _) => rows.sums::<3, MAX_BATCH>(yt),
                    (2, _) => rows.sums::<2, MAX_BATCH>(yt),
                    _ => rows.sums::<1, MAX_BATCH>(yt),
                }
            }
            o += group;
        }
    }

    /// A group of rows of `w` from row `o`, and what they are multiplied with.
    struct Rows<'a> {
        w: &'a [f32],
        k: usize,
        o: usize,
        x: &'a [f32],
        bias: Option<&'a [f32]>,
    }

    impl Rows<'_> {
        /// The outputs of rows `o .. o + G` for every input row (at most `B`), into `yt`.
        /// Meanwhile asks for the next group's rows (see [`Ahead`]): without that, a weight
        /// that is not in cache came at 16-19 GB/s, each group of rows a short stream the
        /// hardware prefetcher picks up anew.
        ///
        /// # Safety
        /// AVX2 and FMA; rows `o .. o + G` exist, and `x` has at most `B` rows.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn sums<const G: usize, const B: usize>(&self, yt: &mut [f32]) {
            let Rows { w, k, o, x, bias } = *self;
            let batch = x.len() / k;
            debug_assert!(batch <= B && (o + G) * k <= w.len());
            let body = k - k % LANES;
            let next = (o + G) * k;
            let mut ahead = Ahead::new(&w[next.min(w.len())..(next + ROWS * k).min(w.len())]);
            let mut acc = [[_mm256_setzero_ps(); B]; G];
            let mut i = 0;
            while i < body {
                // A step reads `G` vectors of 32 bytes: `G / 2` lines.
                for _ in 0..G.div_ceil(2) {
                    ahead.line();
                }
                for n in 0..batch.min(B) {
                    // SAFETY: `i + 8 <= body <= k`, within row `n` of `x`.
                    let xv = unsafe { _mm256_loadu_ps(x.as_ptr().add(n * k + i)) };
                    for (r, acc) in acc.iter_mut().enumerate() {
                        // SAFETY: within row `o + r < rows` of `w`.
                        let wv = unsafe { _mm256_loadu_ps(w.as_ptr().add((o + r) * k + i)) };
                        acc[n] = _mm256_fmadd_ps(wv, xv, acc[n]);
                    }
                }
                i += LANES;
            }
            for (r, acc) in acc.iter().enumerate() {
                let row = &w[(o + r) * k..(o + r + 1) * k];
                for (n, &lanes) in acc.iter().enumerate().take(batch) {
                    let xs = &x[n * k..(n + 1) * k];
                    let mut sum = add_lanes(lanes);
                    for j in body..k {
                        sum = row[j].mul_add(xs[j], sum);
                    }
                    yt[(o + r) * batch + n] = sum + bias.map_or(0.0, |b| b[o + r]);
                }
            }
        }
    }

    /// The lanes of `v` added in [`add_lanes`](super::add_lanes)'s order.
    #[target_feature(enable = "avx2,fma")]
    fn add_lanes(v: __m256) -> f32 {
        let quads = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let pairs = _mm_add_ps(quads, _mm_movehl_ps(quads, quads));
        let one = _mm_add_ss(pairs, _mm_shuffle_ps::<0b01>(pairs, pairs));
        _mm_cvtss_f32(one)
    }
}

#[cfg(test)]
mod tests;
