//! The GEMM against a triple loop in f64, on every kernel the CPU has (portable, AVX2,
//! AVX-512), over odd sizes, edge panels, block boundaries, strides and every part of the
//! epilogue; and the AVX-512 kernel against the portable one and the AVX2 one over sizes
//! that are not multiples of its 6 × 64 tile.
//!
//! These tests pass each path to the GEMM directly, so they cover all of them on any machine
//! in one run. The golden tests go through the process-wide choice instead: on a CPU with
//! AVX-512 they run the AVX-512 and scalar paths, and `STRIDE_ISA=avx2 cargo test --release`
//! runs them on the AVX2 path (as `.ci/run` does).

use super::*;
use crate::simd::{Activation, Isa};
use crate::testing::{EVERY_ACTIVATION, sample};

/// Every kernel the CPU can run, the portable one first.
fn paths() -> Vec<Isa> {
    Isa::all()
}

/// `epilogue(A · B)` element by element in f64, and for each element the bound on an f32
/// sum's rounding error: `(k + 2) · ε · (Σ|a·b| + |sum|)`.
fn naive(
    a: &[f32],
    b: &[f32],
    c_before: &[f32],
    [m, n, k]: [usize; 3],
    epilogue: &Epilogue,
) -> (Vec<f32>, Vec<f64>) {
    let mut want = vec![0.0; m * n];
    let mut scale = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let (mut sum, mut magnitude) = (0.0f64, 0.0f64);
            for p in 0..k {
                let term = f64::from(a[i * k + p]) * f64::from(b[p * n + j]);
                sum += term;
                magnitude += term.abs();
            }
            if epilogue.accumulate {
                sum += f64::from(c_before[i * n + j]);
            }
            if let Some(bias) = epilogue.bias {
                sum += f64::from(bias[i]);
            }
            want[i * n + j] = epilogue.activation.apply(sum as f32);
            scale[i * n + j] = (k + 2) as f64 * f64::from(f32::EPSILON) * (magnitude + sum.abs());
        }
    }
    (want, scale)
}

#[track_caller]
fn assert_matches(got: &[f32], want: &[f32], scale: &[f64], what: &str) {
    for (index, ((&g, &w), &s)) in got.iter().zip(want).zip(scale).enumerate() {
        let tolerance = s + 1e-6;
        assert!(
            (f64::from(g) - f64::from(w)).abs() <= tolerance,
            "{what}: element {index}: got {g}, want {w}"
        );
    }
}

/// Runs `kernel` on row-major `m × n × k` operands and checks every element of `C`.
fn check(isa: Isa, [m, n, k]: [usize; 3], epilogue: &Epilogue, seed: u64) {
    let a = sample(m * k, seed).into_raw_vec_and_offset().0;
    let b = sample(k * n, seed + 1).into_raw_vec_and_offset().0;
    let c_before = sample(m * n, seed + 2).into_raw_vec_and_offset().0;
    let (want, scale) = naive(&a, &b, &c_before, [m, n, k], epilogue);
    let mut c = c_before.clone();
    let packed = PackedA::row_major(&a, m, k);
    gemm_serial(
        isa,
        &packed,
        &StridedB::row_major(&b, k, n),
        0,
        MatMut::row_major(&mut c, m, n),
        epilogue,
    );
    let what = format!("{isa:?} m={m} n={n} k={k} {epilogue:?}");
    assert_matches(&c, &want, &scale, &what);
}

#[test]
fn gemm_matches_a_triple_loop_for_every_small_m_and_n_on_every_kernel() {
    for isa in paths() {
        for m in 1..=37 {
            for n in 1..=37 {
                for k in [1, 7, 37] {
                    check(isa, [m, n, k], &Epilogue::default(), (m * 100 + n) as u64);
                }
            }
        }
    }
}

#[test]
fn gemm_matches_a_triple_loop_for_every_small_k_on_every_kernel() {
    for isa in paths() {
        for k in 1..=37 {
            for [m, n] in [[1, 1], [MR, NR], [MR + 1, NR + 1], [13, 35]] {
                check(isa, [m, n, k], &Epilogue::default(), k as u64);
            }
        }
    }
}

