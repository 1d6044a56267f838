//! im2col's packing of `B` in AVX-512 masked vectors.
//!
//! A packed row `(c, ki, kj)` holds, for each output position `(oy, ox)` of the block, the
//! input pixel `(oy * sh + ki * dh - ph, ox * sw + kj * dw - pw)`, or 0 in the padding. The
//! portable packing splits each output row into a fill of zeros, a copy and another fill:
//! three calls and their bounds for a run of 7 to 56 values, which cost more than the copying
//! (packing was 10-30% of `conv5x5_16_32_28`, the ResNet and MobileNet stems and ConvNeXt's
//! patchify stem, Zen 5). Here every 16 values are one masked load (a lane outside the input
//! is masked off, reads nothing and comes out 0) and one store, in one of two walks:
//!
//! * **By positions**, at width stride 1 ([`Positions`]): the block goes 16 output positions
//!   at a time whatever its output rows, and each lane carries its own position in two
//!   vectors stepped along with the block, `X = ox` and `Y = oy * sh * W`. For a packed row
//!   they give each lane's input offset (`Y + X` plus the row's constant) and its padding mask
//!   (two unsigned compares against the tap's valid outputs, [`Taps`], scaled the same way).
//!   The lanes on lane 0's output row are one masked load, those on lane 15's another; only
//!   16 positions across three output rows (a map narrower than 15) gather. The bounds per
//!   output row cost more than the copy on small maps: this walk took `conv3x3_512_7` from
//!   1.19 to 1.08-1.09 ms and `conv5x5_64_128_28` from 1.67 to 1.55-1.58 (one thread, Zen 5,
//!   `cargo bench --bench layers -- --threads 1 --layer NAME`, the two builds alternated
//!   three times on a loaded machine, minimum and median of each).
//! * **By output rows**, at any other stride: per output row the run of values inside the
//!   input, from bounds worked out in scalar code: at stride 2 two loads and a `vpermt2ps`
//!   that keeps the even lanes, at other strides a masked gather. At stride 2 the walk by
//!   positions measured slower (same method): `resnet_conv3x3s2_128_28` 0.62-0.63 against
//!   0.61 ms and ResNet's stem 1.60-1.66 against 1.56-1.57, the 14-wide output rows of the
//!   first crossing a vector's 16 lanes almost every time.
//! * **By gathers**, at a width stride other than 1 when an output row is at most 8 wide
//!   ([`gathers`]): by output rows, each such row is a vector more than half empty (a 7-wide
//!   row is 7 lanes of 16, with its two loads and a permute); here the block's 16 positions a
//!   vector are worked out once per block into a [`Grid`], and each vector of a packed row is
//!   one masked gather from them, all 16 lanes filled across output rows. One thread, Zen 5,
//!   `cargo bench --bench layers -- --suite FILE --threads 1`, the two builds alternated
//!   (medians of 2-3 runs on a machine shared with other builds, ms, before → after): 3x3/2
//!   512 at 14 1.08-1.10 → 1.05-1.08, 3x3/2 256 at 10 0.206 → 0.181, 3x3/2 256 → 384 at 16
//!   0.51 → 0.48, 5x5/2 96 → 192 at 14 0.261 → 0.229, ConvNeXt's 2x2/2 384 → 768 at 14
//!   0.52-0.53 → 0.51-0.52, 3x3/2 320 → 640 at 13 0.81-0.84 → 0.80-0.81. On wider rows the
//!   gather lost: with every strided row gathered, `resnet_conv3x3s2_128_28` (14-wide
//!   output) 0.556 → 0.575 and 2x2/2 96 → 192 at 56 0.554 → 0.58; at stride 1 (dilated
//!   3x3 at 28 and 33, 5x5 at 20) 7-13% slower than the walk by positions, and at stride 1
//!   onto rows at most 8 wide as well, where the walk by positions gathers its vectors
//!   that cross three rows (`conv3x3_512_7` 1.077 → 1.091, 3x3 384 at 8 0.710 → 0.744, 3x3
//!   512 at 4 0.440 → 0.459, 5x5 160 at 7 0.342 → 0.351: medians of 3, same method).
//!
//! What packing costs at most: packing zeros in place of every row (so no input read at
//! all) took `resnet_conv3x3s2_128_28` from 0.549 to 0.491 ms, `conv3x3s2_256_28` from 1.09
//! to 0.97, `dilated3x3_d2_256_28` from 3.94 to 3.67; keeping the walk by output rows but
//! skipping its loads gave 0.522 and 1.035, so the input's loads are about half of the
//! stride-2 packing and the walk's bounds and stores the other half (same method, one
//! thread).
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

