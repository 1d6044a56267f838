use ndarray::{Array4, ArrayView4};

use super::*;
use crate::Padding2d;
use crate::ops::conv2d::Conv2dParams;
use crate::ops::conv2d::tests::direct;
use crate::simd::Activation;
use crate::testing::{EVERY_ACTIVATION, sample};

/// A grouped layer: batch, groups, input and output channels per group, input size, kernel,
/// stride, dilation and `[top, bottom, left, right]` pads.
#[derive(Debug, Clone, Copy)]
struct Case {
    batch: usize,
    groups: usize,
    group_in: usize,
    group_out: usize,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pads: [usize; 4],
}

impl Case {
    /// A 3x3 layer padded by 1, batch 1, stride `stride`.
    fn three(groups: usize, group_in: usize, group_out: usize, size: usize, stride: usize) -> Case {
        Case {
            batch: 1,
            groups,
            group_in,
            group_out,
            input: [size, size],
            kernel: [3, 3],
            stride: [stride; 2],
            dilation: [1, 1],
            pads: [1; 4],
        }
    }

    fn params(&self) -> Conv2dParams {
        let [t, b, l, r] = self.pads;
        Conv2dParams::default()
            .stride(self.stride)
            .dilation(self.dilation)
            .groups(self.groups)
            .padding(Padding2d::asymmetric(t, b, l, r))
    }

    fn tensors(&self, seed: u64) -> (Array4<f32>, Array4<f32>, ndarray::Array1<f32>) {
        let [h, w] = self.input;
        let [kh, kw] = self.kernel;
        let cin = self.groups * self.group_in;
        let cout = self.groups * self.group_out;
        let x = sample((self.batch, cin, h, w), seed);
        let weight = sample((cout, self.group_in, kh, kw), seed + 1);
        (x, weight, sample(cout, seed + 2))
    }

    /// This module's kernel on `isa` in `tasks` tasks, onto `y` (added to it with
    /// `accumulate`).
    fn run(
        &self,
        isa: Isa,
        x: ArrayView4<f32>,
        weight: ArrayView4<f32>,
        epilogue: &Epilogue,
        tasks: usize,
        y: &mut Array4<f32>,
    ) {
        let geometry = Geometry::resolve(x, weight.dim(), &self.params()).unwrap();
        assert_eq!(y.shape(), geometry.output_shape());
        let weights = Weights::new(weight.as_slice().unwrap(), self.groups, self.group_out);
        let (x, y) = (x.as_slice().unwrap(), y.as_slice_mut().unwrap());
        let wide = wide::takes(isa, &geometry);
        conv2d_split(isa, &geometry, x, &weights, epilogue, y, tasks, wide);
    }

    /// Checks every instruction set against the definition, with `activation`, and the
    /// residual add on top of it.
    fn check(&self, activation: Activation, seed: u64) {
        let (x, weight, bias) = self.tensors(seed);
        let [t, b, l, r] = self.pads;
        let sum = direct(
            x.view(),
            weight.view(),
            Some(bias.view()),
            self.stride,
            [t, b, l, r],
            self.dilation,
            self.groups,
        );
        let residual = sample(sum.raw_dim(), seed + 3);
        let bias = bias.as_slice().unwrap();
        for isa in Isa::all() {
            for accumulate in [false, true] {
                let want = if accumulate {
                    &sum + &residual
                } else {
                    sum.clone()
                }
                .mapv(|v| activation.apply(v));
                let mut got = if accumulate {
                    residual.clone()
                } else {
                    Array4::from_elem(sum.raw_dim(), f32::NAN)
                };
                let epilogue = Epilogue {
                    bias: Some(bias),
                    activation,
                    accumulate,
                };
                self.run(isa, x.view(), weight.view(), &epilogue, 1, &mut got);
                let context = format!("{self:?} {activation:?} accumulate {accumulate} {isa:?}");
                assert_near(&got, &want, &context);
            }
        }
    }
}

/// `|got - want| <= 1e-4 + 1e-4 * |want|`, or, for the smooth activations whose vector forms
/// are a few ulps off, within 2e-4 of it.
#[track_caller]
fn assert_near(got: &Array4<f32>, want: &Array4<f32>, context: &str) {
    for ((index, &g), &w) in got.indexed_iter().zip(want.iter()) {
        assert!(
            (g - w).abs() <= 2e-4 + 2e-4 * w.abs(),
            "{context}: at {index:?}: got {g}, want {w}"
        );
    }
}

