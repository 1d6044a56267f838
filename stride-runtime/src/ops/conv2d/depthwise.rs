//! Depthwise convolution computed directly: `groups == Cin`, one input channel per group, and
//! `Cout = m * Cin` (MobileNet's and EfficientNet's 3x3 and 5x5 at stride 1 and 2, ConvNeXt's
//! 7x7; `m > 1` is a depth multiplier). Each output plane is one input plane's taps times one
//! channel's `kh * kw` weights, plus its bias. No im2col matrix, which for one input channel per
//! group is `kh * kw` copies of the input for `kh * kw` multiply-adds per output.
//!
//! Any kernel size (rectangular too), stride, padding (asymmetric too) and dilation.
//!
//! The AVX2 path stages each input plane once, zero-padded and split by stride phase (the
//! columns `u` with the same `u % stride` together, the same for rows) in the calling thread's
//! workspace ([`avx2::Layout`]). In that staging every tap of every output reads at a fixed
//! offset from the output's own index `oy * pitch + ox`, whatever the stride and dilation, so
//! one loop computes every shape: up to 8 vectors of 8 consecutive outputs at once (8 FMA
//! chains in flight), each tap a broadcast weight and one load per vector. Wide rows are
//! computed row by row straight into the output; planes narrower than
//! [`avx2::ROW_ORDER_MIN_WIDTH`] run through the plane as one long row (the staging's pitch is
//! the output's), into a scratch row copied out as each row completes, so a 14-wide plane still
//! keeps 8 chains in flight. Input rows are staged as the output rows first need them, so
//! they are read in L1. The scalar path accumulates tap by tap into each output row, over the
//! outputs where each tap lands on the input ([`Taps`]).
//!
//! The bias starts every accumulator; the activation is applied in registers where it has a
//! vector form, else to each output row as soon as it is complete, while it is in L1. Planes
//! (one per sample and output channel) are split over the crate's threads
//! ([`crate::threads::for_each`]) when the layer has enough work for the split to pay.

use crate::gemm;
use crate::ops::taps::Taps;
use crate::simd::{Activation, Isa};

/// Work (multiply-adds plus staged input values) below which a layer runs on the calling
/// thread: about 20 µs of work on one core, where waking a second thread costs a few.
const PARALLEL_WORK: usize = 1 << 19;

/// The sizes of a depthwise convolution of one plane, checked by the caller: `output` is the
/// geometry crate's `conv_output` for `input`, this kernel, stride, dilation and the pads, of
/// which the kernel needs only the leading ones (the trailing ones are implied by `output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Depthwise {
    /// Input height and width, at least 1.
    pub input: [usize; 2],
    /// Output height and width, at least 1.
    pub output: [usize; 2],
    /// Kernel height and width, at least 1.
    pub kernel: [usize; 2],
    /// Stride along the height and the width, at least 1.
    pub stride: [usize; 2],
    /// Dilation along the height and the width, at least 1.
    pub dilation: [usize; 2],
    /// Padding at the top and at the left.
    pub pad: [usize; 2],
}

/// Convolves `x`, planes of `input` size (`N*Cin` of them, NCHW), into `y`, the `N*Cout`
/// output planes: output plane `n*Cout + c` is input plane `n*Cin + c/m` (`m = Cout/Cin`)
/// convolved with channel `c`'s `weight` (`[Cout, 1, kh, kw]`, PyTorch's layout for
/// `groups == Cin`) plus its `bias` (`[Cout]`), through `activation`, on `isa`'s path. Runs of
/// output planes are split over the crate's threads when there is enough work.
pub(crate) fn depthwise(
    isa: Isa,
    shape: &Depthwise,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    activation: Activation,
    y: &mut [f32],
) {
    shape.debug_check();
    let taps = shape.kernel[0] * shape.kernel[1];
    let channels = weight.len() / taps;
    let plane_in = shape.input[0] * shape.input[1];
    let plane_out = shape.output[0] * shape.output[1];
    debug_assert!(channels > 0 && weight.len() == taps * channels);
    debug_assert!(bias.is_none_or(|b| b.len() == channels));
    // Checked, not debug-checked: the caller may hand an uninitialised `y`, which this must
    // cover exactly with whole planes, each written by its kernel.
    assert!(x.len() % plane_in == 0 && y.len() % plane_out == 0);
    let (inputs, outputs) = (x.len() / plane_in, y.len() / plane_out);
    if outputs == 0 {
        return;
    }
    assert!(inputs > 0 && outputs % inputs == 0);
    let multiplier = outputs / inputs;
    debug_assert!(outputs % channels == 0 && channels % multiplier == 0);
    let work = outputs * plane_out * taps + inputs * plane_in;
    let tasks = if work < PARALLEL_WORK {
        1
    } else {
        gemm::tasks_for(crate::threads::threads()).min(outputs)
    };
    let per_task = outputs.div_ceil(tasks);
    #[cfg(target_arch = "x86_64")]
    let layout = match isa {
        Isa::Avx2(_) => avx2::Layout::new(shape),
        Isa::Scalar => None,
    };
    let runs: Vec<_> = y.chunks_mut(per_task * plane_out).enumerate().collect();
    crate::threads::for_each(runs, |(run, y)| {
        let first = run * per_task;
        let run = Planes {
            shape,
            x,
            weight,
            bias,
            activation,
            first,
            multiplier,
        };
        #[cfg(target_arch = "x86_64")]
        if let (Isa::Avx2(_), Some(layout)) = (isa, &layout) {
            // SAFETY: an `Avx2` value exists only where the CPU has AVX2 and FMA.
            unsafe { avx2::planes(&run, layout, y) };
            return;
        }
        // The scalar path, and the AVX2 path's fallback for a staging too large to be worth
        // it (a large dilation over mostly padding): `Layout::new` refused it.
        for (i, y) in y.chunks_exact_mut(plane_out).enumerate() {
            let (x, weights, bias) = run.plane(i);
            scalar::plane(shape, x, weights, bias, activation, y);
        }
    });
}

