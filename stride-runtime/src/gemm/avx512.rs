//! The AVX-512 micro-kernel: a 6 × 64 tile in 24 zmm registers.
//!
//! Each step loads four zmm vectors of `B`'s row and multiplies each of the 6 broadcast
//! values of `A` into them: 24 FMAs for 4 loads and 6 broadcasts, and 24 + 4 + 1 of the 32
//! registers. The `A` panels are the AVX2 kernel's (6 rows), so a layer packs its weights the
//! same way on either; the packed `B` block is too (rows padded to [`NR`]), the tile just
//! reads four of its 16-column panels at a time.
//!
//! A tile narrower than 64 columns multiplies only the vectors it has, and an edge panel of
//! `A` only its real rows, as on AVX2. A tile of whole vectors and a few columns more (up to
//! [`TAIL`]: a 7 × 7 plane's 49 columns are 48 + 1) takes those columns the other way round:
//! each is one vector of the panel's 6 rows times a broadcast of `B`, so the 49th column costs
//! one FMA per step instead of a vector of 16 lanes per row (6 FMAs for 1 useful lane), which
//! made it a quarter of a 7 × 7 layer's time. Rows of contiguous columns are finished in
//! registers, activation included, the last vector of a ragged row under a mask; other tiles,
//! and those few columns, go through [`write_tile`].

use core::arch::x86_64::*;

use super::ahead::Ahead;
use super::tile::{Tile, write_tile};
use super::{MR, NR, NR_WIDE};
use crate::simd::activation::avx512 as act;

/// Lanes of a zmm register.
const LANES: usize = 16;

/// Vectors across the tile.
const VECTORS: usize = NR_WIDE / LANES;

/// The most columns past a tile's whole vectors that run as columns (one FMA each per step)
/// rather than as one more vector (one FMA per row): fewer than a panel's 6 rows, so they cost
/// less, and few enough that the accumulators stay in registers.
const TAIL: usize = 4;

const _: () = assert!(NR_WIDE.is_multiple_of(LANES) && NR.is_multiple_of(LANES) && VECTORS == 4);

/// Runs `kc` steps of an `A` panel times a `B` panel and writes the tile.
///
/// # Safety
/// The CPU has AVX-512F, AVX2 and FMA; `a` holds `kc * MR` values and `b` `kc` rows of
/// `tile.cols` rounded up to [`NR`] values, `ldb` apart; `tile` describes elements of one
/// live `C` that nothing else touches meanwhile.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn kernel(
    kc: usize,
    a: &[f32],
    b: &[f32],
    ldb: usize,
    tile: &Tile,
    ahead: Ahead,
) {
    let (whole, ragged) = (tile.cols / LANES, tile.cols % LANES);
    if tile.rows == MR && (1..VECTORS).contains(&whole) && (1..=TAIL).contains(&ragged) {
        // SAFETY: the caller's promises are `with_tail`'s; `b`'s rows hold `whole + 1`
        // vectors, the last of which holds the `ragged` columns.
        return unsafe {
            match whole {
                1 => with_tail::<1>(kc, a, b, ldb, tile, ahead),
                2 => with_tail::<2>(kc, a, b, ldb, tile, ahead),
                _ => with_tail::<3>(kc, a, b, ldb, tile, ahead),
            }
        };
    }
    // SAFETY (every arm): the caller's promises are `rows`'s, and `cols.div_ceil(16)`
    // vectors of a row are its `cols` rounded up to `NR`.
    unsafe {
        match tile.cols.div_ceil(LANES) {
            1 => rows::<1>(kc, a, b, ldb, tile, ahead),
            2 => rows::<2>(kc, a, b, ldb, tile, ahead),
            3 => rows::<3>(kc, a, b, ldb, tile, ahead),
            _ => rows::<VECTORS>(kc, a, b, ldb, tile, ahead),
        }
    }
}

/// [`kernel`] for a whole panel of `A` and a tile of `V` whole vectors and `1..=TAIL`
/// columns more.
///
/// # Safety
/// As [`kernel`]; `tile.rows == MR` and `b`'s rows hold `V` vectors and the tail's columns.
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
unsafe fn with_tail<const V: usize>(
    kc: usize,
    a: &[f32],
    b: &[f32],
    ldb: usize,
    tile: &Tile,
    ahead: Ahead,
) {
    // SAFETY (every arm): as the caller promised.
    unsafe {
        match tile.cols % LANES {
            1 => tile_of::<MR, V, 1>(kc, a, b, ldb, tile, ahead),
            2 => tile_of::<MR, V, 2>(kc, a, b, ldb, tile, ahead),
            3 => tile_of::<MR, V, 3>(kc, a, b, ldb, tile, ahead),
            _ => tile_of::<MR, V, TAIL>(kc, a, b, ldb, tile, ahead),
        }
    }
}

