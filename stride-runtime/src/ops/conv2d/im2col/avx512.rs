//! im2col's packing of `B` in AVX-512 masked vectors.
//!
//! A packed row `(c, ki, kj)` is, output row by output row, a run of input pixels (every
//! `stride`-th one of an input row) with padding zeros on either side. The portable packing
//! splits each output row into a fill of zeros, a copy and another fill: three calls and their
//! bounds for a run of 28 or 56 values, which on the suite's im2col layers cost more than the
//! copying (packing was 10-30% of `conv5x5_16_32_28`, the ResNet and MobileNet stems and
//! ConvNeXt's patchify stem, Zen 5). Here each 16 output columns are one masked load (a
//! lane outside the input is masked off and reads as zero, and is never touched) and one
//! store:
//!
//! * stride 1: one load;
//! * stride 2: two loads and a `vpermt2ps` that keeps the even lanes;
//! * any other stride: a masked gather.
//!
//! The numbers are the input's own values, so this packs exactly what the portable packing
//! packs (the packing test compares both with the unrolled matrix).

use core::arch::x86_64::*;

use stride_geometry::Window;

use crate::gemm::NR;
use crate::ops::conv_layer::Geometry;
use crate::ops::taps::Taps;

/// Lanes of a zmm register.
const LANES: usize = 16;

/// Whether [`pack`] takes `g`: a width stride whose gather offsets (`15 * stride`) fit the
/// gather's 32-bit indices. Any real layer does; a hostile stride goes the portable way.
pub(super) fn takes(g: &Geometry<Window>) -> bool {
    g.axes[1].stride <= (i32::MAX as usize) / LANES
}

/// The bits `lo..hi` of a 64-bit mask, with `lo` and `hi` clamped into `0..=64`: the lanes of
/// a block of vectors whose output column falls in `lo..hi`.
#[inline(always)]
fn lanes(lo: isize, hi: isize) -> u64 {
    let (lo, hi) = (lo.clamp(0, 64) as u32, hi.clamp(0, 64) as u32);
    if hi <= lo {
        return 0;
    }
    let below = |n: u32| if n == 64 { !0 } else { (1u64 << n) - 1 };
    below(hi) & !below(lo)
}

/// [`PackB::pack`](crate::gemm::PackB::pack) of im2col's matrix of the planes `x` under `g`
/// on AVX-512: the same rows, columns and zero padding. `row(k)` gives row `k`'s input plane
/// offset and its taps along each axis (the source's tables); `before(p)` runs before the
/// block's row `p` is packed (the source's prefetches).
///
/// # Safety
/// The CPU has AVX-512F; [`takes`] accepted `g`; `row` gives the taps of `g` for rows of `x`;
/// rows `k0..k0 + kc` and columns `j0..j0 + nc` lie inside the matrix and `dst` holds `kc`
/// rows `row_stride` apart, each `nc` rounded up to [`NR`] long.
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn pack<'t>(
    g: &Geometry<Window>,
    x: &[f32],
    row: impl Fn(usize) -> (usize, &'t Taps, &'t Taps),
    before: impl Fn(usize),
    (k0, kc): (usize, usize),
    (j0, nc): (usize, usize),
    dst: &mut [f32],
    row_stride: usize,
) {
    let [window_h, _] = g.axes;
    let (w, ow) = (g.input[1], g.output[1]);
    let stride = g.axes[1].stride;
    let width = nc.div_ceil(NR) * NR;
    assert!(kc == 0 || dst.len() >= (kc - 1) * row_stride + width);
    for p in 0..kc {
        before(p);
        let line = &mut dst[p * row_stride..p * row_stride + width];
        let (plane, ys, xs) = row(k0 + p);
        let mut n = j0;
        let (mut oy, mut ox0) = (j0 / ow, j0 % ow);
        while n < j0 + nc {
            let len = (ow - ox0).min(j0 + nc - n);
            let segment = &mut line[n - j0..n - j0 + len];
            if ys.indices.contains(&oy) && !xs.indices.is_empty() {
                let iy = ys.first + (oy - ys.indices.start) * window_h.stride;
                // Where output column `ox` of this row reads: `origin + ox * stride`, inside
                // the input row for `ox` in `xs.indices` and wherever it falls for the others,
                // which are masked off.
                let origin =
                    (plane + iy * w + xs.first) as isize - (xs.indices.start * stride) as isize;
                let valid = (
                    xs.indices.start as isize - ox0 as isize,
                    xs.indices.end as isize - ox0 as isize,
                );
                let from = origin + (ox0 * stride) as isize;
                // SAFETY: AVX-512F as the caller promised; every lane in `valid` reads
                // `x[from + t * stride]` for a column `ox0 + t` of `xs.indices`, inside the
                // row `iy` of plane `c` of `x`.
                unsafe { run(segment, x, from, stride, valid) };
            } else {
                // SAFETY: AVX-512F as the caller promised.
                unsafe { zeros(segment) };
            }
            n += len;
            (oy, ox0) = (oy + 1, 0);
        }
        // SAFETY: AVX-512F as the caller promised.
        unsafe { zeros(&mut line[nc..]) };
    }
}

