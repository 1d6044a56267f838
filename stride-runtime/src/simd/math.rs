//! The transcendental functions behind the smooth activations, one value at a time and a
//! register at a time (8 lanes of AVX2, 16 of AVX-512, from one body of code that gives the
//! same value in every lane at either width): the standard normal distribution function `Φ`
//! (`normal_cdf`) that exact GELU is made of, and for the vector form `exp`, `tanh` and the
//! logistic sigmoid (one value uses `f32::exp` and `f32::tanh`). `erf` itself, made of the
//! same pieces as `Φ`, is compiled for the tests, which measure the pieces through it.
//!
//! Both forms share the polynomials below, fitted by Chebyshev interpolation (mpmath's
//! `chebyfit`, 40 digits) and rounded to `f32`:
//!
//! * `exp(x) = 2^n * e^r` with `n = round(x / ln 2)` and `|r| <= ln(2) / 2`;
//!   `e^r = 1 + r + r^2 * EXP(r)`.
//! * `erfc(t) / 2 = exp(HALF_ERFC(t - 2.25) - t^2)` for `0 <= t <= 4.5`, and 0 past 4.5
//!   (`erfc(4.5) = 2e-10`, below half an `f32` step of 1). As an exponential, `erfc` keeps
//!   its relative accuracy in the tail. `Φ(x)` is `erfc(|x| / √2) / 2` below 0 and 1 minus
//!   that above, with `t^2 = x^2 / 2` taken from `x` (from the rounded `x / √2` it would
//!   carry `x^2` ulps of relative error): one polynomial and one exponential for every `x`,
//!   no branch. `Φ` is near 1/2 where `erfc` is near 1, so it needs no relative accuracy of
//!   `erf` near 0.
//! * The polynomials are evaluated by Estrin's scheme (see `estrin`), not Horner's rule: the
//!   vector forms are limited by how long their operations wait on each other, and that cut
//!   GELU's time by a fifth.
//!
//! GELU on the suite's `gelu_384_56` (`bench/compare.sh --threads 1`, a shared 2-vCPU Zen 5):
//! 0.70 ms on one thread with 8 lanes, 0.34 ms with 16, against ONNX Runtime's opset-20 `Gelu`
//! at 0.46 ms in the same run.
//! * `erf(x) = x * ERF_SMALL(x^2)` for `|x| < 1` (there `1 - erfc` would lose the relative
//!   accuracy of tiny inputs), `±(1 - erfc(|x|))` above.
//! * `tanh(x) = x * TANH_SMALL(x^2)` for `|x| < 0.625`, `±(1 - e) / (1 + e)` with
//!   `e = exp(-2|x|)` above (where `1 - e` no longer cancels).
//!
//! Measured against `f64` references on dense sweeps (`tests` below, which print them): the
//! vector `exp` within 8.5e-8 relative for normal results and 0.74 ulp for subnormal ones;
//! `erf` (both forms) within 2.4e-7 relative and 1.4e-7 absolute; `Φ` within 1.6e-6 relative
//! down to `x = -6.3` (`Φ = 1.5e-10`; most of it from rounding `g - x^2 / 2`, up to 23 in
//! magnitude, to `f32` before the exponential); the vector `tanh` and logistic within 1.3e-7
//! and 1.8e-7 relative. GELU, `x * Φ(x)`, within 4e-7 relative.
//!
//! NaN in, NaN out, in every form: the vector clamps put the input second in `min`/`max`,
//! which return their second operand when either is NaN, and every select takes NaN to the
//! branch that keeps it.

/// `(e^r - 1 - r) / r^2` on `[-ln 2 / 2, ln 2 / 2]`, highest power first; fit error 6.5e-8.
const EXP: [f32; 5] = [
    0.001_392_617_6,
    0.008_363_173,
    0.041_666_556,
    0.166_665_78,
    0.5,
];