const _: () = assert!(NR == LANES);

/// Whether [`pack`] takes `g`: a width stride whose gather offsets (`15 * stride`) fit the
/// gather's 32-bit indices, and positions that fit an `i32` (up to a plane, and a vector
/// past the last output row, which on a map one column wide is 16 rows past it). Any real
/// layer does; a hostile size goes the portable way.
pub(super) fn takes(g: &Geometry<Window>) -> bool {
    let limit = i32::MAX as u128 / 4;
    let [window_h, window_w] = g.axes;
    let rows =
        (g.output[0] as u128 + LANES as u128 + 1) * window_h.stride as u128 * g.input[1] as u128;
    let cols = (g.output[1] as u128 + LANES as u128) * window_w.stride as u128;
    let plane = g.input[0] as u128 * g.input[1] as u128;
    rows < limit && cols < limit && plane < limit
}

/// [`PackB::pack`](crate::gemm::PackB::pack) of im2col's matrix of the planes `x` under `g`
/// on AVX-512: the same rows, columns and zero padding. `rows[ki]` and `cols[kj]` are the
/// taps of each kernel row and column (the source's tables); `prefetch(k)` asks for the input
/// lines that row `k`'s channel reads in this block, and is called for the block's first row
/// and, at each channel's first row, for the next channel.
///
/// # Safety
/// The CPU has AVX-512F; [`takes`] accepted `g`; `rows` and `cols` are the taps of `g`; `x`
/// holds the `g.group_in` planes of `g`; rows `k0..k0 + kc` and columns `j0..j0 + nc` lie
/// inside the matrix, and `dst` holds `kc` rows `row_stride` apart, each `nc` rounded up to
/// [`NR`] long.
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn pack(
    g: &Geometry<Window>,
    x: &[f32],
    rows: &[Taps],
    cols: &[Taps],
    prefetch: impl Fn(usize),
    (k0, kc): (usize, usize),
    (j0, nc): (usize, usize),
    dst: &mut [f32],
    row_stride: usize,
) {
    let [window_h, window_w] = g.axes;
    let (h, w) = (g.input[0], g.input[1]);
    let taps = window_h.kernel * window_w.kernel;
    let width = nc.div_ceil(NR) * NR;
    assert!(kc == 0 || dst.len() >= (kc - 1) * row_stride + width);
    assert!(rows.len() == window_h.kernel && cols.len() == window_w.kernel);
    assert!(x.len() >= g.group_in * h * w && k0 + kc <= g.group_in * taps);
    let walk = Walk::new(g, j0, nc);
    // The block's columns a grid at a time when gathering, else all at once.
    let gather = gathers(g);
    let chunk = if gather { GRID * LANES } else { width };
    for start in (0..width).step_by(chunk.max(1)) {
        let end = (start + chunk).min(width);
        let grid = gather.then(|| Grid::new(g, j0 + start, nc.min(end) - start));
        // Row `k0 + p` is channel `c`, tap `tap`, stepped along rather than divided out.
        let (mut c, mut tap) = (k0 / taps, k0 % taps);
        for p in 0..kc {
            if start == 0 {
                if p == 0 {
                    prefetch(k0);
                }
                if tap == 0 && c + 1 < g.group_in {
                    prefetch((c + 1) * taps);
                }
            }
            let line = &mut dst[p * row_stride..][start..end];
            let (ys, xs) = (&rows[tap / window_w.kernel], &cols[tap % window_w.kernel]);
            let plane = &x[c * h * w..][..h * w];
            // SAFETY: AVX-512F as the caller promised; `ys` and `xs` are the taps of `g` for
            // this row, whose reads they keep inside `plane`; the grid and the walk were made
            // for `g`, and without a grid `line` is the whole block's row.
            unsafe {
                if ys.indices.is_empty() || xs.indices.is_empty() {
                    zeros(line);
                } else if let Some(grid) = &grid {
                    gathered(grid, g, plane, ys, xs, line);
                } else if window_w.stride == 1 {
                    walk.by_positions(g, plane, ys, xs, line);
                } else {
                    by_output_rows(g, plane, ys, xs, (j0, nc), line);
                }
            }
            tap += 1;
            if tap == taps {
                (c, tap) = (c + 1, 0);
            }
        }
    }
}

