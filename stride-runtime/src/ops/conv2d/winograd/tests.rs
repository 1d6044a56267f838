use ndarray::{Array1, Array3, Array4, ArrayView3, ArrayView4, s};

use super::*;
use crate::Padding2d;
use crate::gemm::StridedB;
use crate::ops::Conv2dParams;
use crate::ops::conv2d::tests::direct;
use crate::ops::conv2d::{Algorithm, Conv2d};
use crate::testing::{assert_close, sample};

/// The kernels this machine can run.
fn paths() -> Vec<Isa> {
    Isa::all()
}

/// Values in `[-scale, scale)`.
fn scaled(len: usize, seed: u64, scale: f32) -> Vec<f32> {
    sample(len, seed).iter().map(|v| v * scale / 2.0).collect()
}

/// A layer's input and weights at the magnitudes of a trained network: a post-ReLU input
/// in `[0, 2)` and He-initialised weights (standard deviation `sqrt(2 / (9 Cin))`).
fn realistic(
    input: (usize, usize, usize, usize),
    cout: usize,
    seed: u64,
) -> (Array4<f32>, Array4<f32>, Array1<f32>) {
    let cin = input.1;
    let x = sample(input, seed).mapv(|v| v.max(0.0));
    // Uniform in [-a, a) has standard deviation a / sqrt(3).
    let a = (3.0 * 2.0 / (9.0 * cin as f32)).sqrt();
    let w = Array4::from_shape_vec((cout, cin, 3, 3), scaled(cout * cin * 9, seed + 1, a))
        .expect("shape");
    let b = Array1::from(scaled(cout, seed + 2, 0.1));
    (x, w, b)
}

/// The largest `|got - want|` as a fraction of the golden tolerance `1e-4 + 1e-4 |want|`.
fn tolerance_used(got: &[f32], want: &[f32]) -> f32 {
    got.iter()
        .zip(want)
        .map(|(&g, &w)| (g - w).abs() / (1e-4 + 1e-4 * w.abs()))
        .fold(0.0, f32::max)
}

/// The root-mean-square error over the root-mean-square value.
fn rms_error(got: &[f32], want: &[f32]) -> f64 {
    let e: f64 = got
        .iter()
        .zip(want)
        .map(|(&g, &w)| (f64::from(g) - f64::from(w)).powi(2))
        .sum();
    let v: f64 = want.iter().map(|&w| f64::from(w).powi(2)).sum();
    (e / v).sqrt()
}

/// Runs the Winograd kernel directly (whether or not it pays) with `kernel` on one thread.
fn winograd(
    isa: Isa,
    x: &Array4<f32>,
    w: &Array4<f32>,
    b: Option<&Array1<f32>>,
    params: &Conv2dParams,
    activation: Activation,
) -> Array4<f32> {
    let g = Geometry::resolve(x.view(), w.dim(), params).unwrap();
    let weights = Weights::new(w.as_slice().unwrap(), w.dim().0, w.dim().1);
    let mut y = Array4::from_elem(g.output_shape(), f32::NAN);
    conv2d(
        isa,
        &g,
        x.as_slice().unwrap(),
        &weights,
        b.map(|b| b.as_slice().unwrap()),
        activation,
        y.as_slice_mut().unwrap(),
    );
    y
}

/// The direct convolution in f64 with the padding `params` resolves to for `x`.
fn reference(
    x: &Array4<f32>,
    w: &Array4<f32>,
    b: Option<&Array1<f32>>,
    params: &Conv2dParams,
) -> Array4<f32> {
    let g = Geometry::resolve(x.view(), w.dim(), params).unwrap();
    let [h, v] = g.axes;
    let pads = [h.pad_begin, h.pad_end, v.pad_begin, v.pad_end];
    direct(
        x.view(),
        w.view(),
        b.map(|b| b.view()),
        [1, 1],
        pads,
        [1, 1],
        1,
    )
}

// The transforms.