#[test]
fn gemm_matches_a_triple_loop_across_every_block_boundary() {
    // Past KC (one and several K blocks), MC and NC, with ragged edges on all three.
    let sizes = [
        [MC + 7, NC + 21, KC + 1],
        [2 * MC + 1, 2 * NC + 3, 3 * KC - 5],
        [5, 3 * NC + 1, 2 * KC + 3],
        [MC * 2 + MR, NR, 1],
    ];
    for isa in paths() {
        for (seed, size) in sizes.into_iter().enumerate() {
            let bias: Vec<f32> = (0..size[0]).map(|i| i as f32 * 0.5 - 3.0).collect();
            let epilogue = Epilogue {
                bias: Some(&bias),
                activation: Activation::Relu,
                accumulate: false,
            };
            check(isa, size, &epilogue, seed as u64);
        }
    }
}

#[test]
fn gemm_applies_every_epilogue_on_full_and_edge_tiles_on_every_kernel() {
    for isa in paths() {
        // A whole number of tiles, and one with edges on both sides; one and two K blocks.
        for size in [[2 * MR, 2 * NR, 9], [MR + 2, NR + 3, 11], [MR, NR, KC + 9]] {
            let bias: Vec<f32> = (0..size[0]).map(|i| 1.5 - i as f32 * 0.25).collect();
            for activation in EVERY_ACTIVATION {
                for accumulate in [false, true] {
                    for bias in [None, Some(&bias[..])] {
                        let epilogue = Epilogue {
                            bias,
                            activation,
                            accumulate,
                        };
                        check(isa, size, &epilogue, 7);
                    }
                }
            }
        }
    }
}

#[test]
fn gemm_writes_a_column_major_c_and_reads_a_transposed_b() {
    // `C = A · B` stored transposed (row stride 1), `B` given as its transpose: linear's case.
    let [m, n, k] = [23, 19, 41];
    let a = sample(m * k, 1).into_raw_vec_and_offset().0;
    let b = sample(k * n, 2).into_raw_vec_and_offset().0;
    let b_t: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
    let (want, scale) = naive(&a, &b, &[], [m, n, k], &Epilogue::default());
    for isa in paths() {
        let mut c_t = vec![f32::NAN; n * m];
        gemm_serial(
            isa,
            &PackedA::row_major(&a, m, k),
            &StridedB::new(&b_t, k, n, 1, k),
            0,
            MatMut::new(&mut c_t, m, n, 1, m),
            &Epilogue::default(),
        );
        let c: Vec<f32> = (0..m * n).map(|i| c_t[(i % n) * m + i / n]).collect();
        assert_matches(&c, &want, &scale, &format!("{isa:?}"));
    }
}

#[test]
fn gemm_on_column_ranges_computes_exactly_those_columns() {
    // The split the threads use: each range is its own call with its first column `j0`.
    let [m, n, k] = [17, 100, 30];
    let a = sample(m * k, 3).into_raw_vec_and_offset().0;
    let b = sample(k * n, 4).into_raw_vec_and_offset().0;
    let (want, scale) = naive(&a, &b, &[], [m, n, k], &Epilogue::default());
    let ranges = [0..16, 16..21, 21..21, 21..100];
    for isa in paths() {
        let mut c = vec![f32::NAN; m * n];
        let (packed, source) = (PackedA::row_major(&a, m, k), StridedB::row_major(&b, k, n));
        let views = MatMut::row_major(&mut c, m, n).split_cols(&ranges);
        for (range, view) in ranges.iter().zip(views) {
            gemm_serial(
                isa,
                &packed,
                &source,
                range.start,
                view,
                &Epilogue::default(),
            );
        }
        assert_matches(&c, &want, &scale, &format!("{isa:?}"));
    }
}

#[test]
fn sgemm_on_the_thread_pool_matches_a_triple_loop() {
    // Large enough to be split into column tasks.
    let [m, n, k] = [70, 900, 200];
    assert!(2 * m * n * k >= parallel_flops());
    let a = sample(m * k, 5).into_raw_vec_and_offset().0;
    let b = sample(k * n, 6).into_raw_vec_and_offset().0;
    let (want, scale) = naive(&a, &b, &[], [m, n, k], &Epilogue::default());
    let mut c = vec![f32::NAN; m * n];
    sgemm(
        &PackedA::row_major(&a, m, k),
        &StridedB::row_major(&b, k, n),
        MatMut::row_major(&mut c, m, n),
        &Epilogue::default(),
    );
    assert_matches(&c, &want, &scale, "sgemm");
}

