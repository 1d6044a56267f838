//! Fills and copies of short runs: the padding and the row segments that the GEMM's packing of
//! `B` and the convolutions' staging are made of, a few dozen values each, where a `memset` or
//! `memmove` call costs more than the work. One definition each, used by every kernel that
//! packs or stages.

use super::Isa;

/// The longest run [`zero`] fills in fixed-size pieces, one cache line of `f32`s (and one row
/// of a GEMM micro-panel).
const SHORT: usize = 16;

/// `dst.fill(0.0)`, without a library call for the short runs that padding makes.
#[inline]
pub(crate) fn zero(dst: &mut [f32]) {
    if dst.len() <= SHORT {
        short_zero(dst);
    } else {
        dst.fill(0.0);
    }
}

/// `dst.fill(0.0)` for at most [`SHORT`] values, in fixed-size pieces the compiler turns into
/// a few stores (written as branches, not a loop, which the compiler would turn back into a
/// `memset` call): a library call costs more than the fill at these lengths.
#[inline(always)]
fn short_zero(dst: &mut [f32]) {
    debug_assert!(dst.len() <= SHORT);
    let mut dst = dst;
    macro_rules! piece {
        ($n:literal) => {
            if dst.len() >= $n {
                let (d, rest) = dst.split_at_mut($n);
                *<&mut [f32; $n]>::try_from(d).unwrap() = [0.0; $n];
                dst = rest;
            }
        };
    }
    piece!(16);
    piece!(8);
    piece!(4);
    piece!(2);
    if let Some(d) = dst.first_mut() {
        *d = 0.0;
    }
}

impl Isa {
    /// `dst.copy_from_slice(src)` without a library call for the runs of packing and staging
    /// (through `memmove`, staging took 10% of `resnet_conv3x3_64_56`, and packing a
    /// transposed convolution's phases half its time): AVX2 moves inline, else fixed-size
    /// pieces.
    #[inline]
    pub(crate) fn copy(self, dst: &mut [f32], src: &[f32]) {
        match self {
            // SAFETY: an `Avx2` or `Avx512` value exists only where the CPU has AVX2.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(_) | Isa::Avx512(_) => unsafe { avx2::copy(dst, src) },
            Isa::Scalar => copy_in_pieces(dst, src),
        }
    }

    /// `dst[t] = src[t * stride]` for every `t` of `dst`, the strided copy of a convolution's
    /// `B` packing and of the stride phases of the direct kernels; stride 2 (every strided
    /// layer of ResNet and VGG) has an AVX2 form, and strides 3 and 4 (ConvNeXt's 4x4/4
    /// patchify stem) a loop over whole groups that the compiler vectorises: value by value,
    /// the phase copy of that stem took as long as its multiply.
    #[inline]
    pub(crate) fn copy_strided(self, dst: &mut [f32], src: &[f32], stride: usize) {
        debug_assert!(dst.is_empty() || (dst.len() - 1) * stride < src.len());
        let done = match self {
            // SAFETY: an `Avx2` or `Avx512` value exists only where the CPU has AVX2.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(_) | Isa::Avx512(_) if stride == 2 => unsafe { avx2::every_other(dst, src) },
            _ if stride == 3 => first_of_groups::<3>(dst, src),
            _ if stride == 4 => first_of_groups::<4>(dst, src),
            _ => 0,
        };
        let src = &src[done * stride..];
        for (d, &v) in dst[done..].iter_mut().zip(src.iter().step_by(stride)) {
            *d = v;
        }
    }
}

/// `dst[t] = src[t * S]` for as many leading `t` as `src` holds whole groups of `S`; returns
/// how many it wrote. The rest is the caller's.
#[inline(always)]
fn first_of_groups<const S: usize>(dst: &mut [f32], src: &[f32]) -> usize {
    let n = dst.len().min(src.len() / S);
    for (d, group) in dst[..n].iter_mut().zip(src.chunks_exact(S)) {
        *d = group[0];
    }
    n
}

/// `dst.copy_from_slice(src)` in pieces of fixed size, which the compiler turns into vector
/// moves of the target's baseline; runs longer than four cache lines go to the library call,
/// which is then worth it.
#[inline(always)]
fn copy_in_pieces(dst: &mut [f32], src: &[f32]) {
    assert_eq!(dst.len(), src.len(), "copy lengths");
    if dst.len() > 4 * SHORT {
        dst.copy_from_slice(src);
        return;
    }
    let (mut dst, mut src) = (dst, src);
    macro_rules! piece {
        ($n:literal) => {
            while dst.len() >= $n {
                let (d, d_rest) = dst.split_at_mut($n);
                let (s, s_rest) = src.split_at($n);
                *<&mut [f32; $n]>::try_from(d).unwrap() = *<&[f32; $n]>::try_from(s).unwrap();
                (dst, src) = (d_rest, s_rest);
            }
        };
    }
    piece!(16);
    piece!(4);
    piece!(1);
}