#[test]
fn transform_matrices_compute_a_4_output_3_tap_correlation() {
    // Aᵀ [(G g) ⊙ (Bᵀ d)] = (d ⋆ g), in f64 with the f32 matrices, for a few d and g.
    for seed in 0..10 {
        let d = sample(SIDE, seed).mapv(f64::from);
        let g = sample(3, seed + 100).mapv(f64::from);
        let gg: Vec<f64> = G
            .iter()
            .map(|r| (0..3).map(|k| r[k] * g[k]).sum())
            .collect();
        let bd: Vec<f64> = BT
            .iter()
            .map(|r| (0..SIDE).map(|k| f64::from(r[k]) * d[k]).sum())
            .collect();
        for (i, row) in AT.iter().enumerate() {
            let got: f64 = (0..SIDE).map(|k| f64::from(row[k]) * gg[k] * bd[k]).sum();
            let want: f64 = (0..3).map(|k| d[i + k] * g[k]).sum();
            assert!((got - want).abs() < 1e-12, "output {i}: {got} vs {want}");
        }
    }
}

#[test]
fn factored_one_dimensional_transforms_are_the_matrices() {
    for seed in 0..10 {
        let d: [f32; SIDE] = sample(SIDE, seed).to_vec().try_into().unwrap();
        let by_matrix = BT.map(|r| (0..SIDE).map(|k| r[k] * d[k]).sum::<f32>());
        for (got, want) in scalar::input_1d(d).iter().zip(by_matrix) {
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        }
        let by_matrix = AT.map(|r| (0..SIDE).map(|k| r[k] * d[k]).sum::<f32>());
        for (got, want) in scalar::output_1d(d).iter().zip(by_matrix) {
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        }
    }
}

#[test]
fn filter_transform_is_g_g_gt_at_every_position() {
    let (cout, cin) = (2, 3);
    let w = sample(cout * cin * 9, 7).to_vec();
    let weights = Weights::new(&w, cout, cin);
    assert_eq!((weights.cout(), weights.cin()), (cout, cin));
    // Unpack position ξ's A by multiplying it with unit columns through the GEMM.
    for (position, a) in weights.positions.iter().enumerate() {
        let identity: Vec<f32> = (0..cin * cin)
            .map(|i| if i / cin == i % cin { 1.0 } else { 0.0 })
            .collect();
        let mut u = vec![0.0; cout * cin];
        gemm::gemm_serial(
            Isa::Scalar,
            a,
            &StridedB::row_major(&identity, cin, cin),
            0,
            MatMut::row_major(&mut u, cout, cin),
            &Epilogue::default(),
        );
        let (i, k) = (position / SIDE, position % SIDE);
        for (pair, g) in w.chunks_exact(9).enumerate() {
            let want: f64 = (0..3)
                .flat_map(|a| (0..3).map(move |b| (a, b)))
                .map(|(a, b)| G[i][a] * G[k][b] * f64::from(g[3 * a + b]))
                .sum();
            assert!(
                (f64::from(u[pair]) - want).abs() < 1e-6,
                "position {position}"
            );
        }
    }
}

/// 8 places of a group: inputs at uneven offsets, outputs as two rows of 4 tiles in a plane
/// `cols` wide; tile 5 cut to 1 column, tile 6 to 3 rows, tile 7 a lane past the block.
fn group_places(cols: usize) -> [Place; LANES] {
    core::array::from_fn(|t| Place {
        input: (t % 3) * 5 + t * 7,
        output: (t / 4) * OUT * cols + (t % 4) * OUT,
        rows: match t {
            6 => 3,
            7 => 0,
            _ => OUT,
        },
        cols: if t == 5 { 1 } else { OUT },
    })
}