#[test]
fn gemm_with_k_zero_writes_the_epilogue_of_zeros() {
    let bias = [1.0, -2.0, 3.0];
    let epilogue = Epilogue {
        bias: Some(&bias),
        activation: Activation::Relu,
        accumulate: false,
    };
    let mut c = vec![f32::NAN; 3 * 2];
    gemm_serial(
        Isa::Scalar,
        &PackedA::row_major(&[], 3, 0),
        &StridedB::row_major(&[], 0, 2),
        0,
        MatMut::row_major(&mut c, 3, 2),
        &epilogue,
    );
    assert_eq!(c, [1.0, 1.0, 0.0, 0.0, 3.0, 3.0]);
}

#[test]
fn column_tasks_cover_the_columns_in_whole_panels() {
    for n in [1, 15, 16, 17, 196, 3136] {
        for tasks in 1..9 {
            let ranges = column_tasks(64, n, 576, tasks);
            assert_eq!(ranges.len(), if n >= 196 { tasks } else { 1 });
            assert_eq!(ranges.first().unwrap().start, 0);
            assert_eq!(ranges.last().unwrap().end, n);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert_eq!(pair[0].end % NR, 0);
                assert!(pair[0].len().abs_diff(pair[1].len()) <= NR);
            }
            assert!(ranges.iter().all(|r| !r.is_empty()));
        }
    }
}

#[test]
fn tiles_cover_a_block_from_panel_starts_and_leave_no_lone_vector_after_a_whole_tile() {
    use super::driver::tiles;
    for width in [NR, 64] {
        for nc in 1..=400 {
            let tiles: Vec<_> = tiles(nc, width).collect();
            let mut end = 0;
            for &(start, cols) in &tiles {
                assert_eq!(start, end, "nc {nc}, width {width}: {tiles:?}");
                assert!(start % NR == 0 && (1..=width).contains(&cols));
                end = start + cols;
            }
            assert_eq!(end, nc, "nc {nc}, width {width}: {tiles:?}");
            if width > 2 * NR && nc > width {
                assert!(
                    tiles.iter().all(|&(_, cols)| cols > NR),
                    "nc {nc}: {tiles:?}"
                );
            }
        }
    }
    assert_eq!(
        tiles(196, 64).collect::<Vec<_>>(),
        [(0, 64), (64, 64), (128, 32), (160, 36)]
    );
    assert_eq!(
        tiles(272, 64).collect::<Vec<_>>()[3..],
        [(192, 32), (224, 48)]
    );
    assert_eq!(tiles(49, 64).collect::<Vec<_>>(), [(0, 49)]);
    assert_eq!(tiles(100, 64).collect::<Vec<_>>(), [(0, 64), (64, 36)]);
}

#[test]
fn blocks_split_evenly_and_cover_the_whole() {
    assert_eq!(
        blocks(576, 256, 1).collect::<Vec<_>>(),
        [(0, 192), (192, 192), (384, 192)]
    );
    assert_eq!(blocks(64, 144, 6).collect::<Vec<_>>(), [(0, 64)]);
    assert_eq!(
        blocks(256, 144, 6).collect::<Vec<_>>(),
        [(0, 132), (132, 124)]
    );
    assert_eq!(blocks(0, 256, 1).count(), 0);
}

/// A row-major `B` whose rows are whole panels, read in place through [`PackB::view`].
struct InPlace<'a>(StridedB<'a>, &'a [f32], usize);

impl PackB for InPlace<'_> {
    fn k(&self) -> usize {
        self.0.k()
    }

    fn n(&self) -> usize {
        self.0.n()
    }

    fn pack(&self, k0: usize, kc: usize, j0: usize, nc: usize, dst: &mut [f32], row_stride: usize) {
        panic!("packed {k0} {kc} {j0} {nc} {} {row_stride}", dst.len());
    }

    fn view(&self, k0: usize, _kc: usize, j0: usize, _nc: usize) -> Option<(&[f32], usize)> {
        Some((&self.1[k0 * self.2 + j0..], self.2))
    }
}

#[test]
fn gemm_reads_a_b_that_offers_a_view_in_place_across_blocks_on_every_kernel() {
    // K = 300 and N = 400 span two K and two N blocks; columns whole panels.
    let [m, n, k] = [13, 400, 300];
    assert_eq!(n % NR, 0);
    let a = sample(m * k, 1).into_raw_vec_and_offset().0;
    let b = sample(k * n, 2).into_raw_vec_and_offset().0;
    let epilogue = Epilogue::default();
    let (want, scale) = naive(&a, &b, &[], [m, n, k], &epilogue);
    let packed = PackedA::row_major(&a, m, k);
    for isa in paths() {
        let mut c = vec![f32::NAN; m * n];
        let source = InPlace(StridedB::row_major(&b, k, n), &b, n);
        gemm_serial(
            isa,
            &packed,
            &source,
            0,
            MatMut::row_major(&mut c, m, n),
            &epilogue,
        );
        assert_matches(&c, &want, &scale, &format!("{isa:?} in place"));
    }
}

