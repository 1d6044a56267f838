//! Single-precision matrix multiply, `C = epilogue(A · B)`, the engine under conv2d,
//! conv_transpose2d and linear.
//!
//! The layout is BLIS's, but for `B`. `A` (`M × K`, in the convolutions the weights) is packed
//! once into panels of [`MR`] rows ([`PackedA`]); `B` (`K × N`) is packed per call, a block of
//! rows at a time, by whoever knows where its numbers live ([`PackB`]: a strided matrix, or a
//! convolution's input read through its windows, so im2col never exists as a whole). A
//! micro-kernel multiplies one `MR × NR` tile of `C` in registers and finishes it with the
//! [`Epilogue`] (bias per row, activation, accumulate into `C`) as it writes it, so `C` is
//! read and written once per `K` block and no separate pass adds the bias.
//!
//! # Blocking, for an AVX2 core with 32 KiB L1d and 1 MiB L2
//!
//! * [`MR`] × [`NR`] = 6 × 16: twelve ymm accumulators, two ymm of `B` and one broadcast of `A`
//!   per step, 15 of the 16 registers; 12 FMAs per 8 loads keeps both FMA pipes fed (a 4-cycle
//!   FMA latency needs at least 8 independent chains). An edge panel of `A` with fewer rows
//!   runs a kernel with only those rows.
//! * [`KC`] ≤ 256: one `B` micro-panel (`KC` rows of `NR`, 16 KiB) plus one `A` micro-panel
//!   (`KC × MR`, 6 KiB) stay in L1 while the kernel walks down `A`. (320 measured the same.)
//! * [`MC`] ≤ 144: the `A` block (`MC × KC`, 144 KiB) stays in L2.
//! * The tiles go a panel of `A` at a time across the whole block of `B` (`driver.rs`), so
//!   the tiles of one panel write its `MR` rows of `C` left to right: `MR` streams into `C`
//!   rather than one per row of the `A` block. With a `C` too large for the caches that is
//!   what limits a layer with few input channels: MobileNetV2 at batch 8 on one thread went
//!   from 44.7-45.0 to 41.2-41.6 ms, ResNet-50 at batch 8 from 280-291 to 267-275 ms,
//!   EfficientNet-B0 from 60.0-60.4 to 56.7-57.1 ms, and batch 1 stayed within the noise
//!   (`cargo bench --bench networks -- --net NAME --batch 8 --threads 1`, the two orders
//!   alternated twice in one build that chose the order by an environment variable, since
//!   removed).
//! * [`NC`] ≤ 384: the packed `B` block (`KC × NC`, about 400 KiB with its row padding) is
//!   this thread's scratch and also fits in L2 next to the `A` block, so it is packed and read
//!   back without a trip to L3 (which other tenants share).
//!
//! On a CPU with AVX-512 the tile is [`MR`] × `NR_WIDE` = 6 × 64 (`avx512.rs`): 24 zmm
//! accumulators, four loads of `B` and six broadcasts of `A` per 24 FMAs. It reads the same
//! packed `A` panels and the same packed `B` blocks, four [`NR`] panels at a time, so nothing
//! is packed differently per instruction set, and a layer's prepacked weights serve every
//! path. Measured on Zen 5 (one thread, the layer bench): 6 × 32 ran within 3% of 6 × 64 and
//! 6 × 48 up to 9% slower on the 7 × 7 planes, whose 49 columns it splits 48 + 1. A few
//! columns past whole vectors (the 49th) run as columns of the panel's rows, not as one more
//! mostly empty vector, which took `conv1x1_2048_512_7` from 192 to 238 GFLOP/s, 87% of the
//! AVX-512 FMA peak (274 GFLOP/s) in the layer bench. A `KC` of 128 or 384 measured the same
//! as 256; measured again later, 128 was 2-4% slower on `conv1x1_2048_512_7`,
//! `conv3x3_512_7`, `conv1x1_960_160_7` and `conv1x1_320_1280_7`, although their 49-column
//! `B` block (40 KiB) then fits the 48 KiB L1d (with twice the `K` blocks, each tile of `C`
//! is loaded and stored twice as often). `N` blocks cut at whole 64-column tiles instead of
//! 16-column panels (one narrow tile per product instead of one per block) measured the same
//! on `conv5x5_64_128_28`, `bottleneck_conv1x1_256_56`, `convnext_pw_conv1x1_192_768_28` and
//! `conv1x1s2_256_512_56` (`cargo bench --bench layers -- --threads 1 --layer NAME`, both
//! builds alternated three times, Zen 5).
//!
//! A block's last whole tile and a rest of one [`NR`] panel or less run as two tiles of 32
//! and 32 + rest columns (`driver.rs`'s `tiles`), not as a whole tile and a tile of one vector,
//! whose 6 accumulators are too few chains for the FMA latency and which pays a whole
//! vector for the 4 columns a 14 × 14 plane leaves (196 = 3 · 64 + 4). In a profile of
//! `convnext_pw_conv1x1_192_768_28` (`perf record`), the 16-column tiles its 272-column `N`
//! blocks leave did 4% of the multiply-adds in 7% of the time. Fastest of five runs, one
//! thread, the two tilings alternated in one build (an environment switch, since removed),
//! Zen 5 shared with other builds: ResNet-50's 1x1s on 14 × 14, 1024 → 256 and 256 → 1024,
//! 0.425 → 0.413 ms each; `conv1x1s2_512_1024_28` (196 columns too) 0.884 → 0.860;
//! `convnext_pw_conv1x1_192_768_28` 0.939 → 0.935; `conv1x1_320_1280_7` and ResNet-50's
//! 64 → 256 on 56 × 56 the same (`cargo bench --bench layers -- --threads 1 --suite FILE
//! --layer NAME`). ResNet-50 at batch 1 on one thread, the builds before and after alternated
//! six times: 30.5-35.2 ms, median 31.0, against 31.5-34.1, median 32.2; at batch 8 the runs
//! spread over 260-400 ms in both builds, too widely to tell (`cargo bench --bench networks
//! -- --net resnet50 --batch 1,8 --threads 1`).
//!
//! Measured on the same machine and found no faster, so left out (one build choosing by an
//! environment variable, alternated, fastest of four or five runs, one thread):
//!
//! * BLIS's loop order inside a block (a 64-column `B` micro-panel kept in L1 while the tiles
//!   walk down the `A` panels, which come from L2), with `KC` 128 or 160 so that the
//!   micro-panel fits the 48 KiB L1d: within the noise of the order above on
//!   `convnext_pw_conv1x1_192_768_28`, `conv1x1s2_512_1024_28` and `conv1x1s2_256_512_56`.
//! * A 12 × 32 tile from two `A` panels (24 accumulators, two loads of `B` per 24 FMAs
//!   instead of four): 0.954 → 0.969 ms on `convnext_pw_conv1x1_192_768_28`, 0.870 → 0.889
//!   on `conv1x1s2_256_512_56`, 0.414 → 0.409 on `bottleneck_conv1x1_256_56`, and slower on
//!   7 × 7 planes, whose 49 columns do not split into 32s (0.411 → 0.497 on
//!   `conv1x1_2048_512_7`).
//! * Asking for `B`'s rows 8 or 16 steps ahead inside the tile's loop: the extra live values
//!   made the compiler keep the accumulators of the tiles with a tail of columns on the stack
//!   (seen in the disassembly), and every 1x1 layer ran up to twice as long even with the
//!   distance set to 0.
//!
//! In the profile, 98% of the 6 × 64 tile's samples fall inside its loop of FMAs, spread
//! evenly over them: what is left to gain is in that loop, not in the epilogue or the
//! packing.
//!
//! A layer at batch 1 reads its weights from memory when they were evicted since the last
//! forward (ResNet-50's 100 MB of them do not stay in a 32 MB L3), and on a 7 × 7 map (49
//! columns) each weight is used by one tile only, 6 × 49 multiply-adds per 24 bytes. Each tile
//! asks for the next panel of `A` while it runs, a line per two steps (`Ahead` in
//! `ahead.rs`), so the weights stream in under the arithmetic instead of stalling each tile's
//! start.
//!
//! Each block size is split evenly rather than cut at its maximum (`K = 576` runs as three
//! blocks of 192, not 256 + 256 + 64), so no block is a sliver.
//!
//! # Paths
//!
//! The serial entry points take the instruction set as an [`Isa`](crate::simd::Isa), which a
//! caller picks once per call with `Isa::detect` ([`crate::simd::avx2_fma`]'s and
//! [`crate::simd::avx512`]'s choice): the AVX-512 micro-kernel runs on `Isa::Avx512`, the
//! AVX2 + FMA one on `Isa::Avx2`, the portable one otherwise (`avx512.rs`, `avx2.rs`,
//! `kernel.rs`). All share the packing, the blocking and the epilogue (`tile.rs`), and give
//! the same numbers within rounding (the vector kernels fuse multiply and add; the AVX-512
//! one gives the AVX2 one's numbers bit for bit, its activations included).
//!
//! # Threads
//!
//! [`sgemm`] splits the columns of `C` into tasks and runs them on the crate's thread policy
//! ([`crate::threads`](mod@crate::threads)); [`gemm_serial`] runs one column range on the
//! calling thread, for callers that split the work themselves (conv2d splits by sample and
//! group first), and [`gemm_serial_rows`] one range of `A`'s panels (conv2d's split by output
//! channels, for an output with few columns).
//!
//! # Calling it
//!
//! Pack `A` once ([`PackedA::row_major`], or [`PackedA::new`] with strides for a transposed
//! one), describe `B` ([`StridedB`], or an own [`PackB`] that packs straight from where the
//! numbers live, or lends them in place when they already lie as a packed block,
//! [`PackB::view`]) and `C` ([`MatMut`], any strides), pick an [`Epilogue`], and call [`sgemm`].
//! A batch of independent products, such as Winograd's element-wise GEMMs (one per
//! transform position), is one [`PackedA`] per product and a [`gemm_serial`] per task inside
//! [`crate::threads::for_each`], with the `Isa` chosen once outside the loop.