#[test]
fn avx2_and_scalar_input_transforms_write_the_same_v() {
    let Some(Isa::Avx2(_)) = Isa::avx2() else {
        return;
    };
    let stride = 70;
    let staged = sample(SIDE * stride + 64, 3).to_vec();
    let places = group_places(16);
    let v_stride = 24;
    let mut want = vec![f32::NAN; POSITIONS * v_stride];
    let mut got = want.clone();
    scalar::input_group(&staged, stride, &places, &mut want, v_stride);
    // SAFETY: `Isa::avx2` found AVX2 and FMA.
    unsafe { avx2::input_group(&staged, stride, &places, &mut got, v_stride) };
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if i % v_stride < LANES {
            assert!(
                (g - w).abs() <= 1e-5 * (1.0 + w.abs()),
                "at {i}: {g} vs {w}"
            );
        } else {
            assert!(
                g.is_nan() && w.is_nan(),
                "at {i}: written outside the group"
            );
        }
    }
}

#[test]
fn avx2_and_scalar_output_transforms_write_the_same_corners_and_nothing_else() {
    let Some(Isa::Avx2(_)) = Isa::avx2() else {
        return;
    };
    let (rows, cols) = (8, 16);
    let m_stride = 16;
    let m = sample(POSITIONS * m_stride, 4).to_vec();
    let activations = [
        Activation::Identity,
        Activation::Relu,
        Activation::Relu6,
        Activation::LeakyRelu(0.3),
        Activation::Sigmoid,
        Activation::Silu,
    ];
    for whole in [true, false] {
        let places = if whole {
            core::array::from_fn(|t| Place {
                input: 0,
                output: (t / 4) * OUT * cols + (t % 4) * OUT,
                rows: OUT,
                cols: OUT,
            })
        } else {
            group_places(cols)
        };
        for activation in activations {
            let mut want = vec![f32::NAN; rows * cols];
            let mut got = want.clone();
            // SAFETY: every place's corner lies inside the 8x16 plane; `Isa::avx2` found
            // AVX2 and FMA.
            unsafe {
                scalar::output_group(
                    &m,
                    m_stride,
                    0.25,
                    activation,
                    want.as_mut_ptr(),
                    cols,
                    &places,
                );
                avx2::output_group(
                    &m,
                    m_stride,
                    0.25,
                    activation,
                    got.as_mut_ptr(),
                    cols,
                    &places,
                );
            }
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-5 * (1.0 + w.abs()) || (g.is_nan() && w.is_nan()),
                    "{activation:?} at {i}: {g} vs {w}"
                );
            }
            let written = want.iter().filter(|v| !v.is_nan()).count();
            let expected: usize = places.iter().map(|p| p.rows * p.cols).sum();
            assert_eq!(
                written, expected,
                "{activation:?}: only the corners are written"
            );
        }
    }
}

// The whole convolution against the definition.

#[test]
fn winograd_matches_direct_convolution_on_both_paths_across_shapes_padding_and_channels() {
    // Odd sizes that are not multiples of the tile, padding 0, 1, 2 and asymmetric, channel
    // counts that are not multiples of 8 or of the GEMM's panels, batch 2; a bias and an
    // activation on some.
    let cases = [
        // (n, cin, h, w, cout, padding)
        (1, 3, 5, 7, 2, Padding2d::from(1)),
        (2, 13, 9, 13, 17, Padding2d::from(0)),
        (2, 8, 17, 10, 8, Padding2d::from(2)),
        (1, 30, 23, 21, 13, Padding2d::from(1)),
        (2, 5, 11, 6, 9, Padding2d::asymmetric(0, 2, 1, 0)),
        (1, 17, 3, 3, 3, Padding2d::from(1)),
        (1, 4, 3, 40, 6, Padding2d::from((0, 1))),
        (2, 9, 8, 8, 19, Padding2d::from(3)),
    ];
    for (seed, (n, cin, h, w, cout, padding)) in cases.into_iter().enumerate() {
        let seed = 10 * seed as u64;
        let (x, wt, b) = realistic((n, cin, h, w), cout, seed);
        let x = x.mapv(|v| v - 0.5); // negative values too
        let params = Conv2dParams::default().padding(padding);
        for (bias, activation) in [
            (None, Activation::Identity),
            (Some(&b), Activation::Relu),
            (Some(&b), Activation::Tanh),
        ] {
            let want = activation
                .map(reference(&x, &wt, bias, &params).view())
                .unwrap();
            for isa in paths() {
                let got = winograd(isa, &x, &wt, bias, &params, activation);
                assert_close(&got, &want);
            }
        }
    }
}