#[test]
fn a_strided_b_read_in_place_ignores_the_values_past_its_columns() {
    // `B` is the first `n` columns of a wider matrix whose other columns are NaN and
    // infinities: a view of it reads them in the lanes past `n` of each edge panel, which
    // must never reach `C`.
    // Its rows lie as a packed block's, `b_row_stride(n)` apart, more than `n` here.
    for [m, n, k] in [[7usize, 37, 19], [13, 49, 300], [6, 5, 3], [19, 350, 40]] {
        let stride = b_row_stride(n);
        assert!(stride > n + 1);
        let a = sample(m * k, 3).into_raw_vec_and_offset().0;
        let b = sample(k * n, 4).into_raw_vec_and_offset().0;
        let mut wide = vec![f32::NAN; k * stride];
        for (p, row) in b.chunks_exact(n).enumerate() {
            wide[p * stride..p * stride + n].copy_from_slice(row);
            wide[p * stride + n + 1] = f32::INFINITY;
        }
        let source = StridedB::new(&wide, k, n, stride, 1);
        assert!(
            source.view(0, k, 0, n).is_some(),
            "the whole B lies in place"
        );
        for activation in [Activation::Identity, Activation::Relu6] {
            let epilogue = Epilogue::finish(None, activation);
            let (want, scale) = naive(&a, &b, &[], [m, n, k], &epilogue);
            let packed = PackedA::row_major(&a, m, k);
            for isa in paths() {
                let mut c = vec![0.0; m * n];
                gemm_serial(
                    isa,
                    &packed,
                    &source,
                    0,
                    MatMut::row_major(&mut c, m, n),
                    &epilogue,
                );
                let what = format!("{isa:?} m={m} n={n} k={k} {activation:?}");
                assert_matches(&c, &want, &scale, &what);
            }
        }
    }
}

/// `C = epilogue(A · B)` for row-major operands on `isa`, into a copy of `c_before`, with `C`
/// row-major or (`transposed`) column-major.
#[allow(clippy::too_many_arguments)]
fn product(
    isa: Isa,
    a: &[f32],
    b: &[f32],
    c_before: &[f32],
    [m, n, k]: [usize; 3],
    epilogue: &Epilogue,
    transposed: bool,
) -> Vec<f32> {
    let mut c = c_before.to_vec();
    let view = if transposed {
        MatMut::new(&mut c, m, n, 1, m)
    } else {
        MatMut::row_major(&mut c, m, n)
    };
    gemm_serial(
        isa,
        &PackedA::row_major(a, m, k),
        &StridedB::row_major(b, k, n),
        0,
        view,
        epilogue,
    );
    c
}

/// Sizes around the AVX-512 tile's edges: every count of rows of an `A` panel, columns that
/// end inside each of the tile's four vectors and inside a second tile, whole vectors and 1 to
/// 4 columns more (the columns it takes as columns: 17, 20, 36, 49, 50, 52), a whole tile and
/// one vector or less more (65, 68, 79, 80, 129, 196: the last whole tile runs as two), and `K`
/// from 1 to past a `K` block.
const WIDE_M: [usize; 9] = [1, 2, 3, 4, 5, 6, 7, 13, 37];
const WIDE_N: [usize; 24] = [
    1, 2, 15, 16, 17, 20, 31, 33, 36, 47, 49, 50, 52, 63, 64, 65, 68, 79, 80, 100, 128, 129, 196,
    200,
];
const WIDE_K: [usize; 6] = [1, 2, 3, 17, 64, KC + 3];

