//! Max pools at stride 1 that keep the plane's size (a kernel of `2p + 1` with padding `p`:
//! GoogLeNet's 3x3 pools with padding 1 before each inception branch) on small planes, on
//! AVX-512: the plane flattened and cut into blocks of 16 consecutive outputs, which cross
//! row ends.
//!
//! Output `f` of the flattened plane reads input `f + (dy - p_h) * W + (dx - p_w)` through tap
//! `(dy, dx)`, one offset for every output, so each tap of a block is one masked load: the
//! mask keeps the lanes whose tap lies on the input, the others read as -inf, which is what the
//! separable kernels' padded row holds there. Each column of taps is reduced top to bottom,
//! then the columns left to right, with the separable kernels' `combine`: the same operations
//! in the same order, so the same bits as the window-by-window reference (`max.rs`), NaN
//! included. The masks depend only on the block's place in the plane and are made once per
//! call, for every plane.
//!
//! The row kernel (`separable/avx512.rs`) fills a 16-lane block with one output row: 7 lanes
//! of a 7x7 map, 14 of a 14x14. Here a 7x7 plane is 4 blocks instead of 7 rows, each block
//! with no loop over rows and blocks around it. Measured with the layer bench at one thread
//! (AMD EPYC Zen 5, 2 vCPUs shared with other builds; both builds alternated twice, ms row
//! kernel -> this one, 3x3 padding 1 on `C x H x W`): 832x7x7 (`maxpool3x3s1_p1_ceil_832_7`
//! of `benches/layers_zoo.json`) 0.026-0.027 -> 0.020-0.021, the same at batch 8 0.213 ->
//! 0.160, 1024x4x4 0.020 -> 0.009, 512x5x5 0.013 -> 0.008, 512x8x8 0.021 -> 0.015, 512x6x8
//! 0.016 -> 0.011. ONNX Runtime 1.32 in the same `bench/compare.sh --threads 1,2 --suite
//! benches/layers_zoo.json` run as the first: 0.018-0.019 on 832x7x7 (ours 0.020). On 14
//! columns (one row a block either way) this kernel was 1.3x slower than the row kernel
//! (480x14x14: 0.029 -> 0.038), and 1.6x on 28 (192x28x28): hence [`MAX_WIDTH`].

use std::arch::x86_64::*;

use stride_geometry::Window;

use super::separable::avx512::combine;
use crate::simd::Isa;

/// The largest plane this kernel takes, 1024 values (128 rows of [`MAX_WIDTH`]): its masks
/// (ten per block of 16 outputs) stay under 2 KiB.
const MAX_PLANE: usize = 1024;

/// The widest kernel this kernel takes, 3: a block of a `k x k` kernel makes `k^2` loads
/// where a row block makes `k` and `k - 1` permutes, so this kernel pays only when it needs
/// far fewer blocks.
const MAX_KERNEL: usize = 3;

/// The widest plane this kernel takes: 8 columns, so that a block holds two output rows or
/// more (measured: see the module docs).
const MAX_WIDTH: usize = 8;

/// A stride-1, size-keeping max pool resolved for one plane size.
#[derive(Debug)]
pub(super) struct Small {
    /// Values in a plane, `H * W`.
    len: usize,
    /// Kernel width, `kw`.
    kw: usize,
    /// For tap `(dy, dx)` at `dy * kw + dx`: the input's offset from the output,
    /// `(dy - p_h) * W + dx - p_w`.
    offsets: Vec<isize>,
    /// For block `b` (outputs `16 b ..`), at `b * (taps + 1)`: the lanes each tap reads on the
    /// input, in the order of `offsets`, then the lanes that are outputs.
    masks: Vec<u16>,
}