mod ahead;
mod driver;
pub(crate) mod gemv;
mod kernel;
mod pack;
#[cfg(test)]
mod tests;
mod tile;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

pub(crate) use ahead::ask_rows;
pub(crate) use driver::{
    column_tasks, gemm_serial, gemm_serial_rows, panel_ranges, parallel_flops, sgemm, tasks_for,
};
pub(crate) use pack::{PackB, PackedA, StridedB, b_row_stride};

use core::marker::PhantomData;
use core::ops::Range;

use crate::simd::Activation;

/// Rows of a micro-tile, and of an `A` panel.
pub(crate) const MR: usize = 6;
/// Columns of a `B` panel (a packed block's rows are a whole number of them), and of the
/// AVX2 and portable micro-tiles.
pub(crate) const NR: usize = 16;
/// Columns of the AVX-512 micro-tile, a multiple of [`NR`]: four panels at a time.
#[cfg(target_arch = "x86_64")]
pub(crate) const NR_WIDE: usize = 64;
/// Largest `K` block.
pub(crate) const KC: usize = 256;
/// Largest `M` block, a multiple of [`MR`].
pub(crate) const MC: usize = 144;
/// Largest `N` block, a multiple of [`NR`].
pub(crate) const NC: usize = 384;

/// What happens to each element of `A · B` on its way into `C`, in this order: add `C`'s
/// previous value (`accumulate`), add the row's `bias`, apply `activation`.
///
/// A plain struct of independent options, so that a new one (a second tensor to add, a
/// per-row scale) is one more field with a default.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Epilogue<'a> {
    /// One value per row of `C` (in a convolution, per output channel).
    pub bias: Option<&'a [f32]>,
    /// Applied last, after the bias and the accumulation.
    pub activation: Activation,
    /// `C = act(C + A·B + bias)` instead of `C = act(A·B + bias)`: a residual add.
    pub accumulate: bool,
}

