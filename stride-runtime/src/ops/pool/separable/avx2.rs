//! The AVX2 row kernels of the separable pools: the functions of `scalar.rs`, eight outputs at
//! a time, with the same values.
//!
//! A row of 8 or more is covered by blocks of 8 from the left, the last block moved back to
//! end at the row's end (it recomputes a few outputs, which only read the input), so there is
//! no scalar tail. A shorter row (a 7x7 map, or a 14x14 one at stride 2) is one block whose
//! lanes past the row are masked: loads read 0 there and stores skip them. Those rows went to
//! the scalar kernel before, at 0.15 to 0.45 of ONNX Runtime's speed (GoogLeNet's
//! `maxpool3x3s1_p1_ceil_832_7` and `maxpool2x2s2_ceil_832_14`, DenseNet's
//! `avgpool2x2s2_512_14`; the figures are in the parent module's docs).
//!
//! Stride 2 reads 16 consecutive inputs and splits them into even and odd positions with
//! `_mm256_shuffle_ps`, which works within each 128-bit half: the 8 results come out in the
//! order 0, 1, 4, 5, 2, 3, 6, 7 (pairs of outputs), and since every step is element-wise, one
//! `_mm256_permute4x64_pd` at the end puts them back in order.

use std::arch::x86_64::*;

use super::scalar;

/// `acc ⊕ v` on 8 lanes, the same as [`scalar::combine`]: for the max, `_mm256_max_ps(v, acc)`
/// is `v > acc ? v : acc` and gives `acc` when either is NaN, and the blend then takes `v`
/// where `v` is NaN; or the sum. Expands to intrinsics only, so it must be used inside an
/// AVX2 function.
macro_rules! combine {
    ($max:expr, $acc:expr, $v:expr) => {{
        let (acc, v) = ($acc, $v);
        if $max {
            let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v);
            _mm256_blendv_ps(_mm256_max_ps(v, acc), v, nan)
        } else {
            _mm256_add_ps(acc, v)
        }
    }};
}

/// Puts 8 results from the pair order 0, 1, 4, 5, 2, 3, 6, 7 back in order: a swap of the
/// middle two 64-bit pairs. Intrinsics only, as [`combine!`].
macro_rules! in_order {
    ($pairs:expr) => {
        _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(
            $pairs,
        )))
    };
}

/// The first output of each block of 8 that covers `0..n` (`n >= 8`): `0, 8, 16, …` and,
/// when 8 does not divide `n`, a last block at `n - 8`.
fn block_starts(n: usize) -> impl Iterator<Item = usize> {
    debug_assert!(n >= 8);
    (0..n / 8)
        .map(|b| 8 * b)
        .chain((n % 8 != 0).then_some(n - 8))
}

/// The lanes below `n` (at most 8), as a mask for `_mm256_maskload_ps` and
/// `_mm256_maskstore_ps`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn lanes_below(n: usize) -> __m256i {
    debug_assert!(n <= 8);
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(n as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}

/// [`scalar::vertical`], 8 columns at a time.
///
/// # Safety
///
/// The CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn vertical<const MAX: bool>(rows: &[f32], width: usize, out: &mut [f32]) {
    assert!(width > 0 && out.len() == width);
    assert!(!rows.is_empty() && rows.len() % width == 0);
    if width < 8 {
        let (taps, input, mask) = (rows.len() / width, rows.as_ptr(), lanes_below(width));
        // SAFETY: the masked loads read columns `0..width` of rows `r < taps`, and the masked
        // store writes `out[0..width]`; masked-off lanes are neither read nor written.
        unsafe {
            let mut acc = _mm256_maskload_ps(input, mask);
            for r in 1..taps {
                acc = combine!(MAX, acc, _mm256_maskload_ps(input.add(r * width), mask));
            }
            _mm256_maskstore_ps(out.as_mut_ptr(), mask, acc);
        }
        return;
    }
    let (taps, input, output) = (rows.len() / width, rows.as_ptr(), out.as_mut_ptr());
    // SAFETY: `rows` holds `taps` rows of `width` and `out` one; `width >= 8`.
    unsafe {
        match taps {
            // The windows of the common pools, unrolled.
            2 => rows_fixed::<MAX, 2>(input, width, output),
            3 => rows_fixed::<MAX, 3>(input, width, output),
            _ => rows_any::<MAX>(input, taps, width, output),
        }
    }
}