/// The block's columns as 16 output positions at a time, for the walk by positions.
struct Walk {
    /// The first 16 positions, from column `j0`.
    first: Positions,
    /// `16`: how far `X` moves in a vector.
    x_step: __m512i,
    /// `OW`: where an output row ends in `X`.
    row_end: __m512i,
    /// `sh * W`: how far `Y` moves per output row.
    y_step: __m512i,
    /// Columns in the block.
    nc: usize,
}

/// 16 output positions: lane `t` at `X = ox` and `Y = oy * sh * W`.
#[derive(Clone, Copy)]
struct Positions {
    x: __m512i,
    y: __m512i,
}

impl Walk {
    /// The walk over columns `j0..j0 + nc` of `g`'s matrix.
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn new(g: &Geometry<Window>, j0: usize, nc: usize) -> Walk {
        let ow = g.output[1];
        let row = g.axes[0].stride * g.input[1];
        let (mut xs, mut ys) = ([0i32; LANES], [0i32; LANES]);
        let (mut oy, mut ox) = (j0 / ow, j0 % ow);
        for (x, y) in xs.iter_mut().zip(&mut ys) {
            (*x, *y) = (ox as i32, (oy * row) as i32);
            ox += 1;
            if ox == ow {
                (oy, ox) = (oy + 1, 0);
            }
        }
        // SAFETY: loads of 16 values from arrays of 16.
        let first = unsafe {
            Positions {
                x: _mm512_loadu_si512(xs.as_ptr().cast()),
                y: _mm512_loadu_si512(ys.as_ptr().cast()),
            }
        };
        Walk {
            first,
            x_step: _mm512_set1_epi32(LANES as i32),
            row_end: _mm512_set1_epi32(ow as i32),
            y_step: _mm512_set1_epi32(row as i32),
            nc,
        }
    }

    /// The next 16 positions after `at`: `X` on by 16, and every lane past the end of its
    /// output row wrapped onto the next (several times on a map narrower than 16).
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    fn advance(&self, at: &mut Positions) {
        at.x = _mm512_add_epi32(at.x, self.x_step);
        loop {
            let past = _mm512_cmpge_epi32_mask(at.x, self.row_end);
            if past == 0 {
                break;
            }
            at.x = _mm512_mask_sub_epi32(at.x, past, at.x, self.row_end);
            at.y = _mm512_mask_add_epi32(at.y, past, at.y, self.y_step);
        }
    }

    /// Packs one row at width stride 1, whose taps are `ys` and `xs` (both non-empty), from
    /// its input plane, into `line` (the block's columns rounded up to whole vectors).
    ///
    /// # Safety
    /// The CPU has AVX-512F; the walk was made for `g`, `plane` is one of its input planes
    /// and `ys`, `xs` taps of `g`; `line` holds `nc` rounded up to [`NR`] values.
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn by_positions(
        &self,
        g: &Geometry<Window>,
        plane: &[f32],
        ys: &Taps,
        xs: &Taps,
        line: &mut [f32],
    ) {
        debug_assert!(g.axes[1].stride == 1 && line.len() == self.nc.div_ceil(LANES) * LANES);
        let row = g.axes[0].stride * g.input[1];
        // Lane `(X, Y)` is inside the input where `X - x0 < x_len` and `Y - y0 < y_len`
        // (unsigned), and then reads `plane[origin + Y + X]`.
        let (x0, y0) = (xs.indices.start, ys.indices.start * row);
        let bounds = Bounds {
            x0: _mm512_set1_epi32(x0 as i32),
            x_len: _mm512_set1_epi32(xs.indices.len() as i32),
            y0: _mm512_set1_epi32(y0 as i32),
            y_len: _mm512_set1_epi32((ys.indices.len() * row) as i32),
        };
        let origin = (ys.first * g.input[1] + xs.first) as isize - (x0 + y0) as isize;
        // Where `Y + X == 0` would read; each lane reads only at its own offset from it.
        let base = plane.as_ptr().wrapping_offset(origin);
        let out = line.as_mut_ptr();
        let mut at = self.first;
        for v in 0..line.len() / LANES {
            let here = (self.nc - v * LANES).min(LANES);
            let columns: __mmask16 = if here == LANES { !0 } else { (1 << here) - 1 };
            // SAFETY: AVX-512F as the caller promised; the lanes `load` reads are inside the
            // tap's valid outputs, so inside `plane`; the store is vector `v` of `line`.
            unsafe {
                let value = load(base, at, &bounds, columns);
                _mm512_storeu_ps(out.add(v * LANES), value);
            }
            self.advance(&mut at);
        }
    }
}