#[test]
fn winograd_blocks_and_threads_cover_every_tile_exactly_once() {
    // 150 tiles a sample: several blocks, ragged at the end, a block's tiles wrapping from
    // one row of tiles onto the next; a second thread gives the same numbers.
    let (x, w, b) = realistic((2, 20, 38, 57), 24, 5);
    let params = Conv2dParams::default().padding(1);
    let want = Activation::Relu6
        .map(reference(&x, &w, Some(&b), &params).view())
        .unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for isa in paths() {
        let one = winograd(isa, &x, &w, Some(&b), &params, Activation::Relu6);
        assert_close(&one, &want);
        let two = pool.install(|| winograd(isa, &x, &w, Some(&b), &params, Activation::Relu6));
        assert_eq!(one, two, "{isa:?}: the thread count changes nothing");
    }
}

#[test]
fn one_small_image_splits_its_block_by_output_channels_over_the_threads() {
    // 14x14 is 16 tiles, one block: at batch 1, two or three threads split the output
    // channels (ragged: 45 channels are 8 panels of 6, the last of 3), each transforming the
    // input again. The splits change no sum, so the bits are the one thread's.
    let (x, w, b) = realistic((1, 32, 14, 14), 45, 7);
    let params = Conv2dParams::default().padding(1);
    let g = Geometry::resolve(x.view(), w.dim(), &params).unwrap();
    assert!(2 * g.output_len() * g.patch_len() >= gemm::parallel_flops());
    let want = Activation::Relu
        .map(reference(&x, &w, Some(&b), &params).view())
        .unwrap();
    for isa in paths() {
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| winograd(isa, &x, &w, Some(&b), &params, Activation::Relu));
        assert_close(&one, &want);
        for threads in [2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            assert_eq!(pool.install(|| channel_ranges(45, 1, true)).len(), threads);
            let split = pool.install(|| winograd(isa, &x, &w, Some(&b), &params, Activation::Relu));
            assert_eq!(one, split, "{isa:?}, {threads} threads");
        }
    }
}

#[test]
fn winograd_on_tensors_larger_than_l2_fetches_ahead_and_gives_the_same_numbers() {
    let (x, w, b) = realistic((1, 16, 131, 130), 16, 6);
    assert!(x.len() * 4 > CACHED_BYTES, "large enough to fetch ahead");
    let params = Conv2dParams::default().padding(1);
    let want = reference(&x, &w, Some(&b), &params);
    for isa in paths() {
        assert_close(
            &winograd(isa, &x, &w, Some(&b), &params, Activation::Identity),
            &want,
        );
    }
}

#[test]
fn a_3x3_stride_1_layer_runs_winograd_and_agrees_with_im2col_on_the_same_weights() {
    let (x, w, b) = realistic((2, 32, 28, 28), 48, 9);
    let params = Conv2dParams::default().padding(1);
    let layer = Conv2d::new(w.clone(), Some(b.clone()), params)
        .unwrap()
        .with_activation(Activation::Relu);
    assert_eq!(layer.algorithm, Algorithm::Winograd);
    let g = Geometry::resolve(x.view(), w.dim(), &params).unwrap();
    assert_eq!(layer.algorithm.for_input(&g, x.view()), Algorithm::Winograd);
    let im2col = layer.clone().with_algorithm(Algorithm::Im2col);
    assert_eq!(im2col.algorithm, Algorithm::Im2col);
    let (fast, plain) = (
        layer.forward(x.view()).unwrap(),
        im2col.forward(x.view()).unwrap(),
    );
    assert_close(&fast, &plain);
    let want = Activation::Relu
        .map(reference(&x, &w, Some(&b), &params).view())
        .unwrap();
    assert_close(&fast, &want);
}