#[test]
fn grouped_matches_the_definition_for_resnext_like_3x3_layers_at_stride_1_and_2() {
    for (groups, group_in, group_out, size) in [
        (4, 4, 4, 9),
        (2, 8, 8, 7),
        (3, 16, 16, 5),
        (2, 32, 32, 4),
        (2, 5, 7, 11),
        (2, 64, 64, 3),
        (8, 2, 2, 6),
    ] {
        for stride in [1, 2] {
            let case = Case::three(groups, group_in, group_out, size, stride);
            case.check(Activation::Relu, 10);
        }
    }
}

#[test]
fn grouped_covers_every_tile_height_and_a_last_tile_of_a_few_rows() {
    // Output channels per group 1 to 20: every tile height, and tiles of 8 then the rest.
    for group_out in 1..=20 {
        Case::three(2, 3, group_out, 6, 1).check(Activation::Identity, 20 + group_out as u64);
    }
}

#[test]
fn grouped_matches_the_definition_for_other_kernels_strides_dilations_and_pads() {
    let base = Case::three(2, 3, 4, 10, 1);
    let cases = [
        Case {
            kernel: [1, 1],
            pads: [0; 4],
            ..base
        },
        Case {
            kernel: [5, 5],
            pads: [2; 4],
            stride: [2, 2],
            ..base
        },
        Case {
            kernel: [3, 1],
            pads: [1, 1, 0, 0],
            ..base
        },
        Case {
            kernel: [1, 7],
            pads: [0, 0, 3, 3],
            input: [5, 13],
            ..base
        },
        Case {
            stride: [3, 1],
            ..base
        },
        Case {
            stride: [1, 2],
            input: [7, 12],
            ..base
        },
        Case {
            dilation: [2, 2],
            pads: [2; 4],
            ..base
        },
        Case {
            dilation: [2, 3],
            stride: [2, 2],
            pads: [1, 2, 3, 0],
            input: [11, 13],
            ..base
        },
        Case {
            pads: [0, 2, 3, 1],
            ..base
        },
        Case {
            pads: [4, 4, 4, 4],
            input: [2, 3],
            ..base
        },
        Case {
            batch: 3,
            input: [1, 1],
            ..base
        },
        Case {
            batch: 2,
            input: [17, 3],
            stride: [2, 2],
            ..base
        },
    ];
    for (i, case) in cases.into_iter().enumerate() {
        case.check(Activation::Relu6, 40 + i as u64);
    }
}

#[test]
fn grouped_cuts_a_group_too_large_for_its_buffer_into_bands_with_the_same_numbers() {
    // 64 channels of rows 130 wide: 15 rows fill the buffer, so 20 output rows take 2 bands.
    let case = Case {
        input: [20, 128],
        ..Case::three(2, 64, 4, 1, 1)
    };
    let (x, weight, _) = case.tensors(1);
    let g = Geometry::resolve(x.view(), weight.dim(), &case.params()).unwrap();
    assert_eq!(Layout::new(&g).bands_for_cache(&g), 2);
    case.check(Activation::Relu, 90);
}

#[test]
fn grouped_applies_every_activation_with_and_without_the_residual() {
    for (i, activation) in EVERY_ACTIVATION.into_iter().enumerate() {
        Case::three(2, 4, 6, 7, 1).check(activation, 60 + i as u64);
        Case::three(2, 4, 3, 8, 2).check(activation, 80 + i as u64);
    }
}

#[test]
fn grouped_gives_the_same_bits_however_the_rows_are_cut_into_tasks() {
    assert_same_bits_in_any_tasks(
        &[
            Case::three(2, 4, 8, 15, 1),
            Case::three(1, 6, 5, 9, 2),
            Case {
                batch: 2,
                dilation: [2, 2],
                pads: [2; 4],
                ..Case::three(3, 2, 4, 12, 1)
            },
        ],
        100,
    );
}