impl Small {
    /// The pool of `windows` over `input` with output `output`, if this kernel takes it: `isa`
    /// AVX-512, stride 1 and no dilation on both axes, output as large as the input, a kernel
    /// of at most [`MAX_KERNEL`] and a plane of at most [`MAX_PLANE`] values.
    pub(super) fn new(
        isa: Isa,
        windows: [Window; 2],
        input: [usize; 2],
        output: [usize; 2],
    ) -> Option<Small> {
        let [h, w] = input;
        let takes = |a: usize| {
            let window = windows[a];
            window.stride == 1
                && window.dilation == 1
                && window.kernel <= MAX_KERNEL
                && output[a] == input[a]
        };
        if w > MAX_WIDTH {
            return None;
        }
        let len = h.checked_mul(w)?;
        if !matches!(isa, Isa::Avx512(_)) || !takes(0) || !takes(1) || len > MAX_PLANE {
            return None;
        }
        // Bounded by `MAX_PLANE` and `MAX_KERNEL` (a pad is at most half the kernel).
        let [kh, kw] = [windows[0].kernel, windows[1].kernel].map(|k| k as isize);
        let [ph, pw] = [windows[0].pad_begin, windows[1].pad_begin].map(|p| p as isize);
        let (hi, wi) = (h as isize, w as isize);
        let taps = || (0..kh).flat_map(move |dy| (0..kw).map(move |dx| (dy, dx)));
        let offsets = taps().map(|(dy, dx)| (dy - ph) * wi + dx - pw).collect();
        let mut masks = Vec::new();
        for first in (0..len).step_by(16) {
            let lanes = first..len.min(first + 16);
            let mask = |on: &dyn Fn(isize, isize) -> bool| {
                lanes.clone().fold(0u16, |mask, f| {
                    let (r, c) = ((f / w) as isize, (f % w) as isize);
                    mask | u16::from(on(r, c)) << (f - first)
                })
            };
            for (dy, dx) in taps() {
                let on_input = |r: isize, c: isize| {
                    (0..hi).contains(&(r + dy - ph)) && (0..wi).contains(&(c + dx - pw))
                };
                masks.push(mask(&on_input));
            }
            masks.push(mask(&|_, _| true));
        }
        Some(Small {
            len,
            kw: kw as usize,
            offsets,
            masks,
        })
    }

    /// Pools one row-major plane into one plane of the same size.
    pub(super) fn plane(&self, x: &[f32], y: &mut [f32]) {
        assert_eq!((x.len(), y.len()), (self.len, self.len), "the plane's size");
        // SAFETY: a `Small` is made only for `Isa::Avx512`, which exists only on a CPU with
        // AVX-512F, AVX2 and FMA; the sizes are checked above.
        unsafe {
            match (self.offsets.len(), self.kw) {
                (9, 3) => plane_with::<3, 3>(self, x, y),
                _ => plane_with::<0, 0>(self, x, y),
            }
        }
    }
}