/// `dst[t] = x[from + t * stride]` for `t` in `valid` (a range that may reach past either end
/// of `dst`), 0 for the other `t` of `dst`.
///
/// # Safety
/// The CPU has AVX-512F, and `from + t * stride` lies inside `x` for every `t` of `dst` in
/// `valid`; `stride * 15` fits an `i32`.
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
unsafe fn run(dst: &mut [f32], x: &[f32], from: isize, stride: usize, valid: (isize, isize)) {
    let out = dst.as_mut_ptr();
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let step = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(stride as i32),
    );
    let mut t = 0;
    while t < dst.len() {
        let here = (dst.len() - t).min(LANES);
        let store = lanes(0, here as isize) as __mmask16;
        let (lo, hi) = (valid.0 - t as isize, valid.1 - t as isize);
        // Lane 0's source; lanes outside `valid` are masked off and never read, so this
        // address may lie outside `x` (hence `wrapping_offset`).
        let src = x.as_ptr().wrapping_offset(from + (t * stride) as isize);
        // SAFETY: every lane read is one of `valid`'s, inside `x` as the caller promised
        // (for stride 2, the odd lanes between two of them too); the store writes the
        // `here` values from `t` on, inside `dst`.
        unsafe {
            let v = match stride {
                1 => _mm512_maskz_loadu_ps(lanes(lo, hi) as __mmask16 & store, src),
                2 => {
                    // Source lanes 2*lo ..= 2*(hi - 1): the values and the odd lanes between.
                    let read = lanes(2 * lo, 2 * hi.min(here as isize) - 1);
                    let a = _mm512_maskz_loadu_ps(read as __mmask16, src);
                    let b = _mm512_maskz_loadu_ps((read >> LANES) as __mmask16, src.add(LANES));
                    _mm512_permutex2var_ps(a, even, b)
                }
                _ => _mm512_mask_i32gather_ps::<4>(
                    _mm512_setzero_ps(),
                    lanes(lo, hi) as __mmask16 & store,
                    step,
                    src,
                ),
            };
            if here == LANES {
                _mm512_storeu_ps(out.add(t), v);
            } else {
                _mm512_mask_storeu_ps(out.add(t), store, v);
            }
        }
        t += here;
    }
}

/// `dst.fill(0.0)` in vector stores, the last one masked.
///
/// # Safety
/// The CPU has AVX-512F.
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
unsafe fn zeros(dst: &mut [f32]) {
    let out = dst.as_mut_ptr();
    let mut t = 0;
    while t < dst.len() {
        let here = (dst.len() - t).min(LANES);
        // SAFETY: the `here` values from `t` on lie inside `dst`.
        unsafe {
            _mm512_mask_storeu_ps(
                out.add(t),
                lanes(0, here as isize) as __mmask16,
                _mm512_setzero_ps(),
            )
        };
        t += here;
    }
}