/// `erf(x) / x` as a polynomial in `x^2` on `[0, 1]`; fit error 4.1e-8. Its constant term is
/// the fit's, one `f32` ulp below `2/√π`'s nearest: with the latter the error near `x = 1`
/// doubles.
#[cfg(test)]
#[allow(clippy::approx_constant)]
const ERF_SMALL: [f32; 6] = [
    -5.648_06e-4,
    0.004_921_762,
    -0.026_715_055,
    0.112_803_17,
    -0.376_123_43,
    1.128_379_1,
];

/// `ln(erfc(t) / 2) + t^2` as a polynomial in `t - ERFC_CENTER` on `[0, ERFC_END]`; fit
/// error 8.9e-8.
const HALF_ERFC: [f32; 12] = [
    4.868_223e-8,
    -1.963_992_8e-7,
    -1.893_489_4e-7,
    2.842_370_1e-6,
    -1.631_024_1e-5,
    1.005_339e-4,
    -5.551_791_4e-4,
    0.002_773_840_2,
    -0.013_312_404,
    0.065_131_344,
    -0.382_913_83,
    -2.158_107,
];

/// The middle of the range of [`HALF_ERFC`].
const ERFC_CENTER: f32 = 2.25;

/// Past this, `erfc` is taken as 0 (`erfc(4.5) = 1.97e-10`).
const ERFC_END: f32 = 4.5;

/// Past this `|x|`, `Φ`'s tail is taken as 0.
const NORMAL_END: f32 = ERFC_END * core::f32::consts::SQRT_2;

/// Below this, `erf` is [`ERF_SMALL`]'s polynomial.
#[cfg(test)]
const ERF_SPLIT: f32 = 1.0;

/// `tanh(x) / x` as a polynomial in `x^2` on `[0, TANH_SPLIT]`; fit error 3.9e-9.
const TANH_SMALL: [f32; 6] = [
    -0.005_657_135,
    0.020_588_191,
    -0.053_720_11,
    0.133_311_14,
    -0.333_332_6,
    1.0,
];

/// Below this, `tanh` is [`TANH_SMALL`]'s polynomial.
const TANH_SPLIT: f32 = 0.625;

/// `ln 2` in two parts (Cody and Waite): `LN2_HI` has 9 significant bits, so `n * LN2_HI` is
/// exact for every `n` that `exp` meets.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `1.5 * 2^23`: adding it to a number below `2^22` in magnitude rounds that number to an
/// integer, which the sum's low mantissa bits then hold.
const ROUNDING: f32 = 12_582_912.0;

/// `exp` of anything above this is `+inf`, of anything below this 0; clamping there keeps
/// `n` inside what two scale factors can hold.
#[cfg(test)]
const EXP_MAX: f32 = 89.0;
#[cfg(test)]
const EXP_MIN: f32 = -105.0;

/// Past this magnitude the logistic of a negative number is below the smallest normal `f32`
/// (`e^-87 ≈ 1.6e-38`, and `1.2e-38` is the least normal): it is 0 there, in the vector forms
/// and the scalar one alike, within 1.6e-38 of its value. Computing it would make `e^-|x|`
/// and every product with it subnormal numbers, which x86 cores finish in microcode, about a
/// hundred cycles a lane: a SiLU epilogue ran at half speed on activations of that size.
pub(crate) const LOGISTIC_FLUSH: f32 = 87.0;

/// Past this magnitude `tanh` is ±1 in `f32` (from 9.01 on); `e^-2|x|` is taken no further,
/// where it would be subnormal (past 43.7).
const TANH_ONE: f32 = 40.0;