#[test]
fn a_winograd_layer_runs_im2col_on_an_input_too_small_for_winograd() {
    let (x, w, _) = realistic((1, 16, 6, 6), 16, 11);
    let params = Conv2dParams::default().padding(1);
    let layer = Conv2d::new(w.clone(), None, params).unwrap();
    let g = Geometry::resolve(x.view(), w.dim(), &params).unwrap();
    assert_eq!(layer.algorithm.for_input(&g, x.view()), Algorithm::Im2col);
    assert!(layer.im2col.get().is_none(), "packed only when needed");
    assert_close(
        &layer.forward(x.view()).unwrap(),
        &reference(&x, &w, None, &params),
    );
    assert!(layer.im2col.get().is_some());
}

// Accuracy: F(4x4, 3x3) against F(6x6, 3x3).

/// `F(6x6, 3x3)`'s matrices (points 0, ±1, ±2, ±1/2, ∞), for the accuracy comparison only.
const BT6: [[f64; 8]; 8] = [
    [1.0, 0.0, -21.0 / 4.0, 0.0, 21.0 / 4.0, 0.0, -1.0, 0.0],
    [0.0, 1.0, 1.0, -17.0 / 4.0, -17.0 / 4.0, 1.0, 1.0, 0.0],
    [0.0, -1.0, 1.0, 17.0 / 4.0, -17.0 / 4.0, -1.0, 1.0, 0.0],
    [0.0, 0.5, 0.25, -5.0 / 2.0, -5.0 / 4.0, 2.0, 1.0, 0.0],
    [0.0, -0.5, 0.25, 5.0 / 2.0, -5.0 / 4.0, -2.0, 1.0, 0.0],
    [0.0, 2.0, 4.0, -5.0 / 2.0, -5.0, 0.5, 1.0, 0.0],
    [0.0, -2.0, 4.0, 5.0 / 2.0, -5.0, -0.5, 1.0, 0.0],
    [0.0, -1.0, 0.0, 21.0 / 4.0, 0.0, -21.0 / 4.0, 0.0, 1.0],
];
const G6: [[f64; 3]; 8] = [
    [1.0, 0.0, 0.0],
    [-2.0 / 9.0, -2.0 / 9.0, -2.0 / 9.0],
    [-2.0 / 9.0, 2.0 / 9.0, -2.0 / 9.0],
    [1.0 / 90.0, 1.0 / 45.0, 2.0 / 45.0],
    [1.0 / 90.0, -1.0 / 45.0, 2.0 / 45.0],
    [32.0 / 45.0, 16.0 / 45.0, 8.0 / 45.0],
    [32.0 / 45.0, -16.0 / 45.0, 8.0 / 45.0],
    [0.0, 0.0, 1.0],
];
const AT6: [[f64; 8]; 6] = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
    [0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 0.0],
    [0.0, 1.0, 1.0, 4.0, 4.0, 0.25, 0.25, 0.0],
    [0.0, 1.0, -1.0, 8.0, -8.0, 0.125, -0.125, 0.0],
    [0.0, 1.0, 1.0, 16.0, 16.0, 1.0 / 16.0, 1.0 / 16.0, 0.0],
    [0.0, 1.0, -1.0, 32.0, -32.0, 1.0 / 32.0, -1.0 / 32.0, 1.0],
];

