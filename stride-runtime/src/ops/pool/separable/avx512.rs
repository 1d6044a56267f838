//! The AVX-512 row kernel of the separable pools: both passes of `scalar.rs` for 16 outputs at
//! a time, in registers, with the same values.
//!
//! For a block of 16 outputs of an output row, the input columns under their windows are
//! `stride * 15 + kernel` consecutive columns of each input row, at most 4 vectors of 16. Each
//! vector is loaded from every input row under the windows and reduced element-wise, as
//! [`scalar::vertical`](super::scalar::vertical) reduces the padded row (the vertical pass);
//! then tap `k` of the 16 windows is picked from those vectors with one
//! `_mm512_permutex2var_ps` (lanes `k + i` at stride 1; at stride 2, even and odd positions split
//! first, then lanes `k/2 + i` of the split), and the taps are reduced left to right as
//! [`scalar::horizontal`](super::scalar::horizontal) does (the horizontal pass). The loads are
//! masked to the columns on the input, the others reading as the reduction's identity, which is
//! what the padded row holds there: so every output gets the same operations, in the same
//! order, as on the scalar path, and the same bits.
//!
//! Where the AVX2 kernels write the vertical reduction to the padded row and read it back at
//! each window's offset (a store and loads that straddle it, for every output row), this
//! kernel keeps it in registers, and one masked block covers a row of fewer than 16 outputs
//! (a 7x7 or 14x14 map) that the AVX2 path left to the scalar kernel. Measured on the layer
//! bench: see `separable.rs`.
//!
//! Tried and left out (AMD EPYC Zen 5, same bench): full-width stores spilling into the next
//! row instead of masked stores, as slow or slower. Still behind ONNX Runtime: stride-1 pools
//! on maps of 7 and 17 columns (one block per 7 outputs; 16 + 1) and 5x5 averages.

use std::arch::x86_64::*;

use stride_geometry::Window;

use super::super::windows::Span;

/// The widest window this kernel takes: a stride-1 block reads 15 + 16 columns, two vectors.
pub(crate) const MAX_KERNEL: usize = 16;

/// The vectors of 16 input columns a block may read: `15 * 2 + 16` columns at stride 2.
const MAX_LOADS: usize = 4;

/// 16 outputs of an output row, and where their windows fall along an input row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Block {
    /// The first of the 16 outputs.
    first: usize,
    /// The input column of the first window's first tap, `first * stride - pad_begin`:
    /// negative in the begin padding.
    base: isize,
    /// For each vector `v` of 16 columns from `base + 16 v`, the lanes on the input.
    loads: [u16; MAX_LOADS],
    /// The lanes that are outputs of the row.
    outputs: u16,
}

/// The windows of one output row, as blocks of 16 outputs: what [`rows`] needs beyond the
/// input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blocks {
    blocks: Vec<Block>,
    /// How many of the [`MAX_LOADS`] vectors a block reads.
    loads: usize,
    kernel: usize,
    stride: usize,
    /// Outputs per row.
    output: usize,
}

impl Blocks {
    /// The blocks of a row of `output` outputs over `input` columns with the width's `window`,
    /// or `None` for a window this kernel does not take (stride above 2, kernel above
    /// [`MAX_KERNEL`]).
    pub(crate) fn new(input: usize, output: usize, window: Window) -> Option<Blocks> {
        let (kernel, stride) = (window.kernel, window.stride);
        if !(1..=2).contains(&stride) || !(1..=MAX_KERNEL).contains(&kernel) {
            return None;
        }
        debug_assert_eq!(window.dilation, 1);
        let loads = (15 * stride + kernel).div_ceil(16);
        debug_assert!(loads <= MAX_LOADS);
        // Bounded by the row the caller allocated for the other paths (`Kernel::choose`).
        let wide = |v: usize| isize::try_from(v).expect("a row that fits in memory");
        let blocks = (0..output)
            .step_by(16)
            .map(|first| {
                let base = wide(first * stride) - wide(window.pad_begin);
                let lanes = |from: isize| {
                    (0..16)
                        .filter(|&j| (0..wide(input)).contains(&(from + j)))
                        .fold(0u16, |mask, j| mask | 1 << j)
                };
                let outputs = (output - first).min(16);
                Block {
                    first,
                    base,
                    loads: [0, 1, 2, 3].map(|v| lanes(base + 16 * v)),
                    outputs: (1u32 << outputs).wrapping_sub(1) as u16,
                }
            })
            .collect();
        Some(Blocks {
            blocks,
            loads,
            kernel,
            stride,
            output,
        })
    }
}

