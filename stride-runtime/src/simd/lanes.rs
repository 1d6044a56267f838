//! The handful of lane-wise operations the vector math is written in, once per register
//! width: 8 lanes of AVX2 (`avx2`) and 16 of AVX-512 (`avx512`). Each module has the same
//! functions under the same names, so one body of code (the `vector_forms!` macro in
//! `math.rs` and `activation.rs`) compiles for either width by the module it is expanded in,
//! and gives the same value in every lane on both: each function here is one IEEE operation
//! (or a bit operation), the same instruction at either width.
//!
//! A comparison gives a [`Mask`](avx2::Mask): a vector of all-ones lanes on AVX2, a `k`
//! register on AVX-512; [`select`](avx2::select) and [`zero_where`](avx2::zero_where) take
//! either. The bit operations of AVX-512 on floats need AVX-512DQ, so they go through the
//! integer forms, which AVX-512F has.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use core::arch::x86_64::*;

    /// The register.
    pub(crate) type V = __m256;
    /// Its lanes as 32-bit integers.
    pub(crate) type I = __m256i;
    /// The result of a comparison.
    pub(crate) type Mask = __m256;

    /// Lanes of [`V`].
    pub(crate) const LANES: usize = 8;

    macro_rules! binary {
        ($($name:ident = $op:ident),* $(,)?) => {$(
            #[target_feature(enable = "avx2,fma")]
            #[inline]
            pub(crate) fn $name(a: V, b: V) -> V {
                $op(a, b)
            }
        )*};
    }
    binary!(
        add = _mm256_add_ps,
        sub = _mm256_sub_ps,
        mul = _mm256_mul_ps,
        div = _mm256_div_ps
    );
    binary!(min = _mm256_min_ps, max = _mm256_max_ps);
    binary!(
        and = _mm256_and_ps,
        andnot = _mm256_andnot_ps,
        or = _mm256_or_ps
    );

    /// The `LANES` values at `p`.
    ///
    /// # Safety
    /// `p` points at `LANES` readable values.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) unsafe fn load(p: *const f32) -> V {
        // SAFETY: as the caller promised.
        unsafe { _mm256_loadu_ps(p) }
    }

    /// Writes `v` at `p`.
    ///
    /// # Safety
    /// `p` points at `LANES` writable values.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) unsafe fn store(p: *mut f32, v: V) {
        // SAFETY: as the caller promised.
        unsafe { _mm256_storeu_ps(p, v) }
    }

    /// `v` in every lane.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) fn splat(v: f32) -> V {
        _mm256_set1_ps(v)
    }

    /// `a * b + c`, rounded once.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) fn fmadd(a: V, b: V, c: V) -> V {
        _mm256_fmadd_ps(a, b, c)
    }

    /// `c - a * b`, rounded once.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) fn fnmadd(a: V, b: V, c: V) -> V {
        _mm256_fnmadd_ps(a, b, c)
    }

    /// `a < b` (false for NaN).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) fn less(a: V, b: V) -> Mask {
        _mm256_cmp_ps::<_CMP_LT_OQ>(a, b)
    }

    /// `a > b` (false for NaN).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) fn greater(a: V, b: V) -> Mask {
        _mm256_cmp_ps::<_CMP_GT_OQ>(a, b)
    }

    /// `yes` where `mask`, else `no`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) fn select(mask: Mask, yes: V, no: V) -> V {
        _mm256_blendv_ps(no, yes, mask)
    }

    /// `yes` where `x`'s sign bit is set (-0.0 and negative NaNs included), else `no`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) fn select_negative(x: V, yes: V, no: V) -> V {
        _mm256_blendv_ps(no, yes, x)
    }

    /// 0 where `mask`, else `v`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) fn zero_where(mask: Mask, v: V) -> V {
        _mm256_andnot_ps(mask, v)
    }

    /// The float with bits `i`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) fn from_bits(i: I) -> V {
        _mm256_castsi256_ps(i)
    }

    /// `a - b` in 32-bit integers.
    #[cfg(test)]
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) fn sub_int(a: I, b: I) -> I {
        _mm256_sub_epi32(a, b)
    }

    /// `(a + b) << 23`: an integer in the exponent field.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) fn exponent(a: I, b: i32) -> I {
        _mm256_slli_epi32::<23>(_mm256_add_epi32(a, _mm256_set1_epi32(b)))
    }

    /// `v * 2^n` for an integral `n` (as a float) whose product is a normal number: exact.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) fn scale_by(v: V, n: V) -> V {
        _mm256_mul_ps(v, from_bits(exponent(_mm256_cvtps_epi32(n), 127)))
    }

    /// The integral float `n` as an integer.
    #[cfg(test)]
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) fn to_int(n: V) -> I {
        _mm256_cvtps_epi32(n)
    }

    /// `a >> 1`, arithmetic.
    #[cfg(test)]
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(crate) fn halve_int(a: I) -> I {
        _mm256_srai_epi32::<1>(a)
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    use core::arch::x86_64::*;

    /// The register.
    pub(crate) type V = __m512;
    /// Its lanes as 32-bit integers.
    #[cfg(test)]
    pub(crate) type I = __m512i;
    /// The result of a comparison.
    pub(crate) type Mask = __mmask16;

    /// Lanes of [`V`].
    pub(crate) const LANES: usize = 16;

    macro_rules! binary {
        ($($name:ident = $op:ident),* $(,)?) => {$(
            #[target_feature(enable = "avx512f,avx2,fma")]
            #[inline]
            pub(crate) fn $name(a: V, b: V) -> V {
                $op(a, b)
            }
        )*};
    }
    binary!(
        add = _mm512_add_ps,
        sub = _mm512_sub_ps,
        mul = _mm512_mul_ps,
        div = _mm512_div_ps
    );
    binary!(min = _mm512_min_ps, max = _mm512_max_ps);

    macro_rules! bitwise {
        ($($name:ident = $op:ident),* $(,)?) => {$(
            #[target_feature(enable = "avx512f,avx2,fma")]
            #[inline]
            pub(crate) fn $name(a: V, b: V) -> V {
                _mm512_castsi512_ps($op(_mm512_castps_si512(a), _mm512_castps_si512(b)))
            }
        )*};
    }
    bitwise!(
        and = _mm512_and_si512,
        andnot = _mm512_andnot_si512,
        or = _mm512_or_si512
    );

    /// The `LANES` values at `p`.
    ///
    /// # Safety
    /// `p` points at `LANES` readable values.
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(crate) unsafe fn load(p: *const f32) -> V {
        // SAFETY: as the caller promised.
        unsafe { _mm512_loadu_ps(p) }
    }

    /// Writes `v` at `p`.
    ///
    /// # Safety
    /// `p` points at `LANES` writable values.
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(crate) unsafe fn store(p: *mut f32, v: V) {
        // SAFETY: as the caller promised.
        unsafe { _mm512_storeu_ps(p, v) }
    }

    /// `v` in every lane.
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(crate) fn splat(v: f32) -> V {
        _mm512_set1_ps(v)
    }

    /// `a * b + c`, rounded once.
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(crate) fn fmadd(a: V, b: V, c: V) -> V {
        _mm512_fmadd_ps(a, b, c)
    }

    /// `c - a * b`, rounded once.
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(crate) fn fnmadd(a: V, b: V, c: V) -> V {
        _mm512_fnmadd_ps(a, b, c)
    }

    /// `a < b` (false for NaN).
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(crate) fn less(a: V, b: V) -> Mask {
        _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b)
    }

    /// `a > b` (false for NaN).
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(crate) fn greater(a: V, b: V) -> Mask {
        _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, b)
    }

    /// `yes` where `mask`, else `no`.
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(crate) fn select(mask: Mask, yes: V, no: V) -> V {
        _mm512_mask_blend_ps(mask, no, yes)
    }

    /// `yes` where `x`'s sign bit is set (-0.0 and negative NaNs included), else `no`.
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(crate) fn select_negative(x: V, yes: V, no: V) -> V {
        let negative = _mm512_cmplt_epi32_mask(_mm512_castps_si512(x), _mm512_setzero_si512());
        _mm512_mask_blend_ps(negative, no, yes)
    }

    /// 0 where `mask`, else `v`.
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(crate) fn zero_where(mask: Mask, v: V) -> V {
        _mm512_maskz_mov_ps(!mask, v)
    }

    /// The float with bits `i`.
    #[cfg(test)]
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(crate) fn from_bits(i: I) -> V {
        _mm512_castsi512_ps(i)
    }

    /// `a - b` in 32-bit integers.
    #[cfg(test)]
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(crate) fn sub_int(a: I, b: I) -> I {
        _mm512_sub_epi32(a, b)
    }

    /// `(a + b) << 23`: an integer in the exponent field.
    #[cfg(test)]
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(crate) fn exponent(a: I, b: i32) -> I {
        _mm512_slli_epi32::<23>(_mm512_add_epi32(a, _mm512_set1_epi32(b)))
    }

    /// `v * 2^n` for an integral `n` (as a float) whose product is a normal number: exact,
    /// so the same value as the AVX2 form's product with a power of two, in one instruction.
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(crate) fn scale_by(v: V, n: V) -> V {
        _mm512_scalef_ps(v, n)
    }

    /// The integral float `n` as an integer.
    #[cfg(test)]
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(crate) fn to_int(n: V) -> I {
        _mm512_cvtps_epi32(n)
    }

    /// `a >> 1`, arithmetic.
    #[cfg(test)]
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    pub(crate) fn halve_int(a: I) -> I {
        _mm512_srai_epi32::<1>(a)
    }
}