/// `p[0] * x^(K-1) + … + p[K-1]`, by Estrin's scheme: neighbouring coefficients paired as
/// `a + b * x`, then neighbouring pairs with `x^2`, then with `x^4`, … The same multiply-adds
/// as Horner's rule, in a chain of `log2(K)` of them rather than `K - 1`: the vector forms
/// are limited by how long their operations wait on each other. Both forms evaluate in this
/// order.
#[inline]
fn estrin<const K: usize>(p: &[f32; K], x: f32) -> f32 {
    // Lowest power first.
    let mut c: [f32; K] = core::array::from_fn(|k| p[K - 1 - k]);
    let (mut n, mut power) = (K, x);
    while n > 1 {
        // In place: `c[j]` is written after `c[2j]` and `c[2j + 1]` were read.
        for j in 0..n / 2 {
            c[j] = c[2 * j] + c[2 * j + 1] * power;
        }
        if n % 2 == 1 {
            c[n / 2] = c[n - 1];
        }
        n = n.div_ceil(2);
        power *= power;
    }
    c[0]
}

/// `erfc(t) / 2` for `0 <= t <= ERFC_END` (or NaN), given `u = t - ERFC_CENTER` and
/// `t_squared`, `t^2` computed exactly from the caller's input.
#[inline]
fn half_erfc(u: f32, t_squared: f64) -> f32 {
    // `g - t^2` rounded once to f32, as the vector form's fused multiply-add does, so that
    // the two forms agree to an ulp or two.
    let g = estrin(&HALF_ERFC, u);
    ((f64::from(g) - t_squared) as f32).exp()
}

/// The error function, `2/√π ∫_0^x e^(-t²) dt`.
#[cfg(test)]
pub(crate) fn erf(x: f32) -> f32 {
    let t = x.abs();
    if t < ERF_SPLIT {
        x * estrin(&ERF_SMALL, x * x)
    } else if t > ERFC_END {
        1.0f32.copysign(x)
    } else {
        // NaN comes here and stays NaN.
        let tail = half_erfc(t - ERFC_CENTER, f64::from(t) * f64::from(t));
        (1.0 - 2.0 * tail).copysign(x)
    }
}

/// The standard normal distribution function `Φ(x) = (1 + erf(x / √2)) / 2`, with its
/// relative accuracy kept in the lower tail.
#[inline]
pub(crate) fn normal_cdf(x: f32) -> f32 {
    let a = x.abs();
    let tail = if a > NORMAL_END {
        0.0
    } else {
        // t = |x| / √2 and u = t - ERFC_CENTER rounded once, as the vector form's fused
        // multiply-add does; t^2 from x.
        let u = f64::from(a) * core::f64::consts::FRAC_1_SQRT_2 - f64::from(ERFC_CENTER);
        half_erfc(u as f32, 0.5 * f64::from(x) * f64::from(x))
    };
    // NaN comes to `1 - tail` and stays NaN.
    if x < 0.0 { tail } else { 1.0 - tail }
}