/// [`Small::plane`] for a `KH x KW` kernel (0: the pool's own, at run time).
///
/// # Safety
///
/// AVX-512F, AVX2 and FMA; `x` and `y` hold `pool.len` values; `KH * KW` and `KW` are 0 or
/// the pool's.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn plane_with<const KH: usize, const KW: usize>(pool: &Small, x: &[f32], y: &mut [f32]) {
    let kw = if KW > 0 { KW } else { pool.kw };
    let taps = if KH > 0 { KH * KW } else { pool.offsets.len() };
    let kh = taps / kw;
    let identity = _mm512_set1_ps(f32::NEG_INFINITY);
    for (b, masks) in pool.masks.chunks_exact(taps + 1).enumerate() {
        let at = x.as_ptr().wrapping_add(16 * b);
        let mut acc = identity;
        for dx in 0..kw {
            let mut v = identity;
            for dy in 0..kh {
                let t = dy * kw + dx;
                // SAFETY: the lanes of `masks[t]` are outputs whose tap `t` lies on the
                // plane, at `at + offsets[t]`; a masked load does not touch the others.
                let tap = unsafe {
                    _mm512_mask_loadu_ps(identity, masks[t], at.wrapping_offset(pool.offsets[t]))
                };
                v = combine::<true>(v, tap);
            }
            acc = if dx == 0 { v } else { combine::<true>(acc, v) };
        }
        // SAFETY: the lanes of the last mask are the block's outputs, inside `y`.
        unsafe { _mm512_mask_storeu_ps(y.as_mut_ptr().add(16 * b), masks[taps], acc) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::pool::max::max_plane;
    use crate::ops::pool::windows::AxisWindows;
    use crate::testing::sample;

    /// The window of `kernel` taps at stride 1 with `pads`.
    fn window(kernel: usize, (begin, end): (usize, usize)) -> Window {
        Window::new(kernel).pads(begin, end)
    }

    #[test]
    fn small_planes_pool_to_the_reference_bits_with_nan_zeros_and_infinities() {
        let Some(isa) = Isa::avx512() else {
            return; // no AVX-512 on this CPU: the kernel is never chosen
        };
        // 3x3 padding 1 (GoogLeNet's), 1x3 and 3x1, 1x1, and 2x2 padded at one end only
        // (PyTorch's "same" for an even kernel); planes of 1 to 8 columns and 1 to 11 rows,
        // blocks that cross row ends and a last block of a few lanes.
        let kernels = [(3, (1, 1)), (1, (0, 0)), (2, (0, 1)), (2, (1, 0))];
        let mut planes = 0;
        for (kh, pads_h) in kernels {
            for (kw, pads_w) in kernels {
                let windows = [window(kh, pads_h), window(kw, pads_w)];
                for (h, w) in [(1, 1), (2, 3), (7, 7), (4, 8), (11, 5), (3, 1)] {
                    let pool = Small::new(isa, windows, [h, w], [h, w]).expect("taken");
                    let rows = AxisWindows::sliding("test", h, h, windows[0]).unwrap();
                    let cols = AxisWindows::sliding("test", w, w, windows[1]).unwrap();
                    let mut x = sample(h * w, (planes * 31 + h * 7 + w) as u64).to_vec();
                    // A NaN, both zeros and both infinities, where the plane has room.
                    let specials = [f32::NAN, -0.0, 0.0, f32::INFINITY, f32::NEG_INFINITY];
                    for (i, v) in specials.into_iter().enumerate() {
                        let at = (i * 5 + planes) % (h * w);
                        x[at] = v;
                    }
                    let mut got = vec![1.0; h * w];
                    pool.plane(&x, &mut got);
                    let mut want = vec![2.0; h * w];
                    max_plane(&rows, &cols, &x, &mut want);
                    let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&want), "{kh}x{kw} on {h}x{w}");
                    planes += 1;
                }
            }
        }
        assert_eq!(planes, 96);
    }

    #[test]
    fn small_takes_only_stride_one_size_keeping_narrow_undilated_max_pools_on_avx512() {
        let same = [window(3, (1, 1)); 2];
        if let Some(isa) = Isa::avx512() {
            assert!(Small::new(isa, same, [7, 7], [7, 7]).is_some());
            assert!(Small::new(isa, same, [128, 8], [128, 8]).is_some());
            // Wider than a block's two rows, a plane past the bound, a kernel past 3.
            assert!(Small::new(isa, same, [7, 9], [7, 9]).is_none());
            assert!(Small::new(isa, same, [129, 8], [129, 8]).is_none());
            let wide = [window(5, (2, 2)); 2];
            assert!(Small::new(isa, wide, [7, 7], [7, 7]).is_none());
            // Stride 2, dilation 2, or an output of another size.
            let strided = [window(3, (1, 1)).stride(2); 2];
            assert!(Small::new(isa, strided, [7, 7], [4, 4]).is_none());
            let dilated = [window(3, (2, 2)).dilation(2); 2];
            assert!(Small::new(isa, dilated, [7, 7], [7, 7]).is_none());
            let valid = [window(3, (0, 0)); 2];
            assert!(Small::new(isa, valid, [7, 7], [5, 5]).is_none());
        }
        for isa in [Some(Isa::Scalar), Isa::avx2()].into_iter().flatten() {
            assert!(Small::new(isa, same, [7, 7], [7, 7]).is_none());
        }
    }
}