/// F(m x m, 3x3) of one unpadded sample `x` (`[Cin, H, W]`, `H - 2` and `W - 2` multiples
/// of `m`), straight from the matrices: the transforms and the channel sums in f32 (`U` in
/// f64, rounded once), as any implementation computes them.
fn winograd_by_matrices<const N: usize, const M: usize>(
    bt: &[[f64; N]; N],
    g: &[[f64; 3]; N],
    at: &[[f64; N]; M],
    x: ArrayView3<f32>,
    w: ArrayView4<f32>,
) -> Array3<f32> {
    let (cin, h, wd) = x.dim();
    let cout = w.dim().0;
    let (th, tw) = ((h - 2) / M, (wd - 2) / M);
    let bt = bt.map(|r| r.map(|v| v as f32));
    let at = at.map(|r| r.map(|v| v as f32));
    // U[co][ci] = G g Gᵀ.
    let mut u = vec![[[0.0f32; N]; N]; cout * cin];
    for co in 0..cout {
        for ci in 0..cin {
            for i in 0..N {
                for k in 0..N {
                    let mut v = 0.0f64;
                    for a in 0..3 {
                        for b in 0..3 {
                            v += g[i][a] * g[k][b] * f64::from(w[[co, ci, a, b]]);
                        }
                    }
                    u[co * cin + ci][i][k] = v as f32;
                }
            }
        }
    }
    let mut y = Array3::zeros((cout, h - 2, wd - 2));
    for ty in 0..th {
        for tx in 0..tw {
            // V[ci] = Bᵀ d B.
            let v: Vec<[[f32; N]; N]> = (0..cin)
                .map(|ci| {
                    let d = x.slice(s![ci, M * ty..M * ty + N, M * tx..M * tx + N]);
                    let mut left = [[0.0f32; N]; N];
                    for i in 0..N {
                        for c in 0..N {
                            left[i][c] = (0..N).map(|r| bt[i][r] * d[[r, c]]).sum();
                        }
                    }
                    let mut v = [[0.0f32; N]; N];
                    for i in 0..N {
                        for k in 0..N {
                            v[i][k] = (0..N).map(|c| left[i][c] * bt[k][c]).sum();
                        }
                    }
                    v
                })
                .collect();
            for co in 0..cout {
                let mut m = [[0.0f32; N]; N];
                for (ci, v) in v.iter().enumerate() {
                    for i in 0..N {
                        for k in 0..N {
                            m[i][k] += u[co * cin + ci][i][k] * v[i][k];
                        }
                    }
                }
                for p in 0..M {
                    for q in 0..M {
                        let mut out = 0.0f32;
                        for i in 0..N {
                            let row: f32 = (0..N).map(|k| m[i][k] * at[q][k]).sum();
                            out += at[p][i] * row;
                        }
                        y[[co, M * ty + p, M * tx + q]] = out;
                    }
                }
            }
        }
    }
    y
}

#[test]
fn f6x6_matrices_compute_a_6_output_3_tap_correlation() {
    for seed in 0..10 {
        let d = sample(8, seed).mapv(f64::from);
        let g = sample(3, seed + 100).mapv(f64::from);
        let gg: Vec<f64> = G6
            .iter()
            .map(|r| (0..3).map(|k| r[k] * g[k]).sum())
            .collect();
        let bd: Vec<f64> = BT6
            .iter()
            .map(|r| (0..8).map(|k| r[k] * d[k]).sum())
            .collect();
        for (i, row) in AT6.iter().enumerate() {
            let got: f64 = (0..8).map(|k| row[k] * gg[k] * bd[k]).sum();
            let want: f64 = (0..3).map(|k| d[i + k] * g[k]).sum();
            assert!((got - want).abs() < 1e-12, "output {i}: {got} vs {want}");
        }
    }
}