/// A packed row's valid positions, scaled as [`Positions`]: `x0 .. x0 + x_len` in `X` and
/// `y0 .. y0 + y_len` in `Y`.
struct Bounds {
    x0: __m512i,
    x_len: __m512i,
    y0: __m512i,
    y_len: __m512i,
}

/// The 16 values at `base[Y + X]` for the lanes of `columns` inside `bounds`, 0 for the
/// others, at width stride 1.
///
/// # Safety
/// The CPU has AVX-512F; `base[Y + X]` is readable for every lane inside `bounds`.
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
unsafe fn load(base: *const f32, at: Positions, bounds: &Bounds, columns: __mmask16) -> __m512 {
    let inside_x = _mm512_cmplt_epu32_mask(_mm512_sub_epi32(at.x, bounds.x0), bounds.x_len);
    let inside_y = _mm512_cmplt_epu32_mask(_mm512_sub_epi32(at.y, bounds.y0), bounds.y_len);
    let valid = inside_x & inside_y & columns;
    if valid == 0 {
        return _mm512_setzero_ps();
    }
    let offsets = _mm512_add_epi32(at.y, at.x);
    let iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    // The lanes on lane 0's output row read `head + t`, those on lane 15's `tail + t`.
    let head = _mm_cvtsi128_si32(_mm512_castsi512_si128(offsets));
    let on_head = _mm512_cmpeq_epi32_mask(offsets, _mm512_add_epi32(_mm512_set1_epi32(head), iota));
    if on_head & valid == valid {
        // SAFETY: lane `t` of `valid` reads `head + t`, its own offset.
        return unsafe { _mm512_maskz_loadu_ps(valid, base.wrapping_offset(head as isize)) };
    }
    let tail = _mm_extract_epi32::<3>(_mm512_extracti32x4_epi32::<3>(offsets)) - 15;
    let on_tail = _mm512_cmpeq_epi32_mask(offsets, _mm512_add_epi32(_mm512_set1_epi32(tail), iota));
    if (on_head | on_tail) & valid == valid {
        let (first, second) = (on_head & valid, !on_head & valid);
        // SAFETY: lane `t` of `first` reads `head + t` and of `second` `tail + t`, their own
        // offsets.
        return unsafe {
            let value = _mm512_maskz_loadu_ps(first, base.wrapping_offset(head as isize));
            _mm512_mask_loadu_ps(value, second, base.wrapping_offset(tail as isize))
        };
    }
    // Across three output rows.
    // SAFETY: only the lanes of `valid` are read, each at its own offset.
    unsafe { _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), valid, offsets, base.cast()) }
}