/// [`vertical`] for `TAPS` rows.
///
/// # Safety
///
/// AVX2 and FMA; `width >= 8`; `rows[0..TAPS * width]` readable, `out[0..width]` writable.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn rows_fixed<const MAX: bool, const TAPS: usize>(
    rows: *const f32,
    width: usize,
    out: *mut f32,
) {
    for j in block_starts(width) {
        // SAFETY: `j + 8 <= width`, so the loads read columns `j..j + 8` of rows `r < TAPS`
        // and the store writes `out[j..j + 8]`, inside what the caller guarantees.
        unsafe {
            let column = rows.add(j);
            let mut acc = _mm256_loadu_ps(column);
            for r in 1..TAPS {
                acc = combine!(MAX, acc, _mm256_loadu_ps(column.add(r * width)));
            }
            _mm256_storeu_ps(out.add(j), acc);
        }
    }
}

/// [`vertical`] for any number of rows.
///
/// # Safety
///
/// AVX2 and FMA; `width >= 8`; `rows[0..taps * width]` readable, `out[0..width]` writable.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn rows_any<const MAX: bool>(rows: *const f32, taps: usize, width: usize, out: *mut f32) {
    for j in block_starts(width) {
        // SAFETY: as in `rows_fixed`, with `taps` rows.
        unsafe {
            let column = rows.add(j);
            let mut acc = _mm256_loadu_ps(column);
            for r in 1..taps {
                acc = combine!(MAX, acc, _mm256_loadu_ps(column.add(r * width)));
            }
            _mm256_storeu_ps(out.add(j), acc);
        }
    }
}

/// [`scalar::horizontal`], 8 outputs at a time for a 3-wide or 2-wide window at stride 2 and
/// any window at stride 1; other windows, and rows of fewer than 8 outputs, go to the scalar
/// kernel.
///
/// `padded` must hold one element past the last window (`(n-1)*stride + kernel + 1`, `n`
/// outputs): the 3-wide kernel reads it, without using it. A row of fewer than 8 outputs
/// is one masked block when `padded` holds a whole block's reads (`7*stride + kernel + 1`,
/// which [`Separable::scratch`](super::Separable::scratch) leaves room for), else the scalar
/// kernel's.
///
/// # Safety
///
/// The CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn horizontal<const MAX: bool>(
    padded: &[f32],
    kernel: usize,
    stride: usize,
    scale: Option<&[f32]>,
    out: &mut [f32],
) {
    let n = out.len();
    assert!(kernel > 0 && stride > 0);
    assert!(scale.is_none_or(|s| s.len() == n));
    if n < 8 {
        let supported = matches!((kernel, stride), (3, 2) | (2, 2) | (_, 1));
        if !supported || padded.len() <= 7 * stride + kernel {
            return scalar::horizontal::<MAX>(padded, kernel, stride, scale, out);
        }
        let input = padded.as_ptr();
        // SAFETY: one block at 0 reads `padded[..7*stride + kernel + 1]`, inside by the check
        // above (the 3-wide kernel's 18 values at most); its lanes from `n` on are not stored.
        let window = unsafe {
            match stride {
                1 => window_stride1::<MAX>(input, kernel),
                _ if kernel == 3 => window3_stride2::<MAX>(input),
                _ => window2_stride2::<MAX>(input),
            }
        };
        let mask = lanes_below(n);
        // SAFETY: the masked load and store touch `scale[0..n]` and `out[0..n]` only.
        unsafe {
            let window = match scale {
                None => window,
                Some(scale) => _mm256_mul_ps(window, _mm256_maskload_ps(scale.as_ptr(), mask)),
            };
            _mm256_maskstore_ps(out.as_mut_ptr(), mask, window);
        }
        return;
    }
    // The bounds every block below relies on: block `o` reads `padded[o*stride..]` up to
    // `(o+7)*stride + kernel`, at most `(n-1)*stride + kernel + 1` for the last block.
    assert!(padded.len() > (n - 1) * stride + kernel);
    let (input, output) = (padded.as_ptr(), out.as_mut_ptr());
    let scales = scale.map_or(std::ptr::null(), <[f32]>::as_ptr);
    match (kernel, stride) {
        (3, 2) => {
            for o in block_starts(n) {
                // SAFETY: reads `padded[2o..2o + 18]`, `2o + 17 <= 2(n-8) + 17 = (n-1)*2 + 3`,
                // inside by the assert; `store` writes `out[o..o + 8]` (`o + 8 <= n`) and reads
                // as much of `scale`, which has `n` elements.
                unsafe {
                    let window = window3_stride2::<MAX>(input.add(2 * o));
                    store(window, scales, o, output);
                }
            }
        }
        (2, 2) => {
            for o in block_starts(n) {
                // SAFETY: reads `padded[2o..2o + 16]`, `2o + 15 <= (n-1)*2 + 1`; `store` as
                // above.
                unsafe {
                    let window = window2_stride2::<MAX>(input.add(2 * o));
                    store(window, scales, o, output);
                }
            }
        }
        (_, 1) => {
            for o in block_starts(n) {
                // SAFETY: reads `padded[o..o + 7 + kernel]`, `o + 7 + kernel - 1 <= (n-1) +
                // kernel - 1`; `store` as above.
                unsafe {
                    let window = window_stride1::<MAX>(input.add(o), kernel);
                    store(window, scales, o, output);
                }
            }
        }
        _ => scalar::horizontal::<MAX>(padded, kernel, stride, scale, out),
    }
}