/// The measurement behind the choice of F(4x4, 3x3) (see the module docs): on layers of
/// trained-network magnitudes, each tile size's error against the direct convolution in f64,
/// as the relative RMS error and as the largest fraction of the golden tolerance any output
/// uses; then this module's kernels and im2col + GEMM on the same layer. `--nocapture`
/// prints the table.
#[test]
fn winograd_error_on_realistic_layers() {
    let mut worst_ours = 0.0f32;
    println!(
        "  Cin | RMS F(4x4)  F(6x6) | tolerance used: F(4x4) F(6x6) ours[scalar, avx2] im2col"
    );
    for (seed, cin) in [64, 128, 256, 512].into_iter().enumerate() {
        // 24 + 2 rows and columns: whole tiles for both sizes, unpadded.
        let (x, w, _) = realistic((1, cin, 26, 26), 8, 100 + seed as u64);
        let params = Conv2dParams::default();
        let want = reference(&x, &w, None, &params);
        let want = want.as_slice().unwrap();
        let sample = x.slice(s![0, .., .., ..]);
        let bt = BT.map(|r| r.map(f64::from));
        let at = AT.map(|r| r.map(f64::from));
        let f4 = winograd_by_matrices(&bt, &G, &at, sample, w.view());
        let f6 = winograd_by_matrices(&BT6, &G6, &AT6, sample, w.view());
        let (f4, f6) = (f4.as_slice().unwrap(), f6.as_slice().unwrap());
        let rms = [rms_error(f4, want), rms_error(f6, want)];
        assert!(rms[0] < rms[1], "F(4x4) is the more accurate: {rms:?}");
        let (f4, f6) = (tolerance_used(f4, want), tolerance_used(f6, want));
        let ours: Vec<f32> = paths()
            .into_iter()
            .map(|k| {
                let y = winograd(k, &x, &w, None, &params, Activation::Identity);
                tolerance_used(y.as_slice().unwrap(), want)
            })
            .collect();
        let gemm = Conv2d::new(w.clone(), None, params)
            .unwrap()
            .with_algorithm(Algorithm::Im2col)
            .forward(x.view())
            .unwrap();
        let gemm = tolerance_used(gemm.as_slice().unwrap(), want);
        println!(
            "  {cin:3} | {:.1e}  {:.1e} | {f4:.3} {f6:.3} {ours:.3?} {gemm:.3}",
            rms[0], rms[1]
        );
        worst_ours = ours.into_iter().fold(worst_ours, f32::max);
    }
    assert!(worst_ours < 0.5, "well below the tolerance: {worst_ours}");
}

#[test]
fn a_winograd_layer_runs_im2col_on_an_input_holding_a_nan_an_infinity_or_a_huge_value() {
    // One +inf in a window: the direct sum gives +inf (or -inf) where every weight it meets
    // has one sign; the transforms would mix it with both signs into NaN.
    let (x, _, b) = realistic((1, 16, 12, 12), 16, 12);
    let w = Array4::from_elem((16, 16, 3, 3), 0.01f32);
    let params = Conv2dParams::default().padding(1);
    let layer = Conv2d::new(w.clone(), Some(b.clone()), params).unwrap();
    let g = Geometry::resolve(x.view(), w.dim(), &params).unwrap();
    assert_eq!(layer.algorithm.for_input(&g, x.view()), Algorithm::Winograd);
    for (bad, want) in [
        (f32::INFINITY, f32::INFINITY),
        (f32::NEG_INFINITY, f32::NEG_INFINITY),
        (f32::NAN, f32::NAN),
    ] {
        let mut x = x.clone();
        x[[0, 3, 5, 7]] = bad;
        assert_eq!(layer.algorithm.for_input(&g, x.view()), Algorithm::Im2col);
        let y = layer.forward(x.view()).unwrap();
        for ((_, c, i, j), &v) in y.indexed_iter() {
            let reached = i.abs_diff(5) <= 1 && j.abs_diff(7) <= 1;
            if reached {
                assert!(
                    v.to_bits() == want.to_bits() || (v.is_nan() && want.is_nan()),
                    "{c} {i} {j}: {v}"
                );
            } else {
                assert!(v.is_finite(), "{c} {i} {j}: {v}");
            }
        }
    }
    // A finite value too large for the transforms, and a view with gaps, also take im2col.
    let mut huge = x.clone();
    huge[[0, 0, 0, 0]] = 1e30;
    assert_eq!(
        layer.algorithm.for_input(&g, huge.view()),
        Algorithm::Im2col
    );
    let mut wide = Array4::zeros((1, 16, 12, 24));
    wide.slice_mut(ndarray::s![.., .., .., ..;2]).assign(&x);
    wide[[0, 2, 2, 2]] = f32::INFINITY;
    let gaps = wide.slice(ndarray::s![.., .., .., ..;2]);
    assert_eq!(layer.algorithm.for_input(&g, gaps), Algorithm::Im2col);
}