/// `acc ⊕ v` on 16 lanes, the same as [`scalar::combine`](super::scalar::combine): for the
/// max, `_mm512_max_ps(v, acc)` is `v > acc ? v : acc` and gives `acc` when either is NaN,
/// and the blend then takes `v` where `v` is NaN; or the sum.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
pub(crate) fn combine<const MAX: bool>(acc: __m512, v: __m512) -> __m512 {
    if MAX {
        let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
        _mm512_mask_blend_ps(nan, _mm512_max_ps(v, acc), v)
    } else {
        _mm512_add_ps(acc, v)
    }
}

/// Pools the output rows whose windows span `spans` vertically into `out` (one row of
/// `blocks.output` per span), each output times its `scale` if there is one: for each output
/// row, the input rows `span.first..span.first + span.taps` of the row-major plane `x` of
/// `width` columns, reduced by [`Blocks`] of 16 outputs.
///
/// The common windows (2 and 3 wide) have the kernel's width as a constant, so that the taps'
/// loop unrolls; every other takes it at run time.
///
/// # Safety
///
/// The CPU supports AVX-512F, AVX2 and FMA.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(crate) unsafe fn rows<const MAX: bool>(
    x: &[f32],
    width: usize,
    spans: &[Span],
    blocks: &Blocks,
    scale: Option<&[f32]>,
    out: &mut [f32],
) {
    let output = blocks.output;
    assert!(width > 0 && x.len() % width == 0 && output > 0);
    assert_eq!(out.len(), spans.len() * output);
    assert!(scale.is_none_or(|s| s.len() == output));
    // The blocks were made for this width: their unmasked lanes are columns `0..width`.
    let input_rows = x.len() / width;
    for span in spans {
        assert!(span.taps > 0 && span.first + span.taps <= input_rows);
    }
    let input = Input {
        x,
        width,
        blocks,
        scale,
    };
    // SAFETY: the CPU is the caller's to check; the bounds are checked above, and each
    // `(STRIDE, KERNEL, LOADS)` is the blocks' own (`KERNEL` 0: `blocks.kernel`).
    unsafe {
        match (blocks.stride, blocks.kernel, blocks.loads) {
            (1, 2, 2) => rows_with::<MAX, 1, 2, 2>(input, spans, out),
            (1, 3, 2) => rows_with::<MAX, 1, 3, 2>(input, spans, out),
            (2, 2, 2) => rows_with::<MAX, 2, 2, 2>(input, spans, out),
            (2, 3, 3) => rows_with::<MAX, 2, 3, 3>(input, spans, out),
            (1, _, 1) => rows_with::<MAX, 1, 0, 1>(input, spans, out),
            (1, _, 2) => rows_with::<MAX, 1, 0, 2>(input, spans, out),
            (2, _, 2) => rows_with::<MAX, 2, 0, 2>(input, spans, out),
            (2, _, 3) => rows_with::<MAX, 2, 0, 3>(input, spans, out),
            other => unreachable!("`Blocks::new` makes no {other:?}"),
        }
    }
}

/// The `LOADS` vectors of columns from `at` (the lanes of `loads`; the others `identity`),
/// each reduced over `taps` rows `width` apart.
///
/// # Safety
///
/// AVX-512F, AVX2 and FMA; the lanes of `loads[l]` at `at + 16 l + r * width` are readable for
/// `l < LOADS`, `r < taps`; `taps >= 1`.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn vertical<const MAX: bool, const LOADS: usize>(
    at: *const f32,
    width: usize,
    taps: usize,
    loads: &[u16; MAX_LOADS],
    identity: __m512,
) -> [__m512; MAX_LOADS] {
    let mut v = [identity; MAX_LOADS];
    // SAFETY: a masked load does not touch the other lanes' addresses; the caller guarantees
    // the lanes it reads.
    unsafe {
        for l in 0..LOADS {
            // A vector wholly off the input (past a short row) stays the identity.
            if loads[l] == 0 {
                continue;
            }
            v[l] = _mm512_mask_loadu_ps(identity, loads[l], at.wrapping_add(16 * l));
            for r in 1..taps {
                let row = at.wrapping_add(r * width + 16 * l);
                v[l] = combine::<MAX>(v[l], _mm512_mask_loadu_ps(identity, loads[l], row));
            }
        }
    }
    v
}

