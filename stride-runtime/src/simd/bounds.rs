//! Whether every value of a slice is finite and within a bound: the scan that keeps NaN,
//! infinities and huge values away from a kernel whose arithmetic would change them (Winograd's
//! transforms mix each input with coefficients of both signs, so one +inf in a window gives
//! `inf - inf = NaN` where the direct sum gives +inf).
//!
//! The scan compares the values' bits with the bound's, as integers: with the sign bit
//! cleared, the bits of a non-negative float order as the floats do, and every NaN and both
//! infinities lie above every finite value. A running maximum of the bits then decides a whole
//! run with one comparison, and a NaN cannot slip through it the way it slips through a float
//! `max` (which returns the other operand).

use super::Isa;

/// Values scanned between two checks of the running maximum: a few cache lines, so a slice
/// that fails stops early without a branch per vector.
const RUN: usize = 256;

impl Isa {
    /// Whether every value of `xs` is finite with `|x| <= limit` (`limit` finite and not
    /// negative): false as soon as one is NaN, infinite or larger.
    pub(crate) fn all_within(self, xs: &[f32], limit: f32) -> bool {
        debug_assert!(limit.is_finite() && limit >= 0.0);
        let bound = limit.to_bits();
        xs.chunks(RUN).all(|run| {
            let most = match self {
                // SAFETY: an `Avx2` or `Avx512` value exists only where the CPU has AVX2.
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2(_) | Isa::Avx512(_) => unsafe { avx2::max_magnitude_bits(run) },
                Isa::Scalar => max_magnitude_bits(run),
            };
            most <= bound
        })
    }
}

/// The largest `bits & 0x7fff_ffff` of `xs` (0 for an empty slice): the bits of the largest
/// magnitude, above every finite value's for a NaN or an infinity.
#[inline]
fn max_magnitude_bits(xs: &[f32]) -> u32 {
    xs.iter()
        .map(|v| v.to_bits() & 0x7fff_ffff)
        .fold(0, u32::max)
}

/// The AVX2 form of the scan.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use core::arch::x86_64::*;

    /// [`super::max_magnitude_bits`], 32 values a step in four independent maxima.
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn max_magnitude_bits(xs: &[f32]) -> u32 {
        let magnitude = _mm256_set1_epi32(0x7fff_ffff);
        let mut most = [_mm256_setzero_si256(); 4];
        let mut steps = xs.chunks_exact(32);
        for step in &mut steps {
            for (lane, m) in most.iter_mut().enumerate() {
                // SAFETY: `step` holds 32 values, so values `8 * lane .. 8 * lane + 8` are in
                // it; `loadu` takes any alignment.
                let v = unsafe { _mm256_loadu_si256(step.as_ptr().add(8 * lane).cast()) };
                *m = _mm256_max_epu32(*m, _mm256_and_si256(v, magnitude));
            }
        }
        let most = _mm256_max_epu32(
            _mm256_max_epu32(most[0], most[1]),
            _mm256_max_epu32(most[2], most[3]),
        );
        let mut lanes = [0u32; 8];
        // SAFETY: `lanes` is 8 `u32`s, 32 bytes; `storeu` takes any alignment.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), most) };
        let tail = super::max_magnitude_bits(steps.remainder());
        lanes.into_iter().fold(tail, u32::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_nan_infinity_or_value_past_the_limit_fails_the_scan_on_every_path() {
        let paths = [Some(Isa::Scalar), Isa::avx2()].into_iter().flatten();
        for isa in paths {
            for len in [0usize, 1, 7, 31, 32, 33, 255, 256, 257, 1000] {
                let mut xs: Vec<f32> = (0..len).map(|i| (i as f32 - 500.0) / 3.0).collect();
                assert!(isa.all_within(&xs, 1e3), "{isa:?} {len}");
                for at in [0, len / 2, len.saturating_sub(1)]
                    .into_iter()
                    .filter(|_| len > 0)
                {
                    for bad in [f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -2e3] {
                        let kept = xs[at];
                        xs[at] = bad;
                        assert!(!isa.all_within(&xs, 1e3), "{isa:?} {len} {at} {bad}");
                        xs[at] = kept;
                    }
                }
                // The limit itself passes, with either sign.
                if len > 0 {
                    xs[0] = -1e3;
                    assert!(isa.all_within(&xs, 1e3), "{isa:?} {len}");
                }
            }
        }
    }
}