/// The AVX2 forms of the copies.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use core::arch::x86_64::*;

    /// `dst.copy_from_slice(src)` in vector moves with no library call. A short tail is one
    /// more move that overlaps the previous one; below 8 values, two overlapping moves of 4,
    /// 2 or 1. (Not a masked store, which AMD cores run slowly, and not one store a step, a
    /// loop LLVM turns back into a `memcpy` call.)
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn copy(dst: &mut [f32], src: &[f32]) {
        assert_eq!(dst.len(), src.len(), "copy lengths");
        let (d, s, n) = (dst.as_mut_ptr(), src.as_ptr(), dst.len());
        // SAFETY: every move below reads `src[i .. i + w]` and writes `dst[i .. i + w]` with
        // `i + w <= n`, in bounds of both slices, which do not overlap.
        unsafe {
            if n >= 8 {
                let mut i = 0;
                while i + 16 <= n {
                    let (a, b) = (_mm256_loadu_ps(s.add(i)), _mm256_loadu_ps(s.add(i + 8)));
                    _mm256_storeu_ps(d.add(i), a);
                    _mm256_storeu_ps(d.add(i + 8), b);
                    i += 16;
                }
                if i + 8 <= n {
                    _mm256_storeu_ps(d.add(i), _mm256_loadu_ps(s.add(i)));
                    i += 8;
                }
                if i < n {
                    _mm256_storeu_ps(d.add(n - 8), _mm256_loadu_ps(s.add(n - 8)));
                }
            } else if n >= 4 {
                _mm_storeu_ps(d, _mm_loadu_ps(s));
                _mm_storeu_ps(d.add(n - 4), _mm_loadu_ps(s.add(n - 4)));
            } else if n >= 2 {
                d.cast::<u64>()
                    .write_unaligned(s.cast::<u64>().read_unaligned());
                let (d, s) = (d.add(n - 2), s.add(n - 2));
                d.cast::<u64>()
                    .write_unaligned(s.cast::<u64>().read_unaligned());
            } else if n == 1 {
                *d = *s;
            }
        }
    }

    /// `dst[t] = src[2 * t]` for as many leading `t` as whole groups of 8 allow while 16
    /// values of `src` remain readable; returns how many it wrote. The rest is the caller's.
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn every_other(dst: &mut [f32], src: &[f32]) -> usize {
        let mut t = 0;
        while t + 8 <= dst.len() && 2 * t + 16 <= src.len() {
            // SAFETY: `src[2t .. 2t + 16]` and `dst[t .. t + 8]` are in bounds (checked above).
            unsafe {
                let lo = _mm256_loadu_ps(src.as_ptr().add(2 * t));
                let hi = _mm256_loadu_ps(src.as_ptr().add(2 * t + 8));
                // Per 128-bit lane: [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6]; then the 64-bit pairs
                // in the order 0, 2, 1, 3 give [lo0 lo2 lo4 lo6 hi0 hi2 hi4 hi6].
                let even = _mm256_shuffle_ps::<0b10_00_10_00>(lo, hi);
                let even = _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(
                    _mm256_castps_pd(even),
                ));
                _mm256_storeu_ps(dst.as_mut_ptr().add(t), even);
            }
            t += 8;
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path the machine has.
    fn paths() -> Vec<Isa> {
        let mut paths = vec![Isa::Scalar];
        paths.extend(Isa::avx2());
        paths
    }

    #[test]
    fn zero_fills_every_length_exactly_and_nothing_past_it() {
        for len in 0..=70 {
            let mut dst = vec![f32::NAN; len + 2];
            zero(&mut dst[1..=len]);
            assert!(dst[1..=len].iter().all(|&v| v == 0.0), "{len}");
            assert!(dst[0].is_nan() && dst[len + 1].is_nan(), "{len}");
        }
    }

    #[test]
    fn copy_strided_takes_every_stride_th_value_on_every_path() {
        let values: Vec<f32> = (0..300).map(|i| i as f32).collect();
        for isa in paths() {
            for stride in 1..=5 {
                for len in 0..=40 {
                    for offset in [0, 1, 3] {
                        let src = &values[offset..offset + (len.max(1) - 1) * stride + 1];
                        let mut dst = vec![f32::NAN; len];
                        isa.copy_strided(&mut dst, src, stride);
                        let want: Vec<f32> = (0..len).map(|t| src[t * stride]).collect();
                        assert_eq!(dst, want, "{isa:?} stride {stride} len {len}");
                    }
                }
            }
        }
    }

    #[test]
    fn copy_copies_every_length_exactly_and_nothing_past_it_on_every_path() {
        // Below one vector, around one and two, and long runs; from and to uneven offsets.
        let values: Vec<f32> = (0..300).map(|i| i as f32).collect();
        for isa in paths() {
            for len in 0..=150 {
                for (from, to) in [(0, 0), (1, 3), (5, 2)] {
                    let mut dst = vec![f32::NAN; len + 8];
                    isa.copy(&mut dst[to..to + len], &values[from..from + len]);
                    assert!(dst[..to].iter().all(|v| v.is_nan()), "{isa:?} {len}");
                    assert_eq!(
                        &dst[to..to + len],
                        &values[from..from + len],
                        "{isa:?} {len}"
                    );
                    assert!(dst[to + len..].iter().all(|v| v.is_nan()), "{isa:?} {len}");
                }
            }
        }
    }
}