/// One task's run of output planes and what computing them takes.
pub(crate) struct Planes<'a> {
    shape: &'a Depthwise,
    /// Every input plane.
    x: &'a [f32],
    /// Every channel's weights, `[Cout, 1, kh, kw]`.
    weight: &'a [f32],
    bias: Option<&'a [f32]>,
    activation: Activation,
    /// The output plane (`n*Cout + c`) of the run's first.
    first: usize,
    /// `Cout / Cin`.
    multiplier: usize,
}

impl Planes<'_> {
    /// The index of the input plane of the run's output plane `i`.
    fn input_of(&self, i: usize) -> usize {
        (self.first + i) / self.multiplier
    }

    /// The input plane, the channel's weights and its bias for the run's output plane `i`.
    fn plane(&self, i: usize) -> (&[f32], &[f32], f32) {
        let [h, w] = self.shape.input;
        let taps = self.shape.kernel[0] * self.shape.kernel[1];
        let channel = (self.first + i) % (self.weight.len() / taps);
        (
            &self.x[self.input_of(i) * h * w..][..h * w],
            &self.weight[channel * taps..][..taps],
            self.bias.map_or(0.0, |b| b[channel]),
        )
    }
}

impl Depthwise {
    /// The kernels' preconditions, which the caller checked.
    fn debug_check(&self) {
        let sizes = [self.input, self.output, self.kernel, self.stride, self.dilation];
        debug_assert!(sizes.iter().flatten().all(|&s| s > 0));
    }

    /// The kernel rows `ki` of output row `oy` that land on the input, and the input row of
    /// the first: rows in the top or bottom padding are skipped.
    fn kernel_rows(&self, oy: usize) -> Taps {
        let [kh, _] = self.kernel;
        Taps::new(
            kh,
            self.dilation[0],
            oy,
            self.stride[0],
            self.pad[0],
            self.input[0],
        )
    }
}

/// The scalar path: every output row starts at the bias and takes each tap that lands on the
/// input, over the outputs whose tap does.
pub(crate) mod scalar {
    use super::{Activation, Depthwise, Taps};

    /// Convolves one plane with one channel's `weights` (row-major `kh * kw`) and `bias`,
    /// through `activation`.
    pub(crate) fn plane(
        shape: &Depthwise,
        x: &[f32],
        weights: &[f32],
        bias: f32,
        activation: Activation,
        y: &mut [f32],
    ) {
        let [_, width] = shape.input;
        let [_, ow] = shape.output;
        let [_, kw] = shape.kernel;
        let (stride, dilation) = (shape.stride[1], shape.dilation[1]);
        debug_assert!(weights.len() == shape.kernel[0] * kw);
        // For each kernel column, the outputs whose tap lands on the input.
        let columns: Vec<Taps> = (0..kw)
            .map(|kj| Taps::new(ow, stride, kj, dilation, shape.pad[1], width))
            .collect();
        for (oy, y_row) in y.chunks_exact_mut(ow).enumerate() {
            y_row.fill(bias);
            let rows = shape.kernel_rows(oy);
            for (i, ki) in rows.indices.enumerate() {
                let x_row = &x[(rows.first + i * shape.dilation[0]) * width..][..width];
                for (column, &t) in columns.iter().zip(&weights[ki * kw..][..kw]) {
                    let out = &mut y_row[column.indices.clone()];
                    let taken = x_row[column.first..].iter().step_by(stride);
                    for (o, &v) in out.iter_mut().zip(taken) {
                        *o += t * v;
                    }
                }
            }
            activation.apply_to_slice(y_row);
        }
    }
}