/// The vector forms, written once in the lane operations of `super::lanes` and compiled for
/// each register width by the module the macro is expanded in (`$features` names its
/// instruction sets): each lane gets what the scalar form would give, to within the accuracy
/// in the module docs, and the same value at either width.
macro_rules! vector_forms {
    ($features:literal) => {
        /// Estrin's scheme on every lane, in the scalar form's order.
        #[target_feature(enable = $features)]
        #[inline]
        fn estrin<const K: usize>(p: &[f32; K], x: V) -> V {
            let mut c: [V; K] = core::array::from_fn(|k| splat(p[K - 1 - k]));
            let (mut n, mut power) = (K, x);
            while n > 1 {
                for j in 0..n / 2 {
                    c[j] = fmadd(c[2 * j + 1], power, c[2 * j]);
                }
                if n % 2 == 1 {
                    c[n / 2] = c[n - 1];
                }
                n = n.div_ceil(2);
                power = mul(power, power);
            }
            c[0]
        }

        /// `|x|` and the sign bit of `x`.
        #[target_feature(enable = $features)]
        #[inline]
        fn abs_and_sign(x: V) -> (V, V) {
            let sign_bit = splat(-0.0);
            (andnot(sign_bit, x), and(sign_bit, x))
        }

        #[cfg(test)]
        /// `e^x` of each lane: `+inf` above `ln(f32::MAX)`, subnormal results rounded
        /// gradually down to 0, NaN for NaN. (For the tests: the kernels keep to
        /// [`exp_normal`]'s range, whose results are normal numbers.)
        #[target_feature(enable = $features)]
        #[inline]
        pub(crate) fn exp(x: V) -> V {
            // The input second, so that NaN passes through both.
            let x = min(splat(EXP_MAX), max(splat(EXP_MIN), x));
            let (e_r, n) = reduced(x);
            let n = to_int(n);
            // 2^n as two powers of two, each a normal number for n in [-152, 129]: their
            // product with e^r rounds once into the subnormals, or overflows to +inf.
            let half = halve_int(n);
            let (low, high) = (power_of_two(half), power_of_two(sub_int(n, half)));
            mul(mul(e_r, low), high)
        }

        /// [`exp`] for lanes in `[-87, 88]`, whose results are normal numbers: no clamp, one
        /// scale factor. Anything, NaN included, for lanes outside.
        #[target_feature(enable = $features)]
        #[inline]
        fn exp_normal(x: V) -> V {
            let (e_r, n) = reduced(x);
            scale_by(e_r, n)
        }

        /// `e^r` and `n` (an integral float) with `x = n ln 2 + r`, `|r| <= ln(2) / 2`, for
        /// `|x| < 2^21`.
        #[target_feature(enable = $features)]
        #[inline]
        fn reduced(x: V) -> (V, V) {
            // `ROUNDING + n`, exactly: the fused multiply-add rounds once, to an integer.
            let rounding = splat(ROUNDING);
            let shifted = fmadd(x, splat(core::f32::consts::LOG2_E), rounding);
            let n = sub(shifted, rounding);
            let r = fnmadd(n, splat(LN2_HI), x);
            let r = fnmadd(n, splat(LN2_LO), r);
            let p = estrin(&EXP, r);
            (add(fmadd(mul(r, r), p, r), splat(1.0)), n)
        }

        /// `2^k` of each lane, for `k` in the normal exponents `[-126, 127]`.
        #[cfg(test)]
        #[target_feature(enable = $features)]
        #[inline]
        fn power_of_two(k: I) -> V {
            from_bits(exponent(k, 127))
        }

        /// `erfc(t) / 2` for lanes with `0 <= t <= ERFC_END` (or NaN), given
        /// `u = t - ERFC_CENTER` and `t^2 = a * b` (which the fused multiply-add takes
        /// exactly); any value for other lanes (up to `ERFC_END` the exponent is in
        /// `[-23.3, -0.7]`, and the callers mask the lanes past it).
        #[target_feature(enable = $features)]
        #[inline]
        fn half_erfc(u: V, a: V, b: V) -> V {
            exp_normal(fnmadd(a, b, estrin(&HALF_ERFC, u)))
        }

        /// `erf(x)` of each lane (for the tests, as the scalar [`super::erf`]).
        #[cfg(test)]
        #[target_feature(enable = $features)]
        pub(crate) fn erf(x: V) -> V {
            let (t, sign) = abs_and_sign(x);
            let tail = half_erfc(sub(t, splat(ERFC_CENTER)), t, t);
            let tail = zero_where(greater(t, splat(ERFC_END)), tail);
            let large = or(fnmadd(splat(2.0), tail, splat(1.0)), sign);
            let small = mul(x, estrin(&ERF_SMALL, mul(x, x)));
            // NaN compares false and takes the large branch, which keeps it.
            select(less(t, splat(ERF_SPLIT)), small, large)
        }

        /// `Φ(x)` of each lane.
        #[target_feature(enable = $features)]
        #[inline]
        pub(crate) fn normal_cdf(x: V) -> V {
            let (a, _) = abs_and_sign(x);
            // t = |x| / √2, and t^2 = x^2 / 2 exactly, as in the scalar form.
            let u = fmadd(
                a,
                splat(core::f32::consts::FRAC_1_SQRT_2),
                splat(-ERFC_CENTER),
            );
            let tail = half_erfc(u, mul(splat(0.5), x), x);
            // Past the end (infinities included) 0; NaN compares false and stays.
            let tail = zero_where(greater(a, splat(NORMAL_END)), tail);
            // Below zero (by the sign bit) the tail itself, above it 1 - tail.
            select_negative(x, tail, sub(splat(1.0), tail))
        }

        /// `1 / (1 + e^-x)` of each lane, with `x` clamped to `±LOGISTIC_FLUSH` so that
        /// `e^-x` is a normal number (`e^87 = 6.1e37` at most, and `1 + e^87` no overflow),
        /// and 0 below `-LOGISTIC_FLUSH`. (From `e^-|x|`, as the scalar form does, it took an
        /// absolute value, a select and a product more: 29 operations for SiLU where this is
        /// 23, and SiLU finishes a layer's every output in EfficientNet.)
        #[target_feature(enable = $features)]
        #[inline]
        pub(crate) fn logistic(x: V) -> V {
            let flush = splat(LOGISTIC_FLUSH);
            let low = sub(splat(0.0), flush);
            // NaN stays: `min` and `max` return their second operand when either is NaN.
            let e = exp_normal(sub(splat(0.0), min(flush, max(low, x))));
            let r = div(splat(1.0), add(splat(1.0), e));
            // Below `-LOGISTIC_FLUSH` (-inf included) 0; NaN compares false and stays.
            zero_where(less(x, low), r)
        }

        /// `tanh(x)` of each lane.
        #[target_feature(enable = $features)]
        #[inline]
        pub(crate) fn tanh(x: V) -> V {
            let one = splat(1.0);
            let (a, sign) = abs_and_sign(x);
            // `min` returns its second operand when either is NaN: NaN stays.
            let capped = min(splat(TANH_ONE), a);
            let e = exp_normal(mul(capped, splat(-2.0)));
            let large = or(div(sub(one, e), add(one, e)), sign);
            let small_poly = mul(x, estrin(&TANH_SMALL, mul(x, x)));
            select(less(a, splat(TANH_SPLIT)), small_poly, large)
        }
    };
}