/// Runs each case on every instruction set in 1 task, then in more, and checks that the
/// numbers are the same bits.
#[track_caller]
fn assert_same_bits_in_any_tasks(cases: &[Case], seed: u64) {
    for (i, case) in cases.iter().enumerate() {
        let (x, weight, bias) = case.tensors(seed + i as u64);
        let bias = bias.as_slice().unwrap();
        let geometry = Geometry::resolve(x.view(), weight.dim(), &case.params()).unwrap();
        let shape = geometry.output_shape();
        for isa in Isa::all() {
            let run = |tasks: usize| {
                let mut y = Array4::zeros(shape);
                let epilogue = Epilogue {
                    bias: Some(bias),
                    activation: Activation::Silu,
                    accumulate: false,
                };
                case.run(isa, x.view(), weight.view(), &epilogue, tasks, &mut y);
                y
            };
            let one = run(1);
            for tasks in [2, 3, 4, 7, 100] {
                let y = run(tasks);
                assert!(
                    one.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{case:?} {isa:?}: {tasks} tasks changed the numbers"
                );
            }
        }
    }
}

#[test]
fn grouped_matches_the_definition_on_random_shapes() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for seed in 0..40 {
        let kernel = [1 + next(4), 1 + next(4)];
        let dilation = [1 + next(2), 1 + next(2)];
        let stride = [1 + next(3), 1 + next(3)];
        let pads = [next(3), next(3), next(3), next(3)];
        let input = [1 + next(14), 1 + next(14)];
        let fits = (0..2)
            .all(|a| input[a] + pads[2 * a] + pads[2 * a + 1] > dilation[a] * (kernel[a] - 1));
        if !fits {
            continue;
        }
        let case = Case {
            batch: 1 + next(2),
            groups: 2 + next(3),
            group_in: 2 + next(9),
            group_out: 1 + next(12),
            input,
            kernel,
            stride,
            dilation,
            pads,
        };
        case.check(Activation::LeakyRelu(0.1), 200 + seed);
    }
}

#[test]
fn a_grouped_layer_runs_the_direct_kernel_and_agrees_with_im2col_forward_and_with_a_residual() {
    use crate::ops::conv2d::{Algorithm, Conv2d};
    for (groups, group_in, stride) in [(4, 3, 1), (2, 8, 2), (8, 4, 1)] {
        let cin = groups * group_in;
        let x = sample((2, cin, 9, 10), 300);
        let w = sample((cin, group_in, 3, 3), 301);
        let b = sample(cin, 302);
        let params = Conv2dParams::default()
            .padding(1)
            .groups(groups)
            .stride(stride);
        let layer = Conv2d::new(w, Some(b), params).unwrap();
        assert_eq!(layer.algorithm, Algorithm::Grouped);
        let im2col = layer.clone().with_algorithm(Algorithm::Im2col);
        let relu = |l: Conv2d| l.with_activation(Activation::Relu);
        let (got, want) = (relu(layer.clone()), relu(im2col.clone()));
        let got = got.forward(x.view()).unwrap();
        let want = want.forward(x.view()).unwrap();
        assert_near(&got, &want, "forward");
        let residual = sample(got.raw_dim(), 303);
        let got = layer
            .forward_add_into(x.view(), residual.clone(), Activation::Relu6)
            .unwrap();
        let want = im2col
            .forward_add_into(x.view(), residual, Activation::Relu6)
            .unwrap();
        assert_near(&got, &want, "forward_add_into");
    }
}

/// The layers of `wide`'s tile on the vector instruction sets: whole vectors of output
/// channels a group, two or more, or one at stride 2.
#[test]
fn channels_across_the_vector_match_the_definition_at_every_width_stride_and_pad() {
    let mut cases = Vec::new();
    for group_out in [8, 16, 24, 32, 48, 64, 80] {
        for stride in [1, 2] {
            for size in [1, 5, 8, 13] {
                // More input channels a group than `wide::SHORT_SUM`, which stay on the
                // parent's tile.
                cases.push(Case::three(2, 9 + group_out % 5, group_out, size, stride));
            }
        }
    }
    let base = Case::three(2, 10, 32, 9, 2);
    cases.extend([
        Case {
            pads: [0, 2, 3, 1],
            ..base
        },
        Case {
            dilation: [2, 3],
            pads: [2, 1, 3, 0],
            input: [11, 14],
            ..base
        },
        Case {
            kernel: [5, 3],
            stride: [1, 3],
            pads: [2, 2, 1, 1],
            ..base
        },
        Case {
            batch: 3,
            kernel: [1, 1],
            pads: [0; 4],
            ..base
        },
        Case {
            pads: [3, 3, 3, 3],
            input: [2, 2],
            ..base
        },
    ]);
    let mut wide = 0;
    for (i, case) in cases.into_iter().enumerate() {
        let (x, weight, _) = case.tensors(0);
        let g = Geometry::resolve(x.view(), weight.dim(), &case.params()).unwrap();
        wide += Isa::all()
            .into_iter()
            .filter(|&isa| wide::takes(isa, &g))
            .count();
        case.check(Activation::Relu, 300 + i as u64);
    }
    // The vector instruction sets, where the CPU has them, ran the tile in many cases
    // (AVX2 in the 8- and 16-channel ones only).
    if Isa::avx2().is_some() {
        assert!(wide >= 10, "only {wide} runs took the tile");
    }
}