/// The AVX2 path: each input plane staged once, padded and split by stride phase
/// ([`avx2::Layout`]), then output rows two at a time, each load of the staging serving a tap of
/// each row where the two rows read the same input.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use std::arch::x86_64::*;

    use super::{Activation, Depthwise, Planes};
    use crate::simd::activation::avx2 as vector;
    use crate::workspace::Workspace;

    /// The most vectors of 8 outputs a row that [`pair`] computes at once: 12 accumulators for
    /// two rows, 3 of the 16 registers left for the weights and a load.
    const PAIR_VECTORS: usize = 6;

    /// The most vectors of 8 outputs that [`vectors`] computes at once, for a single row.
    const ROW_VECTORS: usize = 8;

    /// Where one input plane is staged: zero-padded and split by stride phase into planes of
    /// `rows x pitch`, one per (row phase, column phase) that some tap reads. Padded position
    /// `(r, u)` (the input at `(r - top, u - left)`, zero outside it) is at row `r / sh`, column
    /// `u / sw` of phase `(r % sh, u % sw)`. Output `(oy, ox)`'s tap `(ki, kj)` reads padded
    /// `(oy*sh + ki*dh, ox*sw + kj*dw)`: row `oy + ki*dh / sh`, column `ox + kj*dw / sw` of
    /// phase `(ki*dh % sh, kj*dw % sw)`, so at the offset `offsets[ki * kw + kj]` from
    /// `oy * pitch + ox`, the same for every output. Each phase plane has the rows and columns
    /// the outputs read; positions past them are never read and not staged.
    ///
    /// The next output row reads at the same offsets plus `pitch`, so where a tap of one row
    /// and a tap of the next read the same place, one load serves both ([`Pairs`]).
    #[derive(Debug)]
    pub(crate) struct Layout {
        /// Rows of a phase plane: the output rows plus the furthest row offset of a tap.
        rows: usize,
        /// Floats from one phase plane to the next: `rows * pitch` and a gap of a vector.
        plane: usize,
        /// Columns of a phase plane, and the pitch of an output's flat index
        /// `oy * pitch + ox`: the output columns plus the furthest column offset of a tap.
        pitch: usize,
        /// The row phases `ki*dh % sh` that some tap reads, ascending.
        row_phases: Vec<usize>,
        /// The column phases `kj*dw % sw` that some tap reads, ascending.
        column_phases: Vec<usize>,
        /// Each tap's offset, row-major over `(ki, kj)`, from an output's flat index to its
        /// input in the staging.
        offsets: Vec<usize>,
        /// How two consecutive rows read.
        pairs: Pairs,
        /// How an input row is staged.
        copy: RowCopy,
        /// Floats of the staging, slack for the reads of a row past the last included.
        len: usize,
        /// Floats of the scratch that rows narrower than a vector are computed into.
        scratch: usize,
    }

    /// How an input row goes into its row phase's phase planes, offsets from the row's start
    /// in the first of them, in whole vectors: `steps` whole ones, then at most one more
    /// whose loads and stores keep the lanes of `tail` (masks of the lanes below a count).
    #[derive(Debug, Clone, Copy)]
    enum RowCopy {
        /// Stride 1: the first `n` values to column `at`; the tail keeps `n % 8` lanes.
        Contiguous {
            at: usize,
            steps: usize,
            tail: Option<[i32; 8]>,
        },
        /// Stride 2, both column phases read: the even input columns to offset `even` and
        /// the odd ones to offset `odd`, 16 inputs to 8 of each per step; the tail's masks
        /// keep the inputs left in its two loads, and the even and odd values left.
        Split {
            even: usize,
            odd: usize,
            steps: usize,
            tail: Option<[[i32; 8]; 4]>,
        },
        /// Any other stride, or a single column phase: value by value.
        Strided,
    }

    impl RowCopy {
        /// The copy of a row of `width` values whose first goes to padded column `left`, into
        /// phase planes of `pitch` columns, `plane` floats apart.
        fn new(sw: usize, phases: usize, width: usize, left: usize, pitch: usize, plane: usize) -> Self {
            let below = |n: usize| core::array::from_fn(|lane| if lane < n { -1 } else { 0 });
            match (sw, phases) {
                (1, _) => {
                    let n = width.min(pitch.saturating_sub(left));
                    RowCopy::Contiguous {
                        at: left.min(pitch),
                        steps: n / 8,
                        tail: (n % 8 != 0).then(|| below(n % 8)),
                    }
                }
                (2, 2) => {
                    // Input column `ix` goes to phase `(ix + left) % 2`, column
                    // `(ix + left) / 2`.
                    let (e, o) = ((left / 2).min(pitch), left.div_ceil(2).min(pitch));
                    let evens = (pitch - e).min(width.div_ceil(2));
                    let odds = (pitch - o).min(width / 2);
                    // Whole steps while both phases take 8 and 16 inputs are left; the two
                    // counts differ by at most one, so one more step finishes both.
                    let steps = (evens.min(odds) / 8).min(width / 16);
                    let done = 8 * steps;
                    let rest = width - 2 * done;
                    let tail = (done < evens.max(odds)).then(|| {
                        [
                            below(rest.min(8)),
                            below(rest.saturating_sub(8)),
                            below(evens.saturating_sub(done)),
                            below(odds.saturating_sub(done)),
                        ]
                    });
                    let (even_plane, odd_plane) = if left % 2 == 0 { (0, plane) } else { (plane, 0) };
                    RowCopy::Split {
                        even: even_plane + e,
                        odd: odd_plane + o,
                        steps,
                        tail,
                    }
                }
                _ => RowCopy::Strided,
            }
        }
    }

    /// The loads that compute output rows `oy` (upper) and `oy + 1` (lower) together, as
    /// offsets from the upper row's flat index, sorted: each with the taps it serves.
    #[derive(Debug, Default)]
    struct Pairs {
        /// Read by a tap of each row: the upper row's tap and the lower row's.
        shared: Vec<usize>,
        shared_taps: Vec<[usize; 2]>,
        /// Read by the upper row only.
        upper: Vec<usize>,
        upper_taps: Vec<usize>,
        /// Read by the lower row only.
        lower: Vec<usize>,
        lower_taps: Vec<usize>,
    }

    impl Pairs {
        /// The loads of a row pair whose upper row reads at `offsets` (one per tap) and whose
        /// lower row reads `pitch` further.
        fn new(offsets: &[usize], pitch: usize) -> Pairs {
            let mut upper: Vec<(usize, usize)> =
                offsets.iter().copied().zip(0..).collect::<Vec<_>>();
            upper.sort_unstable();
            let mut pairs = Pairs::default();
            let mut lower_only = Vec::new();
            let mut matched = vec![false; offsets.len()];
            for (tap, &offset) in offsets.iter().enumerate() {
                let at = offset + pitch;
                match upper.binary_search_by_key(&at, |&(o, _)| o) {
                    Ok(i) => {
                        matched[upper[i].1] = true;
                        pairs.shared.push(at);
                        pairs.shared_taps.push([upper[i].1, tap]);
                    }
                    Err(_) => lower_only.push((at, tap)),
                }
            }
            for &(offset, tap) in upper.iter().filter(|&&(_, tap)| !matched[tap]) {
                pairs.upper.push(offset);
                pairs.upper_taps.push(tap);
            }
            lower_only.sort_unstable();
            (pairs.lower, pairs.lower_taps) = lower_only.into_iter().unzip();
            pairs
        }
    }

    impl Layout {
        /// The layout for `shape`, or `None` when the staging would be much larger than the
        /// planes it stands for (padding and dilation far larger than the input: the scalar
        /// path computes those without a staging).
        pub(crate) fn new(shape: &Depthwise) -> Option<Layout> {
            let [kh, kw] = shape.kernel;
            let [sh, sw] = shape.stride;
            let [dh, dw] = shape.dilation;
            let [oh, ow] = shape.output;
            // The geometry crate computed `(k - 1) * d` for the output size, so these fit.
            let (reach_h, reach_w) = ((kh - 1) * dh, (kw - 1) * dw);
            let phases = |taps: usize, dilation: usize, stride: usize| {
                let mut phases: Vec<usize> = (0..taps).map(|k| k * dilation % stride).collect();
                phases.sort_unstable();
                phases.dedup();
                phases
            };
            let row_phases = phases(kh, dh, sh);
            let column_phases = phases(kw, dw, sw);
            let rows = oh.checked_add(reach_h / sh)?;
            let pitch = ow.checked_add(reach_w / sw)?;
            // Each phase plane is followed by a gap of a vector, where the stores of its last
            // row's staging may spill.
            let plane = rows.checked_mul(pitch)?.checked_add(8)?;
            let len = plane
                .checked_mul(row_phases.len() * column_phases.len())?
                .checked_add(pitch.checked_mul(2)?.checked_add(8)?)?;
            let planes_len = shape.input[0] * shape.input[1] + oh * ow;
            if len > planes_len.saturating_mul(4).saturating_add(1 << 12) {
                return None;
            }
            let phase_of = |k: usize, d: usize, s: usize, phases: &[usize]| {
                phases.iter().position(|&p| p == k * d % s).expect("listed")
            };
            let offsets: Vec<usize> = (0..kh)
                .flat_map(|ki| (0..kw).map(move |kj| (ki, kj)))
                .map(|(ki, kj)| {
                    let row_phase = phase_of(ki, dh, sh, &row_phases);
                    let column_phase = phase_of(kj, dw, sw, &column_phases);
                    let phase = row_phase * column_phases.len() + column_phase;
                    phase * plane + ki * dh / sh * pitch + kj * dw / sw
                })
                .collect();
            let copy = RowCopy::new(
                sw,
                column_phases.len(),
                shape.input[1],
                shape.pad[1],
                pitch,
                plane,
            );
            Some(Layout {
                rows,
                plane,
                pitch,
                copy,
                row_phases,
                column_phases,
                pairs: Pairs::new(&offsets, pitch),
                offsets,
                len,
                // A vector a row for rows narrower than a vector, in pairs: an odd last row
                // has a lower row past the output.
                scratch: if ow < 8 { oh.next_multiple_of(2) * 8 } else { 0 },
            })
        }

        /// Stages the input rows of padded rows `done..end` of plane `x` (the others are
        /// padding, whose zeros stay in place), and sets `done` to `end` if it is further.
        ///
        /// A staged row's last vector is stored whole, zeros past the row's values: they land
        /// on its right padding, or past its pitch on the next row of its phase plane (a later
        /// padded row, staged after this one) or on the gap after the phase plane.
        ///
        /// # Safety
        ///
        /// AVX2 and FMA; `staged` is `self.len` long.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn stage(
            &self,
            shape: &Depthwise,
            x: &[f32],
            staged: &mut [f32],
            done: &mut usize,
            end: usize,
        ) {
            let [height, width] = shape.input;
            let [top, left] = shape.pad;
            let [sh, sw] = shape.stride;
            debug_assert!(x.len() == height * width && staged.len() == self.len);
            let (first, last) = ((*done).max(top), end.min(top + height));
            *done = (*done).max(end);
            if first >= last {
                return;
            }
            // Padded row `r` is row `b` of row phase `a`; `r` goes up by one, so `(a, b)`
            // follows without a division.
            let (mut b, mut a) = (first / sh, first % sh);
            let every_row_phase = self.row_phases.len() == sh;
            let copy = Copy::load(self.copy);
            for r in first..last {
                let row_phase = if every_row_phase {
                    Some(a)
                } else {
                    self.row_phases.iter().position(|&p| p == a)
                };
                if let Some(row_phase) = row_phase {
                    if b >= self.rows {
                        // Past every row an output reads, and so are the rows after it.
                        break;
                    }
                    let row = row_phase * self.column_phases.len() * self.plane + b * self.pitch;
                    let x_row = &x[(r - top) * width..][..width];
                    match copy {
                        // SAFETY: the stores stay within the row's pitch and a vector more in
                        // each of its phase planes (the gap after the last row of a plane),
                        // inside `staged`.
                        Some(copy) => unsafe { copy.row(x_row.as_ptr(), staged.as_mut_ptr().add(row)) },
                        None => self.stage_strided(x_row, &mut staged[row..], left, sw),
                    }
                }
                a += 1;
                if a == sh {
                    (a, b) = (0, b + 1);
                }
            }
        }

        /// Stages one input row at a stride other than 1 and 2 (or with one column phase
        /// read), value by value, into each phase it has values in; `staged` starts at the
        /// row in the first phase plane of its row phase.
        fn stage_strided(&self, x_row: &[f32], staged: &mut [f32], left: usize, sw: usize) {
            for (column_phase, &q) in self.column_phases.iter().enumerate() {
                let dest = &mut staged[column_phase * self.plane..][..self.pitch];
                // The input columns `ix` of this phase, `(ix + left) % sw == q`, go to column
                // `(ix + left) / sw`.
                let ix = (q + sw - left % sw) % sw;
                let v = (ix + left) / sw;
                if v >= self.pitch || ix >= x_row.len() {
                    continue;
                }
                let taken = x_row[ix..].iter().step_by(sw);
                for (d, &s) in dest[v..].iter_mut().zip(taken) {
                    *d = s;
                }
            }
        }

        /// Padded rows output row `oy` reads: `0..` one past its last kernel row's.
        fn rows_read(shape: &Depthwise, oy: usize) -> usize {
            oy * shape.stride[0] + (shape.kernel[0] - 1) * shape.dilation[0] + 1
        }
    }

    /// A [`RowCopy`] in vector stride 1 or 2, its tail masks in registers.
    #[derive(Clone, Copy)]
    enum Copy {
        Contiguous {
            at: usize,
            steps: usize,
            tail: Option<__m256i>,
        },
        Split {
            even: usize,
            odd: usize,
            steps: usize,
            tail: Option<[__m256i; 4]>,
        },
    }

    impl Copy {
        /// The vector form of `copy`, `None` for value by value.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        fn load(copy: RowCopy) -> Option<Copy> {
            // SAFETY: each mask is 8 `i32`s.
            let mask = |m: [i32; 8]| unsafe { _mm256_loadu_si256(m.as_ptr().cast()) };
            match copy {
                RowCopy::Contiguous { at, steps, tail } => Some(Copy::Contiguous {
                    at,
                    steps,
                    tail: tail.map(mask),
                }),
                RowCopy::Split {
                    even,
                    odd,
                    steps,
                    tail,
                } => Some(Copy::Split {
                    even,
                    odd,
                    steps,
                    tail: tail.map(|t| t.map(mask)),
                }),
                RowCopy::Strided => None,
            }
        }

        /// Stages the row at `src` into its phase planes, whose first starts at `dest`:
        /// `steps` whole vectors or steps, then the tail's lanes of one more, loaded masked
        /// and stored whole with zeros past the values. Stride 2 splits 16 inputs into 8 even
        /// and 8 odd columns a step with `_mm256_shuffle_ps`, as the stride-2 pools do.
        ///
        /// # Safety
        ///
        /// AVX2 and FMA; the row's values are readable and the stores writable.
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn row(self, src: *const f32, dest: *mut f32) {
            // Pairs of 64 bits in the order 0, 2, 1, 3 after the shuffles; this puts them in
            // order.
            let order = |v: __m256| {
                _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(v)))
            };
            let split = |lo: __m256, hi: __m256| {
                (
                    order(_mm256_shuffle_ps::<0b10_00_10_00>(lo, hi)),
                    order(_mm256_shuffle_ps::<0b11_01_11_01>(lo, hi)),
                )
            };
            // SAFETY: the caller's promise; the tails' loads are masked to the row's values.
            unsafe {
                match self {
                    Copy::Contiguous { at, steps, tail } => {
                        let dest = dest.add(at);
                        for i in 0..steps {
                            _mm256_storeu_ps(dest.add(8 * i), _mm256_loadu_ps(src.add(8 * i)));
                        }
                        if let Some(tail) = tail {
                            let i = 8 * steps;
                            _mm256_storeu_ps(dest.add(i), _mm256_maskload_ps(src.add(i), tail));
                        }
                    }
                    Copy::Split {
                        even,
                        odd,
                        steps,
                        tail,
                    } => {
                        let (e, o) = (dest.add(even), dest.add(odd));
                        for i in 0..steps {
                            let p = src.add(16 * i);
                            let (ev, od) = split(_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)));
                            _mm256_storeu_ps(e.add(8 * i), ev);
                            _mm256_storeu_ps(o.add(8 * i), od);
                        }
                        if let Some([lo, hi, keep_even, keep_odd]) = tail {
                            let (i, p) = (8 * steps, src.wrapping_add(16 * steps));
                            let lo = _mm256_maskload_ps(p, lo);
                            let hi = _mm256_maskload_ps(p.wrapping_add(8), hi);
                            let (ev, od) = split(lo, hi);
                            let keep = |v: __m256, m: __m256i| _mm256_and_ps(v, _mm256_castsi256_ps(m));
                            _mm256_storeu_ps(e.add(i), keep(ev, keep_even));
                            _mm256_storeu_ps(o.add(i), keep(od, keep_odd));
                        }
                    }
                }
            }
        }
    }

    /// Convolves a run of output planes into `y`, staging each input plane in this thread's
    /// workspace once for its `m` output planes.
    ///
    /// # Safety
    ///
    /// The CPU supports AVX2 and FMA; `layout` is `Layout::new(run.shape)`.
    pub(crate) unsafe fn planes(run: &Planes, layout: &Layout, y: &mut [f32]) {
        let shape = run.shape;
        let plane_out = shape.output[0] * shape.output[1];
        debug_assert!(y.len() % plane_out == 0);
        let pairs = &layout.pairs;
        // The channel's weights in the order of the pair loads, refilled for each plane.
        let mut shared_weights = vec![[0.0; 2]; pairs.shared.len()];
        let mut upper_weights = vec![0.0; pairs.upper.len()];
        let mut lower_weights = vec![0.0; pairs.lower.len()];
        Workspace::with(layout.len + layout.scratch, |buffer| {
            let (staged, scratch) = buffer.split_at_mut(layout.len);
            // Once for the run: every plane puts its input at the same places, so the
            // padding stays zero.
            staged.fill(0.0);
            let mut staged_input = None;
            let mut done = 0;
            for (i, y) in y.chunks_exact_mut(plane_out).enumerate() {
                if staged_input != Some(run.input_of(i)) {
                    staged_input = Some(run.input_of(i));
                    done = 0;
                }
                let (x, weights, bias) = run.plane(i);
                for (w, taps) in shared_weights.iter_mut().zip(&pairs.shared_taps) {
                    *w = taps.map(|t| weights[t]);
                }
                for (w, &t) in upper_weights.iter_mut().zip(&pairs.upper_taps) {
                    *w = weights[t];
                }
                for (w, &t) in lower_weights.iter_mut().zip(&pairs.lower_taps) {
                    *w = weights[t];
                }
                let filter = Filter {
                    bias,
                    activation: vector::has_vector_form(run.activation).then_some(run.activation),
                    offsets: &layout.offsets,
                    weights,
                    shared: &pairs.shared,
                    shared_weights: &shared_weights,
                    upper: &pairs.upper,
                    upper_weights: &upper_weights,
                    lower: &pairs.lower,
                    lower_weights: &lower_weights,
                };
                let stage = Stage {
                    layout,
                    shape,
                    x,
                    done: &mut done,
                };
                // SAFETY: the caller's promise; `staged` is `layout.len` long and `scratch`
                // `layout.scratch`.
                unsafe { plane(stage, staged, scratch, &filter, run.activation, y) };
            }
        });
    }

    /// The input plane being staged, and how far.
    struct Stage<'a> {
        layout: &'a Layout,
        shape: &'a Depthwise,
        x: &'a [f32],
        /// Padded rows before this are staged.
        done: &'a mut usize,
    }

    impl Stage<'_> {
        /// Stages what output row `oy` reads.
        fn rows_for(&mut self, staged: &mut [f32], oy: usize) {
            let end = Layout::rows_read(self.shape, oy);
            if end > *self.done {
                // SAFETY: `Stage`s exist only in `planes`, whose caller promised AVX2 and FMA.
                unsafe {
                    self.layout
                        .stage(self.shape, self.x, staged, self.done, end);
                }
            }
        }
    }

    /// Convolves one plane with `filter` through `activation` (in registers if
    /// `filter.activation` has it), staging its input as it goes.
    ///
    /// Rows go in pairs, each row as `ceil(ow / 8)` vectors, the last moved back to end at
    /// `ow`: a pair of wide rows in chunks of up to [`PAIR_VECTORS`] vectors a row, narrow rows
    /// several pairs at a time, an odd last row alone. A row narrower than a vector is
    /// computed as one vector into the scratch and copied out.
    ///
    /// # Safety
    ///
    /// The CPU supports AVX2 and FMA; `staged` is `layout.len` long and `scratch`
    /// `layout.scratch`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn plane(
        mut stage: Stage,
        staged: &mut [f32],
        scratch: &mut [f32],
        filter: &Filter,
        activation: Activation,
        y: &mut [f32],
    ) {
        let layout = stage.layout;
        let [oh, ow] = stage.shape.output;
        let pitch = layout.pitch;
        debug_assert!(staged.len() == layout.len && scratch.len() == layout.scratch);
        debug_assert!(y.len() == oh * ow && filter.weights.len() == layout.offsets.len());
        let narrow = ow < 8;
        let per_row = ow.div_ceil(8);
        // The first column of a row's vector `k`.
        let column = move |k: usize| if narrow { 0 } else { (8 * k).min(ow - 8) };
        // Where rows are stored: the output, or a vector a row of the scratch.
        let out_pitch = if narrow { 8 } else { ow };
        let mut oy = 0;
        while oy < oh {
            let rows = if oy + 1 == oh && !narrow {
                stage.rows_for(staged, oy);
                let mut k = 0;
                while k < per_row {
                    let n = (per_row - k).min(ROW_VECTORS);
                    // SAFETY: row `oy`'s reads end at the last phase plane's last row, column
                    // `pitch - 1`, inside `staged`; its vectors end at `ow`.
                    unsafe {
                        let from = staged.as_ptr().add(oy * pitch);
                        let out = y.as_mut_ptr().add(oy * ow);
                        singles(filter, n, from, out, |j| column(k + j));
                    }
                    k += n;
                }
                1
            } else if per_row > PAIR_VECTORS {
                stage.rows_for(staged, oy + 1);
                let chunks = per_row.div_ceil(PAIR_VECTORS);
                let mut k = 0;
                for c in 0..chunks {
                    let n = per_row / chunks + usize::from(c < per_row % chunks);
                    // SAFETY: as above, for rows `oy` and `oy + 1`.
                    unsafe {
                        let from = staged.as_ptr().add(oy * pitch);
                        let out = y.as_mut_ptr().add(oy * ow);
                        let at = |j| column(k + j);
                        pairs(filter, n, from, at, out, at, ow);
                    }
                    k += n;
                }
                2
            } else {
                // Narrow rows compute an odd last row with a lower row past the output, whose
                // stores land in the scratch's last row and reads in the staging's slack.
                let left = if narrow { oh - oy } else { (oh - oy) & !1 };
                let count = (PAIR_VECTORS / per_row).min(left.div_ceil(2));
                stage.rows_for(staged, (oy + 2 * count - 1).min(oh - 1));
                // Vector `j` is vector `j % per_row` of the upper row of pair `j / per_row`.
                let load = move |j: usize| 2 * (j / per_row) * pitch + column(j % per_row);
                let store = move |j: usize| 2 * (j / per_row) * out_pitch + column(j % per_row);
                // SAFETY: as above, for rows `oy..oy + 2 * count` (and the scratch's last).
                unsafe {
                    let from = staged.as_ptr().add(oy * pitch);
                    let out = if narrow {
                        scratch.as_mut_ptr().add(oy * out_pitch)
                    } else {
                        y.as_mut_ptr().add(oy * ow)
                    };
                    pairs(filter, count * per_row, from, load, out, store, out_pitch);
                }
                (2 * count).min(oh - oy)
            };
            let done = &mut y[oy * ow..(oy + rows) * ow];
            if narrow {
                for (y_row, s) in done.chunks_exact_mut(ow).zip(scratch[oy * 8..].chunks(8)) {
                    for (y, &s) in y_row.iter_mut().zip(s) {
                        *y = s;
                    }
                }
            }
            if filter.activation.is_none() {
                activation.apply_to_slice(done);
            }
            oy += rows;
        }
    }

    /// What every output of a plane takes: the bias, the activation if it is applied in
    /// registers, the taps' offsets and weights for one row, and for a row pair the loads of
    /// [`Pairs`] with their weights.
    struct Filter<'a> {
        bias: f32,
        activation: Option<Activation>,
        offsets: &'a [usize],
        weights: &'a [f32],
        shared: &'a [usize],
        shared_weights: &'a [[f32; 2]],
        upper: &'a [usize],
        upper_weights: &'a [f32],
        lower: &'a [usize],
        lower_weights: &'a [f32],
    }

    /// [`pair`] for `n` (1 to [`PAIR_VECTORS`]) vectors a row, vector `j` loaded at `load(j)`
    /// and stored at `store(j)`.
    ///
    /// # Safety
    ///
    /// As [`pair`].
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pairs(
        filter: &Filter,
        n: usize,
        from: *const f32,
        load: impl Fn(usize) -> usize,
        out: *mut f32,
        store: impl Fn(usize) -> usize,
        next: usize,
    ) {
        macro_rules! call {
            ($n:literal) => {{
                let (load, store) = (core::array::from_fn(&load), core::array::from_fn(&store));
                pair::<$n>(filter, from, load, out, store, next)
            }};
        }
        // SAFETY: the caller's promise.
        unsafe {
            match n {
                1 => call!(1),
                2 => call!(2),
                3 => call!(3),
                4 => call!(4),
                5 => call!(5),
                _ => call!(6),
            }
        }
    }

    /// `N` vectors of 8 consecutive outputs in each of two rows: the upper row's at flat
    /// indices `load[j]` from `from`, the lower row's `pitch` further (in `filter`'s offsets).
    /// Each shared load is multiplied by a weight of each row, the others by their row's; each
    /// row starts at the bias and goes through the activation if it is applied in registers.
    /// The upper row's vectors are stored at `out + store[j]`, the lower row's `next` further.
    ///
    /// # Safety
    ///
    /// AVX2 and FMA; `from + offset + load[j] .. + 8` is readable for every load's offset, and
    /// `out + store[j]` and `out + next + store[j]` writable for 8 floats.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pair<const N: usize>(
        filter: &Filter,
        from: *const f32,
        load: [usize; N],
        out: *mut f32,
        store: [usize; N],
        next: usize,
    ) {
        // SAFETY: the caller's promise.
        unsafe {
            let mut upper = [_mm256_set1_ps(filter.bias); N];
            let mut lower = upper;
            for (&offset, w) in filter.shared.iter().zip(filter.shared_weights) {
                let (w0, w1) = (_mm256_set1_ps(w[0]), _mm256_set1_ps(w[1]));
                let p = from.add(offset);
                for j in 0..N {
                    let v = _mm256_loadu_ps(p.add(load[j]));
                    upper[j] = _mm256_fmadd_ps(v, w0, upper[j]);
                    lower[j] = _mm256_fmadd_ps(v, w1, lower[j]);
                }
            }
            for (&offset, &w) in filter.upper.iter().zip(filter.upper_weights) {
                let (w, p) = (_mm256_set1_ps(w), from.add(offset));
                for j in 0..N {
                    upper[j] = _mm256_fmadd_ps(_mm256_loadu_ps(p.add(load[j])), w, upper[j]);
                }
            }
            for (&offset, &w) in filter.lower.iter().zip(filter.lower_weights) {
                let (w, p) = (_mm256_set1_ps(w), from.add(offset));
                for j in 0..N {
                    lower[j] = _mm256_fmadd_ps(_mm256_loadu_ps(p.add(load[j])), w, lower[j]);
                }
            }
            for j in 0..N {
                _mm256_storeu_ps(out.add(store[j]), finish(filter, upper[j]));
                _mm256_storeu_ps(out.add(next + store[j]), finish(filter, lower[j]));
            }
        }
    }

    /// [`single`] for `n` (1 to [`ROW_VECTORS`]) vectors of one row at columns `at(j)`.
    ///
    /// # Safety
    ///
    /// As [`single`].
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn singles(
        filter: &Filter,
        n: usize,
        from: *const f32,
        out: *mut f32,
        at: impl Fn(usize) -> usize,
    ) {
        macro_rules! call {
            ($n:literal) => {
                single::<$n>(filter, from, out, core::array::from_fn(&at))
            };
        }
        // SAFETY: the caller's promise.
        unsafe {
            match n {
                1 => call!(1),
                2 => call!(2),
                3 => call!(3),
                4 => call!(4),
                5 => call!(5),
                6 => call!(6),
                7 => call!(7),
                _ => call!(8),
            }
        }
    }

    /// `N` vectors of 8 consecutive outputs of one row, at columns `at`: the bias plus each
    /// tap's weight times the 8 inputs at its offset from `from + at[j]`, through the
    /// activation if it is applied in registers, stored at `out + at[j]`.
    ///
    /// # Safety
    ///
    /// AVX2 and FMA; `from + offset + at[j] .. + 8` is readable for every tap's offset, and
    /// `out + at[j]` writable for 8 floats.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn single<const N: usize>(filter: &Filter, from: *const f32, out: *mut f32, at: [usize; N]) {
        // SAFETY: the caller's promise.
        unsafe {
            let mut acc = [_mm256_set1_ps(filter.bias); N];
            for (&offset, &weight) in filter.offsets.iter().zip(filter.weights) {
                let weight = _mm256_set1_ps(weight);
                let p = from.add(offset);
                for j in 0..N {
                    acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(p.add(at[j])), weight, acc[j]);
                }
            }
            for j in 0..N {
                _mm256_storeu_ps(out.add(at[j]), finish(filter, acc[j]));
            }
        }
    }

    /// The activation of a finished vector, if it is applied in registers.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn finish(filter: &Filter, v: __m256) -> __m256 {
        match filter.activation {
            Some(activation) => vector::apply(activation, v),
            None => v,
        }
    }
}

#[cfg(test)]
mod tests;