/// Writes 8 outputs at `out[o..o + 8]`, each multiplied by its `scale` if there is one (not
/// null).
///
/// # Safety
///
/// AVX2; `out[o..o + 8]` writable and, when `scale` is not null, `scale[o..o + 8]` readable.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn store(window: __m256, scale: *const f32, o: usize, out: *mut f32) {
    // SAFETY: the caller's promise.
    unsafe {
        let window = if scale.is_null() {
            window
        } else {
            _mm256_mul_ps(window, _mm256_loadu_ps(scale.add(o)))
        };
        _mm256_storeu_ps(out.add(o), window);
    }
}

/// `p[2i] ⊕ p[2i+1] ⊕ p[2i+2]` for `i < 8`.
///
/// # Safety
///
/// AVX2 and FMA; `p[0..18]` readable.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn window3_stride2<const MAX: bool>(p: *const f32) -> __m256 {
    // SAFETY: the caller guarantees the 18 inputs.
    unsafe {
        let (lo, hi) = (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)));
        let (lo2, hi2) = (_mm256_loadu_ps(p.add(2)), _mm256_loadu_ps(p.add(10)));
        // p[2i], p[2i+1] and p[2i+2] for i in the pair order 0, 1, 4, 5, 2, 3, 6, 7.
        let first = _mm256_shuffle_ps::<0b10_00_10_00>(lo, hi);
        let second = _mm256_shuffle_ps::<0b11_01_11_01>(lo, hi);
        let third = _mm256_shuffle_ps::<0b10_00_10_00>(lo2, hi2);
        in_order!(combine!(MAX, combine!(MAX, first, second), third))
    }
}

/// `p[2i] ⊕ p[2i+1]` for `i < 8`.
///
/// # Safety
///
/// AVX2 and FMA; `p[0..16]` readable.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn window2_stride2<const MAX: bool>(p: *const f32) -> __m256 {
    // SAFETY: the caller guarantees the 16 inputs.
    unsafe {
        let (lo, hi) = (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)));
        let first = _mm256_shuffle_ps::<0b10_00_10_00>(lo, hi);
        let second = _mm256_shuffle_ps::<0b11_01_11_01>(lo, hi);
        in_order!(combine!(MAX, first, second))
    }
}

/// `p[i] ⊕ … ⊕ p[i + kernel - 1]` for `i < 8`.
///
/// # Safety
///
/// AVX2 and FMA; `kernel >= 1`, `p[0..7 + kernel]` readable.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn window_stride1<const MAX: bool>(p: *const f32, kernel: usize) -> __m256 {
    // SAFETY: the caller guarantees the `7 + kernel` inputs.
    unsafe {
        let mut acc = _mm256_loadu_ps(p);
        for k in 1..kernel {
            acc = combine!(MAX, acc, _mm256_loadu_ps(p.add(k)));
        }
        acc
    }
}