/// ResNeXt-50 32x4d's grouped 3x3 layers, stride 1 and 2, at their sizes.
#[test]
fn resnext50_grouped_layers_match_the_definition() {
    for (channels, size) in [(128, 56), (256, 28), (512, 14), (1024, 7)] {
        let per_group = channels / 32;
        Case::three(32, per_group, per_group, size, 1).check(Activation::Relu, 400);
        Case::three(32, per_group, per_group, size * 2, 2).check(Activation::Relu, 401);
    }
}

#[test]
fn channels_across_the_vector_give_the_same_bits_however_the_rows_are_cut_into_tasks() {
    assert_same_bits_in_any_tasks(
        &[
            Case::three(2, 5, 32, 15, 2),
            Case::three(3, 4, 16, 11, 2),
            Case::three(1, 3, 64, 9, 1),
        ],
        500,
    );
}

/// One vector of output channels a group at stride 1 runs `wide`'s tile on Zen 4 and the
/// parent's elsewhere (`wide::takes_on`): on every vector path this CPU has, the two tiles
/// give the same bits, with and without the residual, whichever of them the CPU would choose.
#[test]
fn one_vector_a_group_gives_the_same_bits_on_either_tile() {
    let cases = [
        Case::three(3, 12, 16, 14, 1),
        Case::three(2, 16, 16, 7, 1),
        Case::three(2, 9, 8, 14, 1),
        Case {
            kernel: [5, 5],
            pads: [2; 4],
            batch: 2,
            ..Case::three(2, 16, 16, 11, 1)
        },
    ];
    let mut compared = 0;
    for (i, case) in cases.iter().enumerate() {
        let (x, weight, bias) = case.tensors(600 + i as u64);
        let geometry = Geometry::resolve(x.view(), weight.dim(), &case.params()).unwrap();
        let weights = Weights::new(weight.as_slice().unwrap(), case.groups, case.group_out);
        let residual = sample(geometry.output_shape(), 610 + i as u64);
        for isa in Isa::all() {
            // The layers where the rule decides: 16 channels a group on AVX-512, 8 on AVX2.
            if !wide::takes_on(isa, &geometry, true) || wide::takes_on(isa, &geometry, false) {
                continue;
            }
            for accumulate in [false, true] {
                let run = |on_wide: bool| {
                    let mut y = residual.clone();
                    let epilogue = Epilogue {
                        bias: Some(bias.as_slice().unwrap()),
                        activation: Activation::Silu,
                        accumulate,
                    };
                    let (xs, ys) = (x.as_slice().unwrap(), y.as_slice_mut().unwrap());
                    conv2d_split(isa, &geometry, xs, &weights, &epilogue, ys, 3, on_wide);
                    y
                };
                let (parent, wide) = (run(false), run(true));
                assert!(
                    parent
                        .iter()
                        .zip(&wide)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{case:?} {isa:?} accumulate {accumulate}: the tiles differ"
                );
                compared += 1;
            }
        }
        case.check(Activation::Relu, 620 + i as u64);
    }
    // AVX2 compares the 8-channel case, AVX-512 the three 16-channel ones, twice each.
    let want: usize = [(Isa::avx2(), 2), (Isa::avx512(), 6)]
        .iter()
        .filter(|(isa, _)| isa.is_some())
        .map(|(_, n)| n)
        .sum();
    assert_eq!(compared, want);
}
