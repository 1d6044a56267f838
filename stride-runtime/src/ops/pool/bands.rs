//! A max pool run a band of output rows at a time, over just the input rows the band reads:
//! for a convolution that makes its output a band of rows at a time and pools each band while
//! it is still in the caches (`ops/conv2d/pooled.rs`), so that its whole output is never
//! written to memory and read back.
//!
//! It takes the pools that run on the separable row kernels when called alone
//! ([`Kernel::choose`], and not `small.rs`'s), and runs those kernels on each band with the
//! band's own row windows, so every output is the one [`super::max_pool2d`] gives, bit for bit.

use std::ops::Range;

use stride_geometry::Window;

use super::separable::{Reduction, Scratch, Separable};
use super::windows::{AxisWindows, Span};
use super::{Kernel, MAX_POOL, MaxPool2dParams, Sliding};
use crate::simd::Isa;

/// A max pool over planes of one size, ready to run by bands of output rows.
#[derive(Debug, Clone)]
pub(crate) struct MaxBands {
    isa: Isa,
    rows: AxisWindows,
    cols: AxisWindows,
    width: Window,
}

impl MaxBands {
    /// The pool `params` over `[H, W]` planes of `input`, on `isa`, when it runs on the
    /// separable row kernels; `None` for any other pool, and for one the pool refuses (whose
    /// unfused call reports why).
    pub(crate) fn new(isa: Isa, params: &MaxPool2dParams, input: [usize; 2]) -> Option<MaxBands> {
        if input.contains(&0) {
            return None;
        }
        let (windows, output) = Sliding::max(params).resolve(MAX_POOL, input).ok()?;
        #[cfg(target_arch = "x86_64")]
        if super::small::Small::new(isa, windows, input, output).is_some() {
            return None;
        }
        let rows = AxisWindows::sliding(MAX_POOL, input[0], output[0], windows[0]).ok()?;
        let cols = AxisWindows::sliding(MAX_POOL, input[1], output[1], windows[1]).ok()?;
        (Kernel::choose(&rows, &cols, windows[1]) == Kernel::Separable).then_some(MaxBands {
            isa,
            rows,
            cols,
            width: windows[1],
        })
    }

    /// The output plane's size.
    pub(crate) fn output(&self) -> [usize; 2] {
        [self.rows.output(), self.cols.output()]
    }

    /// The input rows that output rows `out` (a non-empty range of them) read.
    pub(crate) fn input_rows(&self, out: Range<usize>) -> Range<usize> {
        debug_assert!(out.start < out.end && out.end <= self.rows.output());
        let (first, last) = (self.rows.spans[out.start], self.rows.spans[out.end - 1]);
        // Every window of a pool the geometry accepts holds an input row.
        debug_assert!(first.taps > 0 && last.taps > 0);
        first.first..last.first + last.taps
    }

    /// Runs `f` with the pool of output rows `out`: each plane it is given is the band's
    /// input rows ([`MaxBands::input_rows`]) of one input plane, pooled into the band's rows
    /// of the output plane.
    pub(crate) fn band<R>(&self, out: Range<usize>, f: impl FnOnce(&mut BandPool) -> R) -> R {
        let from = self.input_rows(out.clone());
        let spans = self.rows.spans[out]
            .iter()
            .map(|s| Span {
                first: s.first - from.start,
                ..*s
            })
            .collect();
        let rows = AxisWindows {
            input: from.len(),
            dilation: 1,
            spans,
        };
        let pool = Separable::on_isa(&rows, &self.cols, self.width, Reduction::Max, self.isa);
        let scratch = pool.scratch();
        f(&mut BandPool { pool, scratch })
    }
}

/// The pool of one band of output rows ([`MaxBands::band`]).
pub(crate) struct BandPool<'a> {
    pool: Separable<'a>,
    scratch: Scratch,
}

impl BandPool<'_> {
    /// Pools the band's input rows of one plane, `x`, into its output rows, `y`.
    pub(crate) fn plane(&mut self, x: &[f32], y: &mut [f32]) {
        self.pool.plane(&mut self.scratch, x, y);
    }
}