/// [`kernel`] for a tile of `V` vectors across, by its rows.
///
/// # Safety
/// As [`kernel`], and `b`'s rows hold `V` vectors.
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
unsafe fn rows<const V: usize>(
    kc: usize,
    a: &[f32],
    b: &[f32],
    ldb: usize,
    tile: &Tile,
    ahead: Ahead,
) {
    // An edge panel of `A` multiplies only its real rows, as on AVX2.
    // SAFETY (every arm): the caller's promises are `tile_of`'s.
    unsafe {
        match tile.rows {
            1 => tile_of::<1, V, 0>(kc, a, b, ldb, tile, ahead),
            2 => tile_of::<2, V, 0>(kc, a, b, ldb, tile, ahead),
            3 => tile_of::<3, V, 0>(kc, a, b, ldb, tile, ahead),
            4 => tile_of::<4, V, 0>(kc, a, b, ldb, tile, ahead),
            5 => tile_of::<5, V, 0>(kc, a, b, ldb, tile, ahead),
            _ => tile_of::<MR, V, 0>(kc, a, b, ldb, tile, ahead),
        }
    }
}

/// One step: `c[i][v] += a[i] * b[v]` for the tile's rows and vectors, and
/// `tail[j] += a * b[V * 16 + j]` for its columns past them; `a` points at `R` readable values
/// and `b` at `V` vectors and `T` values more, which the caller's `unsafe` block vouches for.
///
/// A macro, not a function, so that it is always part of the tile's loop, whose accumulators
/// then stay in registers. As an `#[inline]` function (`#[inline(always)]` is refused on a
/// `#[target_feature]` function) it was left out of line in seven of its instantiations after
/// an unrelated change elsewhere in the crate (the accumulators then went through memory at
/// every step): ResNet-50 at batch 8 on one thread took 327-347 ms instead of 305-313, its 1x1
/// layers a quarter longer (`cargo bench --bench networks -- --net resnet50 --batch 8
/// --threads 1`, both builds alternated, Zen 5).
macro_rules! step {
    ($c:expr, $tail:expr, $a:expr, $b:expr) => {{
        let (c, tail, a, b): (
            &mut [[__m512; V]; R],
            &mut [__m512; T],
            *const f32,
            *const f32,
        ) = ($c, $tail, $a, $b);
        let vectors: [__m512; V] = core::array::from_fn(|v| _mm512_loadu_ps(b.add(v * LANES)));
        for (i, row) in c.iter_mut().enumerate() {
            let a = _mm512_set1_ps(*a.add(i));
            for (acc, &b) in row.iter_mut().zip(&vectors) {
                *acc = _mm512_fmadd_ps(a, b, *acc);
            }
        }
        if T > 0 {
            // The masked load reads only the `R` values of `a`.
            let rows = _mm512_maskz_loadu_ps(((1u32 << R) - 1) as __mmask16, a);
            for (j, acc) in tail.iter_mut().enumerate() {
                let b = _mm512_set1_ps(*b.add(V * LANES + j));
                *acc = _mm512_fmadd_ps(rows, b, *acc);
            }
        }
    }};
}