/// The vector forms on 8 lanes of AVX2.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use super::super::lanes::avx2::*;
    use super::*;

    vector_forms!("avx2,fma");
}

/// The vector forms on 16 lanes of AVX-512, lane for lane the AVX2 forms' values.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    use super::super::lanes::avx512::*;
    use super::*;

    vector_forms!("avx512f,avx2,fma");
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `erf` in `f64`: `2/√π e^(-x²) Σ 2^n x^(2n+1) / (2n+1)!!` (positive terms, no
    /// cancellation) up to 3, and the continued fraction of `erfc` above.
    pub(crate) fn erf_f64(x: f64) -> f64 {
        let t = x.abs();
        let value = if t <= 3.0 {
            let (mut term, mut sum, mut k) = (t, t, 0.0);
            while term > sum * 1e-18 {
                k += 1.0;
                term *= 2.0 * t * t / (2.0 * k + 1.0);
                sum += term;
            }
            2.0 / core::f64::consts::PI.sqrt() * (-t * t).exp() * sum
        } else {
            1.0 - erfc_f64(t)
        };
        value.copysign(x)
    }

    /// `erfc(t)` for `t >= 3` in `f64`, by its continued fraction (60 terms, far more than
    /// enough there).
    fn erfc_f64(t: f64) -> f64 {
        let mut fraction = 0.0;
        for k in (1..=60).rev() {
            fraction = (k as f64 / 2.0) / (t + fraction);
        }
        (-t * t).exp() / core::f64::consts::PI.sqrt() / (t + fraction)
    }

    /// `Φ(x)` in `f64`, accurate in the lower tail.
    pub(crate) fn normal_cdf_f64(x: f64) -> f64 {
        let z = x / core::f64::consts::SQRT_2;
        if z < -3.0 {
            0.5 * erfc_f64(-z)
        } else {
            0.5 * (1.0 + erf_f64(z))
        }
    }

    /// Every `f32` from `-to` to `to` with `step` between them, plus their neighbours' tiny
    /// and subnormal magnitudes.
    pub(crate) fn sweep(to: f32, step: f32) -> Vec<f32> {
        let count = (2.0 * to / step) as usize;
        let mut xs: Vec<f32> = (0..=count).map(|i| -to + i as f32 * step).collect();
        for e in [1e-3f32, 1e-7, 1e-20, 1e-38, 1e-40, 1e-45] {
            xs.extend([e, -e]);
        }
        xs.extend([0.0, -0.0]);
        xs
    }

    /// The largest relative error of `got` against `want`, counting an absolute error below
    /// `floor` as none (for values that round to or near zero).
    fn worst_relative(pairs: impl Iterator<Item = (f32, f64)>, floor: f64) -> (f64, f64) {
        pairs.fold((0.0, 0.0), |(worst_rel, worst_abs), (got, want)| {
            let abs = (got as f64 - want).abs();
            let rel = if abs <= floor { 0.0 } else { abs / want.abs() };
            (worst_rel.max(rel), worst_abs.max(abs))
        })
    }

    #[test]
    fn scalar_erf_is_within_a_few_ulps_of_an_f64_reference() {
        let (rel, abs) = worst_relative(
            sweep(6.0, 1.0 / 4096.0)
                .into_iter()
                .map(|x| (erf(x), erf_f64(x as f64))),
            1e-45,
        );
        println!("scalar erf: max relative error {rel:.2e}, max absolute {abs:.2e}");
        assert!(
            rel < 3e-7 && abs < 2e-7,
            "relative {rel:e}, absolute {abs:e}"
        );
    }

    #[test]
    fn scalar_normal_cdf_keeps_its_relative_accuracy_in_the_lower_tail() {
        // Down to x = -6.3, where Φ is 1.5e-10; past it Φ is taken as 0.
        let (rel, _) = worst_relative(
            sweep(6.3, 1.0 / 4096.0)
                .into_iter()
                .map(|x| (normal_cdf(x), normal_cdf_f64(x as f64))),
            0.0,
        );
        println!("scalar normal cdf: max relative error {rel:.2e}");
        assert!(rel < 2e-6, "relative {rel:e}");
        assert_eq!(normal_cdf(-7.0), 0.0);
        assert_eq!(normal_cdf(7.0), 1.0);
    }

    #[test]
    fn scalar_erf_and_normal_cdf_keep_nan_and_saturate_at_the_infinities() {
        assert!(erf(f32::NAN).is_nan());
        assert!(normal_cdf(f32::NAN).is_nan());
        assert_eq!(erf(f32::INFINITY), 1.0);
        assert_eq!(erf(f32::NEG_INFINITY), -1.0);
        assert_eq!(normal_cdf(f32::INFINITY), 1.0);
        assert_eq!(normal_cdf(f32::NEG_INFINITY), 0.0);
        // The sign of zero survives: erf(-0) = -0.
        assert!(erf(-0.0).is_sign_negative());
    }

    #[cfg(target_arch = "x86_64")]
    mod vector {
        use core::arch::x86_64::*;

        use super::super::avx2;
        use super::*;
        use crate::simd::Isa;

        /// `f` on every value of `xs`, 8 lanes at a time; `None` without AVX2.
        fn lanes(xs: &[f32], f: unsafe fn(__m256) -> __m256) -> Option<Vec<f32>> {
            Isa::avx2()?;
            let mut out = Vec::with_capacity(xs.len());
            for chunk in xs.chunks(8) {
                let mut buf = [0.0f32; 8];
                buf[..chunk.len()].copy_from_slice(chunk);
                // SAFETY: `Isa::avx2` found AVX2 and FMA; `buf` holds 8 values.
                unsafe {
                    let v = f(_mm256_loadu_ps(buf.as_ptr()));
                    _mm256_storeu_ps(buf.as_mut_ptr(), v);
                }
                out.extend_from_slice(&buf[..chunk.len()]);
            }
            Some(out)
        }

        #[test]
        fn vector_exp_is_within_two_ulps_down_to_the_subnormals() {
            let mut xs = sweep(104.0, 1.0 / 1024.0);
            xs.extend([
                88.72, 88.7228, 88.723, 89.0, 1000.0, -103.9, -104.0, -1000.0,
            ]);
            let Some(got) = lanes(&xs, avx2::exp) else {
                return;
            };
            let pairs = || got.iter().zip(&xs).map(|(&g, &x)| (g, x, (x as f64).exp()));
            // Normal results, relative; subnormal ones (below e^-87.3), in their ulps.
            let (rel, _) = worst_relative(
                pairs()
                    .filter(|&(_, x, _)| (-87.3..=88.72).contains(&x))
                    .map(|(g, _, want)| (g, want)),
                0.0,
            );
            let subnormal_ulps = pairs()
                .filter(|&(_, x, _)| (-104.0..-87.3).contains(&x))
                .map(|(g, _, want)| (g as f64 - want).abs() / 2f64.powi(-149))
                .fold(0.0, f64::max);
            println!(
                "vector exp: max relative error {rel:.2e} (normal results), \
                 {subnormal_ulps:.2} ulp (subnormal results)"
            );
            assert!(rel < 2.4e-7, "relative {rel:e}");
            assert!(subnormal_ulps <= 1.0, "{subnormal_ulps} ulp");
            for (&g, &x) in got.iter().zip(&xs) {
                if x >= 88.73 {
                    assert_eq!(g, f32::INFINITY, "exp({x})");
                }
                if x <= -104.0 {
                    assert_eq!(g, 0.0, "exp({x})");
                }
            }
            let special = lanes(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY], avx2::exp)
                .expect("AVX2 was found above");
            assert!(special[0].is_nan());
            assert_eq!(&special[1..], [f32::INFINITY, 0.0]);
        }

        #[test]
        fn vector_erf_is_within_a_few_ulps_of_an_f64_reference() {
            let xs = sweep(6.0, 1.0 / 4096.0);
            let Some(got) = lanes(&xs, avx2::erf) else {
                return;
            };
            let (rel, abs) = worst_relative(
                got.iter().zip(&xs).map(|(&g, &x)| (g, erf_f64(x as f64))),
                1e-45,
            );
            println!("vector erf: max relative error {rel:.2e}, max absolute {abs:.2e}");
            assert!(
                rel < 3e-7 && abs < 2e-7,
                "relative {rel:e}, absolute {abs:e}"
            );
        }

        #[test]
        fn vector_normal_cdf_keeps_its_relative_accuracy_in_the_lower_tail() {
            let xs = sweep(6.3, 1.0 / 4096.0);
            let Some(got) = lanes(&xs, avx2::normal_cdf) else {
                return;
            };
            let (rel, _) = worst_relative(
                got.iter()
                    .zip(&xs)
                    .map(|(&g, &x)| (g, normal_cdf_f64(x as f64))),
                0.0,
            );
            println!("vector normal cdf: max relative error {rel:.2e}");
            assert!(rel < 2e-6, "relative {rel:e}");
        }

        #[test]
        fn vector_tanh_and_logistic_are_within_a_few_ulps_of_f64() {
            let xs = sweep(30.0, 1.0 / 2048.0);
            let (Some(tanh), Some(logistic)) = (lanes(&xs, avx2::tanh), lanes(&xs, avx2::logistic))
            else {
                return;
            };
            let (rel_tanh, _) = worst_relative(
                tanh.iter().zip(&xs).map(|(&g, &x)| (g, (x as f64).tanh())),
                1e-45,
            );
            let (rel_logistic, _) = worst_relative(
                logistic
                    .iter()
                    .zip(&xs)
                    .map(|(&g, &x)| (g, 1.0 / (1.0 + (-(x as f64)).exp()))),
                1e-45,
            );
            println!("vector tanh: {rel_tanh:.2e}, logistic: {rel_logistic:.2e} max relative");
            assert!(rel_tanh < 3e-7, "tanh: relative {rel_tanh:e}");
            assert!(rel_logistic < 3e-7, "logistic: relative {rel_logistic:e}");
        }

        /// `f` on every value of `xs`, 16 lanes at a time; `None` without AVX-512.
        fn lanes16(xs: &[f32], f: unsafe fn(__m512) -> __m512) -> Option<Vec<f32>> {
            Isa::avx512()?;
            let mut out = Vec::with_capacity(xs.len());
            for chunk in xs.chunks(16) {
                let mut buf = [0.0f32; 16];
                buf[..chunk.len()].copy_from_slice(chunk);
                // SAFETY: `Isa::avx512` found AVX-512F, AVX2 and FMA; `buf` holds 16 values.
                unsafe {
                    let v = f(_mm512_loadu_ps(buf.as_ptr()));
                    _mm512_storeu_ps(buf.as_mut_ptr(), v);
                }
                out.extend_from_slice(&buf[..chunk.len()]);
            }
            Some(out)
        }

        #[test]
        fn the_avx512_forms_give_the_avx2_forms_values_bit_for_bit() {
            use super::super::avx512;
            let mut xs = sweep(110.0, 1.0 / 512.0);
            xs.extend([
                f32::NAN,
                -f32::NAN,
                f32::INFINITY,
                f32::NEG_INFINITY,
                0.0,
                -0.0,
            ]);
            xs.extend([f32::MIN_POSITIVE, -1e-40, 1e-40, f32::MAX, f32::MIN]);
            type Narrow = unsafe fn(__m256) -> __m256;
            type Wide = unsafe fn(__m512) -> __m512;
            let forms: [(&str, Narrow, Wide); 5] = [
                ("exp", avx2::exp, avx512::exp),
                ("erf", avx2::erf, avx512::erf),
                ("normal_cdf", avx2::normal_cdf, avx512::normal_cdf),
                ("logistic", avx2::logistic, avx512::logistic),
                ("tanh", avx2::tanh, avx512::tanh),
            ];
            for (name, narrow, wide) in forms {
                let (Some(want), Some(got)) = (lanes(&xs, narrow), lanes16(&xs, wide)) else {
                    return;
                };
                for ((&x, &w), &g) in xs.iter().zip(&want).zip(&got) {
                    assert_eq!(
                        w.to_bits(),
                        g.to_bits(),
                        "{name}({x}): AVX2 {w}, AVX-512 {g}"
                    );
                }
            }
        }

        #[test]
        fn vector_functions_keep_nan_and_saturate_at_the_infinities() {
            let xs = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0];
            let check = |f: unsafe fn(__m256) -> __m256, want: [f32; 3]| {
                let got = lanes(&xs, f).expect("checked by the caller");
                assert!(got[0].is_nan(), "NaN gave {}", got[0]);
                assert_eq!(&got[1..3], &want[..2]);
                // Φ(0) is 1/2 within an ulp (its polynomial is not exact at 0).
                assert!((got[3] - want[2]).abs() <= 6e-8, "{} at -0", got[3]);
            };
            if Isa::avx2().is_none() {
                return;
            }
            check(avx2::erf, [1.0, -1.0, 0.0]);
            check(avx2::normal_cdf, [1.0, 0.0, 0.5]);
            check(avx2::tanh, [1.0, -1.0, 0.0]);
            check(avx2::logistic, [1.0, 0.0, 0.5]);
        }
    }
}