/// What every output row of a [`rows`] call reads.
#[derive(Clone, Copy)]
struct Input<'a> {
    /// The row-major input plane.
    x: &'a [f32],
    /// Its row length.
    width: usize,
    /// The output row's blocks.
    blocks: &'a Blocks,
    /// An average's multipliers.
    scale: Option<&'a [f32]>,
}

/// [`rows`] for windows `STRIDE` apart, `KERNEL` wide (0: `blocks.kernel`), whose blocks read
/// `LOADS` vectors of columns.
///
/// # Safety
///
/// AVX-512F, AVX2 and FMA; what [`rows`] checks; `STRIDE`, `KERNEL` and `LOADS` are the
/// blocks'.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn rows_with<
    const MAX: bool,
    const STRIDE: usize,
    const KERNEL: usize,
    const LOADS: usize,
>(
    Input {
        x,
        width,
        blocks,
        scale,
    }: Input<'_>,
    spans: &[Span],
    out: &mut [f32],
) {
    debug_assert_eq!((STRIDE, LOADS), (blocks.stride, blocks.loads));
    debug_assert!(KERNEL == 0 || KERNEL == blocks.kernel);
    let kernel = if KERNEL > 0 { KERNEL } else { blocks.kernel };
    let output = blocks.output;
    let identity = if MAX {
        _mm512_set1_ps(f32::NEG_INFINITY)
    } else {
        _mm512_setzero_ps()
    };
    let lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let even = _mm512_add_epi32(lane, lane);
    let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (span, y) in spans.iter().zip(out.chunks_exact_mut(output)) {
        let top = x[span.first * width..].as_ptr();
        for block in &blocks.blocks {
            // The vertical pass: each vector of columns reduced over the rows, the vectors
            // side by side; the common heights unrolled.
            let at = top.wrapping_offset(block.base);
            // SAFETY: `span`'s rows are inside `x` by `rows`' assert, and the block's lanes
            // are columns of the row.
            let v = unsafe {
                match span.taps {
                    2 => vertical::<MAX, LOADS>(at, width, 2, &block.loads, identity),
                    3 => vertical::<MAX, LOADS>(at, width, 3, &block.loads, identity),
                    taps => vertical::<MAX, LOADS>(at, width, taps, &block.loads, identity),
                }
            };
            // The horizontal pass: tap `k` of window `i` is column `STRIDE * i + k`.
            let mut acc;
            if STRIDE == 1 {
                acc = v[0];
                for k in 1..kernel {
                    let at = _mm512_add_epi32(lane, _mm512_set1_epi32(k as i32));
                    acc = combine::<MAX>(acc, _mm512_permutex2var_ps(v[0], at, v[1]));
                }
            } else {
                let low = [
                    _mm512_permutex2var_ps(v[0], even, v[1]),
                    _mm512_permutex2var_ps(v[0], odd, v[1]),
                ];
                acc = low[0];
                if kernel > 1 {
                    acc = combine::<MAX>(acc, low[1]);
                }
                if kernel > 2 {
                    let high = [
                        _mm512_permutex2var_ps(v[2], even, v[3]),
                        _mm512_permutex2var_ps(v[2], odd, v[3]),
                    ];
                    for k in 2..kernel {
                        let at = _mm512_add_epi32(lane, _mm512_set1_epi32((k / 2) as i32));
                        let tap = _mm512_permutex2var_ps(low[k % 2], at, high[k % 2]);
                        acc = combine::<MAX>(acc, tap);
                    }
                }
            }
            if let Some(scale) = scale {
                // SAFETY: the lanes of `outputs` are outputs `first..first + 16` below
                // `output`, the length of `scale`.
                let s = unsafe {
                    _mm512_maskz_loadu_ps(block.outputs, scale.as_ptr().add(block.first))
                };
                acc = _mm512_mul_ps(acc, s);
            }
            // SAFETY: as for `scale`, `y` has `output` values.
            unsafe { _mm512_mask_storeu_ps(y.as_mut_ptr().add(block.first), block.outputs, acc) };
        }
    }
}