/// Packs one row at a width stride other than 1, whose taps are `ys` and `xs` (both
/// non-empty), from its input plane, into `line` (columns `j0..j0 + nc` rounded up to whole
/// vectors): output row by output row, the run of values inside the input at once.
///
/// # Safety
/// The CPU has AVX-512F; [`takes`] accepted `g`, `plane` is one of its input planes and `ys`,
/// `xs` taps of `g`; `line` holds `nc` rounded up to [`NR`] values.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn by_output_rows(
    g: &Geometry<Window>,
    plane: &[f32],
    ys: &Taps,
    xs: &Taps,
    (j0, nc): (usize, usize),
    line: &mut [f32],
) {
    let [window_h, window_w] = g.axes;
    let (w, ow) = (g.input[1], g.output[1]);
    let stride = window_w.stride;
    let mut n = j0;
    let (mut oy, mut ox0) = (j0 / ow, j0 % ow);
    while n < j0 + nc {
        let len = (ow - ox0).min(j0 + nc - n);
        let segment = &mut line[n - j0..n - j0 + len];
        if ys.indices.contains(&oy) {
            let iy = ys.first + (oy - ys.indices.start) * window_h.stride;
            // Where output column `ox` of this row reads: `origin + ox * stride`, inside
            // the input row for `ox` in `xs.indices` and wherever it falls for the others,
            // which are masked off.
            let origin = (iy * w + xs.first) as isize - (xs.indices.start * stride) as isize;
            let valid = (
                xs.indices.start as isize - ox0 as isize,
                xs.indices.end as isize - ox0 as isize,
            );
            let from = origin + (ox0 * stride) as isize;
            // SAFETY: AVX-512F as the caller promised; every lane in `valid` reads
            // `plane[from + t * stride]` for a column `ox0 + t` of `xs.indices`, inside
            // its row `iy`.
            unsafe { run(segment, plane, from, stride, valid) };
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

/// Whether [`pack`] gathers each 16 values through a [`Grid`] rather than walking output
/// rows: at a width stride other than 1 when an output row is at most half a vector wide
/// (see [the module docs](self)). There a walk by output rows stores a vector that is more
/// than half empty per output row, where a gather fills all 16 lanes across rows; at stride
/// 1 the walk by positions already does, with loads rather than a gather.
fn gathers(g: &Geometry<Window>) -> bool {
    g.axes[1].stride != 1 && g.output[1] <= LANES / 2
}

/// Vectors of positions a [`Grid`] holds.
const GRID: usize = 32;

/// Up to [`GRID`] vectors of 16 consecutive output positions of a block, lane `t` of vector
/// `v` at `X = ox * sw` and `Y = oy * sh * W`, the input offset of its window's corner:
/// worked out once per block and read for every packed row.
struct Grid {
    x: [[i32; LANES]; GRID],
    y: [[i32; LANES]; GRID],
    /// Columns in the grid (at most `GRID * LANES`).
    columns: usize,
}

impl Grid {
    /// The positions of columns `j0..j0 + columns` of `g`'s matrix.
    fn new(g: &Geometry<Window>, j0: usize, columns: usize) -> Grid {
        debug_assert!(columns <= GRID * LANES);
        let ow = g.output[1];
        let (row, step) = (g.axes[0].stride * g.input[1], g.axes[1].stride);
        let mut grid = Grid {
            x: [[0; LANES]; GRID],
            y: [[0; LANES]; GRID],
            columns,
        };
        let (mut oy, mut ox) = (j0 / ow, j0 % ow);
        for v in 0..columns.div_ceil(LANES) {
            for t in 0..LANES {
                grid.x[v][t] = (ox * step) as i32;
                grid.y[v][t] = (oy * row) as i32;
                ox += 1;
                if ox == ow {
                    (oy, ox) = (oy + 1, 0);
                }
            }
        }
        grid
    }
}

/// Packs the grid's columns of one row, whose taps are `ys` and `xs` (both non-empty), from
/// its input plane into `line` (the grid's columns rounded up to whole vectors).
///
/// # Safety
/// The CPU has AVX-512F; [`takes`] accepted `g`; the grid was made for `g`, `plane` is one of
/// its input planes and `ys`, `xs` taps of `g`.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn gathered(
    grid: &Grid,
    g: &Geometry<Window>,
    plane: &[f32],
    ys: &Taps,
    xs: &Taps,
    line: &mut [f32],
) {
    debug_assert!(line.len() == grid.columns.div_ceil(LANES) * LANES);
    let row = g.axes[0].stride * g.input[1];
    let step = g.axes[1].stride;
    // Lane `(X, Y)` is inside the input where `X - x0 < x_len` and `Y - y0 < y_len`
    // (unsigned), and then reads `plane[origin + Y + X]`.
    let (x0, y0) = (xs.indices.start * step, ys.indices.start * row);
    let x0v = _mm512_set1_epi32(x0 as i32);
    let x_len = _mm512_set1_epi32((xs.indices.len() * step) as i32);
    let y0v = _mm512_set1_epi32(y0 as i32);
    let y_len = _mm512_set1_epi32((ys.indices.len() * row) as i32);
    let origin = (ys.first * g.input[1] + xs.first) as isize - (x0 + y0) as isize;
    let base = plane.as_ptr().wrapping_offset(origin);
    let out = line.as_mut_ptr();
    for v in 0..line.len() / LANES {
        let here = (grid.columns - v * LANES).min(LANES);
        let columns: __mmask16 = if here == LANES { !0 } else { (1 << here) - 1 };
        // SAFETY: AVX-512F as the caller promised; the lanes gathered are inside the tap's
        // valid outputs, so inside `plane`; the store is vector `v` of `line`.
        unsafe {
            let at_x = _mm512_loadu_si512(grid.x[v].as_ptr().cast());
            let at_y = _mm512_loadu_si512(grid.y[v].as_ptr().cast());
            let inside_x = _mm512_cmplt_epu32_mask(_mm512_sub_epi32(at_x, x0v), x_len);
            let inside_y = _mm512_cmplt_epu32_mask(_mm512_sub_epi32(at_y, y0v), y_len);
            let valid = inside_x & inside_y & columns;
            let offsets = _mm512_add_epi32(at_y, at_x);
            let value =
                _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), valid, offsets, base.cast());
            _mm512_storeu_ps(out.add(v * LANES), value);
        }
    }
}