/// The tile of `R` rows (`tile.rows == R`), `V` vectors and `T` columns as columns: either
/// `T == 0` and the last vector may be ragged, or `V` whole vectors and `T` columns more.
///
/// # Safety
/// As [`rows`].
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
unsafe fn tile_of<const R: usize, const V: usize, const T: usize>(
    kc: usize,
    a: &[f32],
    b: &[f32],
    ldb: usize,
    tile: &Tile,
    mut ahead: Ahead,
) {
    debug_assert!(a.len() >= kc * MR && (kc == 0 || b.len() >= (kc - 1) * ldb + V * LANES + T));
    debug_assert!(tile.rows == R && R <= MR);
    debug_assert!(if T == 0 {
        tile.cols.div_ceil(LANES) == V
    } else {
        tile.cols == V * LANES + T
    });
    let (mut a, mut b) = (a.as_ptr(), b.as_ptr());
    let mut c = [[_mm512_setzero_ps(); V]; R];
    // Column `V * 16 + j` of the tile's rows, in the first `R` lanes.
    let mut tail = [_mm512_setzero_ps(); T];
    // Two steps per iteration, as on AVX2.
    let mut steps = kc;
    while steps >= 2 {
        ahead.line();
        // SAFETY: at least two steps remain; `a` holds `MR` values per step and `b` a row
        // of `V` vectors and `T` values every `ldb`.
        unsafe {
            step!(&mut c, &mut tail, a, b);
            step!(&mut c, &mut tail, a.add(MR), b.add(ldb));
            a = a.add(2 * MR);
            b = b.add(2 * ldb);
        }
        steps -= 2;
    }
    if steps == 1 {
        // SAFETY: one step remains.
        unsafe { step!(&mut c, &mut tail, a, b) };
    }

    let vectors = Tile {
        cols: tile.cols.min(V * LANES),
        ..*tile
    };
    if tile.col_stride == 1 {
        // SAFETY: a tile of `R` rows of `cols` contiguous values from `tile.c`, which the
        // caller vouched for.
        unsafe { write_rows(&c, &vectors) };
    } else {
        let mut acc = [[0.0f32; NR_WIDE]; R];
        for (out, row) in acc.iter_mut().zip(&c) {
            for (v, &vector) in row.iter().enumerate() {
                // SAFETY: `out` has room for `V <= 4` vectors of 16.
                unsafe { _mm512_storeu_ps(out.as_mut_ptr().add(v * LANES), vector) };
            }
        }
        // SAFETY: as the caller promised.
        unsafe { write_tile(&acc, &vectors) };
    }
    if T > 0 {
        let mut acc = [[0.0f32; T]; R];
        for (j, &column) in tail.iter().enumerate() {
            let mut lanes = [0.0f32; LANES];
            // SAFETY: a store of 16 values into an array of 16.
            unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), column) };
            for (row, &value) in acc.iter_mut().zip(&lanes) {
                row[j] = value;
            }
        }
        let columns = Tile {
            // SAFETY: column `V * 16 < cols` of the tile.
            c: unsafe { tile.c.add(V * LANES * tile.col_stride) },
            cols: T,
            ..*tile
        };
        // SAFETY: the tile's last `T` columns, as the caller promised.
        unsafe { write_tile(&acc, &columns) };
    }
}

/// The epilogue of a tile of `R` rows of `tile.cols` contiguous values, in registers: the
/// last vector of each row under a mask when the row ends inside it.
///
/// # Safety
/// The CPU has AVX-512F; `tile` has `R` rows of `cols` contiguous values, live and unshared.
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
unsafe fn write_rows<const R: usize, const V: usize>(c: &[[__m512; V]; R], tile: &Tile) {
    let ragged = tile.cols % LANES;
    let last: __mmask16 = if ragged == 0 { !0 } else { (1 << ragged) - 1 };
    // A `match`, not `Option::and_then`, which was left out of line and called per row. The
    // cheap activations go through `apply_cheap`, a few instructions that inline: `apply`,
    // with the smooth forms in it, is compiled out of line, and a call per vector spilled
    // the tile's registers around it.
    let biases = match tile.finish {
        Some(finish) => finish.bias,
        None => None,
    };
    for (i, row) in c.iter().enumerate() {
        // SAFETY: row `i < R` of the tile.
        let out = unsafe { tile.c.add(i * tile.row_stride) };
        let bias = biases.map(|bias| _mm512_set1_ps(bias[i]));
        for (v, &vector) in row.iter().enumerate() {
            let mask = if v + 1 == V { last } else { !0 };
            // SAFETY: vector `v` of the row, `mask` covering just its columns below `cols`.
            let out = unsafe { out.add(v * LANES) };
            let mut value = vector;
            if tile.load {
                // SAFETY: as above; masked-off lanes are not read.
                value = _mm512_add_ps(value, unsafe { _mm512_maskz_loadu_ps(mask, out) });
            }
            if let Some(finish) = tile.finish {
                if let Some(bias) = bias {
                    value = _mm512_add_ps(value, bias);
                }
                value = if finish.activation.is_cheap() {
                    act::apply_cheap(finish.activation, value)
                } else {
                    act::apply(finish.activation, value)
                };
            }
            // SAFETY: as above; masked-off lanes are not written.
            unsafe { _mm512_mask_storeu_ps(out, mask, value) };
        }
    }
}