#[test]
fn avx512_kernel_matches_the_portable_one_for_sizes_off_its_tile() {
    let Some(wide) = Isa::avx512() else {
        eprintln!("no AVX-512 on this CPU: skipped");
        return;
    };
    for (seed, (m, (n, k))) in WIDE_M
        .into_iter()
        .flat_map(|m| {
            WIDE_N
                .into_iter()
                .flat_map(move |n| WIDE_K.map(|k| (m, (n, k))))
        })
        .enumerate()
    {
        let size = [m, n, k];
        let a = sample(m * k, seed as u64).into_raw_vec_and_offset().0;
        let b = sample(k * n, seed as u64 + 1).into_raw_vec_and_offset().0;
        let c_before = sample(m * n, seed as u64 + 2).into_raw_vec_and_offset().0;
        let bias: Vec<f32> = (0..m).map(|i| 0.75 - i as f32 * 0.125).collect();
        let epilogue = Epilogue {
            bias: Some(&bias),
            activation: [Activation::Identity, Activation::Relu, Activation::Silu][seed % 3],
            accumulate: seed % 2 == 0,
        };
        let (want, scale) = naive(&a, &b, &c_before, size, &epilogue);
        let portable = product(Isa::Scalar, &a, &b, &c_before, size, &epilogue, false);
        let got = product(wide, &a, &b, &c_before, size, &epilogue, false);
        let what = format!("AVX-512 m={m} n={n} k={k} {epilogue:?}");
        assert_matches(&got, &want, &scale, &what);
        // Both within the bound of the exact value, so within twice it of each other.
        let twice: Vec<f64> = scale.iter().map(|s| 2.0 * s).collect();
        assert_matches(
            &got,
            &portable,
            &twice,
            &format!("{what} against the portable kernel"),
        );
    }
}

#[test]
fn avx512_kernel_gives_the_avx2_kernels_numbers_bit_for_bit_with_every_activation() {
    // The same packing, blocking and order of fused multiply-adds, and each activation on
    // 8-lane halves through the AVX2 form: the wider tile changes no value the AVX2 kernel
    // finishes in registers.
    let (Some(wide), Some(narrow)) = (Isa::avx512(), Isa::avx2()) else {
        eprintln!("no AVX-512 on this CPU: skipped");
        return;
    };
    for (seed, size) in [
        [7, 49, 100],
        [13, 200, KC + 3],
        [6, 64, 9],
        [5, 17, 1],
        [7, 196, 40],
        [6, 80, 30],
    ]
    .into_iter()
    .enumerate()
    {
        let [m, n, k] = size;
        let a = sample(m * k, seed as u64).into_raw_vec_and_offset().0;
        let b = sample(k * n, seed as u64 + 1).into_raw_vec_and_offset().0;
        // Values around the activations' bends, a NaN and the infinities among them.
        let mut c_before = sample(m * n, seed as u64 + 2).into_raw_vec_and_offset().0;
        c_before[..3].copy_from_slice(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY]);
        let bias: Vec<f32> = (0..m).map(|i| 3.0 - i as f32).collect();
        for activation in EVERY_ACTIVATION {
            for (accumulate, transposed) in [(false, false), (true, false), (true, true)] {
                let epilogue = Epilogue {
                    bias: Some(&bias),
                    activation,
                    accumulate,
                };
                let got = product(wide, &a, &b, &c_before, size, &epilogue, transposed);
                let want = product(narrow, &a, &b, &c_before, size, &epilogue, transposed);
                // The AVX2 kernel finishes the columns of a partial 16-column panel with the
                // scalar activation, the AVX-512 one with the vector form (a mask hides the
                // rest): there the two agree within the vector forms' few ulps.
                let whole = if transposed { n } else { n / NR * NR };
                for (index, (g, w)) in got.iter().zip(&want).enumerate() {
                    let column = if transposed { index / m } else { index % n };
                    let what = format!("{size:?} {epilogue:?} transposed={transposed} #{index}");
                    if column < whole {
                        assert_eq!(g.to_bits(), w.to_bits(), "{what}: {g} against {w}");
                    } else {
                        let close = (g - w).abs() <= 1e-6 + 1e-5 * w.abs();
                        assert!(
                            close || g.to_bits() == w.to_bits(),
                            "{what}: {g} against {w}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn a_strided_b_is_read_in_place_only_when_its_rows_lie_as_a_packed_blocks() {
    let (k, n) = (4, 32);
    let data = vec![0.0f32; k * 1024];
    let at = |stride: usize| {
        StridedB::new(&data, k, n, stride, 1)
            .view(0, k, 0, n)
            .is_some()
    };
    assert!(at(b_row_stride(n)));
    // Rows farther apart, as a convolution's input planes are, and rows touching.
    assert!(!at(1024));
    assert!(!at(n));
    // Not contiguous along a row.
    assert!(StridedB::new(&data, k, n, 1, k).view(0, k, 0, n).is_none());
}