impl<'a> Epilogue<'a> {
    /// `C = activation(A·B + bias)`, overwriting `C`: a layer's own output.
    pub(crate) fn finish(bias: Option<&'a [f32]>, activation: Activation) -> Self {
        Epilogue {
            bias,
            activation,
            accumulate: false,
        }
    }
}

/// A mutable `rows × cols` view of `C` with any row and column stride, which owns its
/// elements uniquely: two views never share one, so views can go to different threads.
#[derive(Debug)]
pub(crate) struct MatMut<'a> {
    ptr: *mut f32,
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
    _borrow: PhantomData<&'a mut [f32]>,
}

// SAFETY: a `MatMut` is a unique borrow of its elements (the constructors check that, and
// `split_cols` and `split_rows` hand out disjoint ranges), so moving it to another thread is like
// moving a `&mut [f32]`.
unsafe impl Send for MatMut<'_> {}

impl<'a> MatMut<'a> {
    /// Element `(i, j)` of the view is `data[i * row_stride + j * col_stride]`.
    ///
    /// Panics if the view reaches past `data`, or if two of its elements would be the same
    /// one (a zero stride with more than one row or column).
    pub(crate) fn new(
        data: &'a mut [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        if rows > 0 && cols > 0 {
            let last = (rows - 1) * row_stride + (cols - 1) * col_stride;
            assert!(last < data.len(), "the view lies inside its slice");
            // Rows laid one after another (each row's span ends before the next starts), or
            // columns laid one after another: either way no two elements coincide.
            let nested = |outer: usize, outer_stride: usize, inner: usize, inner_stride: usize| {
                (inner == 1 || inner_stride > 0)
                    && (outer == 1 || outer_stride >= inner * inner_stride.max(1))
            };
            assert!(
                nested(rows, row_stride, cols, col_stride)
                    || nested(cols, col_stride, rows, row_stride),
                "the view's elements are distinct"
            );
        }
        MatMut {
            ptr: data.as_mut_ptr(),
            rows,
            cols,
            row_stride,
            col_stride,
            _borrow: PhantomData,
        }
    }

    /// A row-major `rows × cols` view of `data`.
    pub(crate) fn row_major(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        MatMut::new(data, rows, cols, cols, 1)
    }

    /// Rows.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    /// Splits the view into the given column ranges, which must be in order, disjoint and
    /// inside `0..cols`.
    pub(crate) fn split_cols(self, ranges: &[Range<usize>]) -> Vec<MatMut<'a>> {
        let mut end = 0;
        for r in ranges {
            assert!(end <= r.start && r.start <= r.end && r.end <= self.cols);
            end = r.end;
        }
        ranges
            .iter()
            .map(|r| MatMut {
                // SAFETY: `r.start <= cols`, so the offset stays inside (or one past) the
                // view's allocation; when the range is empty the pointer is never read.
                ptr: unsafe { self.ptr.add(r.start * self.col_stride) },
                rows: self.rows,
                cols: r.len(),
                row_stride: self.row_stride,
                col_stride: self.col_stride,
                _borrow: PhantomData,
            })
            .collect()
    }

    /// Splits the view into the given row ranges, which must be in order, disjoint and
    /// inside `0..rows`.
    pub(crate) fn split_rows(self, ranges: &[Range<usize>]) -> Vec<MatMut<'a>> {
        let mut end = 0;
        for r in ranges {
            assert!(end <= r.start && r.start <= r.end && r.end <= self.rows);
            end = r.end;
        }
        ranges
            .iter()
            .map(|r| MatMut {
                // SAFETY: `r.start <= rows`, so the offset stays inside (or one past) the
                // view's allocation; when the range is empty the pointer is never read.
                ptr: unsafe { self.ptr.add(r.start * self.row_stride) },
                rows: r.len(),
                cols: self.cols,
                row_stride: self.row_stride,
                col_stride: self.col_stride,
                _borrow: PhantomData,
            })
            .collect()
    }

    /// Pointer to element `(i, j)`.
    ///
    /// # Safety
    /// `i < rows` and `j < cols`, or the result is only used for address arithmetic.
    pub(crate) unsafe fn at(&self, i: usize, j: usize) -> *mut f32 {
        debug_assert!(i <= self.rows && j <= self.cols);
        // SAFETY: the caller keeps `(i, j)` inside the view, which lies inside its slice.
        unsafe { self.ptr.add(i * self.row_stride + j * self.col_stride) }
    }
}

/// Splits `0..total` into pieces of at most `max` (rounded up to a multiple of `align`),
/// all about the same size: `(start, len)` pairs.
pub(crate) fn blocks(
    total: usize,
    max: usize,
    align: usize,
) -> impl Iterator<Item = (usize, usize)> {
    debug_assert!(max >= align && align > 0);
    let count = total.div_ceil(max).max(1);
    let size = total.div_ceil(count).div_ceil(align) * align;
    (0..total)
        .step_by(size.max(1))
        .map(move |start| (start, size.min(total - start)))
}
