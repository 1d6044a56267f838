//! What a tile asks for while it runs: the next panel of `A`, a cache line at a time
//! ([`Ahead`]), and the rows of `C` the next tile writes ([`ask_rows`]).

/// The memory a later tile will read, asked for a cache line at a time while this tile runs:
/// the next panel of `A` (the next group of rows, in [`gemv`](super::gemv)).
///
/// With weights that are not in cache (a batch-1 layer whose weights were evicted since the
/// last forward) each panel would otherwise come from memory when its tile starts: the
/// panels of one `K` block lie a whole panel apart (`K × MR` values), so the hardware
/// prefetcher, which follows a stream, starts over at each. The vector kernels ask for one
/// line per two steps, the rate at which they read their own panel (`2 × MR` values, 0.75 of
/// a line), so the requests are spread over the tile instead of queueing up at its start.
/// Measured on Zen 5 (one thread, a layer cycling through copies of its weights that
/// overflow L3, against the same layer repeated with warm weights): a 768 → 3072 1x1 on a
/// 7x7 map took 1.55 ms cold with the whole next panel asked for at the start of each tile,
/// and takes 1.05-1.09 now (0.97 warm); a 512 → 512 3x3 on 7x7, 1.15-1.18 warm and 1.21-1.22
/// cold. Asking into L2 only (`T1`) measured 2-7% slower than into L1 (`T0`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Ahead {
    next: usize,
    end: usize,
}

impl Ahead {
    /// Nothing to ask for.
    pub(super) const NONE: Ahead = Ahead { next: 0, end: 0 };

    /// The lines of `values`, from the one holding its first value.
    pub(super) fn new(values: &[f32]) -> Ahead {
        let start = values.as_ptr() as usize;
        Ahead {
            next: start & !(LINE - 1),
            end: start + core::mem::size_of_val(values),
        }
    }

    /// Asks for the next line, if any is left.
    #[inline(always)]
    pub(super) fn line(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if let Some(line) = self.next_line() {
            use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            // SAFETY: SSE is part of x86_64; a prefetch is a hint, which reads nothing and
            // cannot fault, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line as *const i8) };
        }
    }

    /// The address of the next line to ask for, if any is left.
    #[inline(always)]
    fn next_line(&mut self) -> Option<usize> {
        (self.next < self.end).then(|| {
            self.next += LINE;
            self.next - LINE
        })
    }
}

/// Bytes of a cache line.
const LINE: usize = 64;

/// Asks for the cache lines of `rows` rows of `cols` values, `stride` values apart from
/// `first`: the block of `C` the next tile will write, asked for while this one runs.
///
/// A layer's output larger than an L2 is a buffer the forward last used layers ago, so it
/// is in L3 at best, and a tile writes `MR` rows a plane apart, short runs the hardware
/// prefetcher likely does not follow (not measured: these VMs give no cache counters).
/// Asked for while the tile before runs, the lines arrive while it multiplies. `conv2d`'s
/// pointwise kernel asks so, for outputs larger than an L2 (`OUT_OF_L2` there, with the
/// measurements). The GEMM's tiles asking for the next tile's `C` the same way gained
/// nothing in ResNet-50 at batch 1 on one thread (`cargo bench --bench networks -- --net
/// resnet50 --batch 1 --threads 1 --profile`, a Xeon with AVX-512, the two builds
/// alternated twice: its 1x1 layers of 256 and 512 input channels took 0.80-0.99 ms either
/// way), so the GEMM does not.
#[inline(always)]
pub(crate) fn ask_rows(first: *const f32, rows: usize, stride: usize, cols: usize) {
    #[cfg(target_arch = "x86_64")]
    for i in 0..rows {
        let row = first.wrapping_add(i * stride);
        let (start, end) = (row as usize & !(LINE - 1), row.wrapping_add(cols) as usize);
        for line in (start..end).step_by(LINE) {
            use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            // SAFETY: SSE is part of x86_64; a prefetch is a hint, which reads nothing and
            // cannot fault, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line as *const i8) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (first, rows, stride, cols);
}

#[cfg(test)]
mod tests {
    use super::{Ahead, LINE};

    #[test]
    fn ahead_asks_for_every_line_of_its_values_once_and_no_other() {
        let values = vec![0.0f32; 200];
        for start in 0..40 {
            for len in [0, 1, 15, 16, 17, 33, 150] {
                let slice = &values[start..start + len];
                let (first, end) = (slice.as_ptr() as usize, slice.as_ptr() as usize + 4 * len);
                let mut ahead = Ahead::new(slice);
                let lines: Vec<usize> = core::iter::from_fn(|| ahead.next_line()).collect();
                let want: Vec<usize> = (first / LINE..end.div_ceil(LINE))
                    .map(|l| l * LINE)
                    .collect();
                assert_eq!(lines, want, "start {start}, len {len}");
            }
        }
        let mut none = Ahead::NONE;
        assert_eq!(none.next_line(), None);
    }
}
