use stride_geometry::{Window, conv_output};

use super::*;
use crate::testing::{EVERY_ACTIVATION, sample};

/// A layer's planes: the shape, `(top, bottom, left, right)` pads, the batch, the input
/// channels and the depth multiplier.
#[derive(Debug, Clone, Copy)]
struct Case {
    shape: Depthwise,
    batch: usize,
    channels: usize,
    multiplier: usize,
}

impl Case {
    /// The case for an input, kernel, stride, dilation and `[(top, bottom), (left, right)]`
    /// pads, with the geometry crate's output size; `None` when the output would be empty.
    fn new(
        input: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
        pads: [(usize, usize); 2],
    ) -> Option<Case> {
        let output = |a: usize| {
            let window = Window::new(kernel[a])
                .stride(stride[a])
                .dilation(dilation[a])
                .pads(pads[a].0, pads[a].1);
            conv_output(input[a], window).ok()
        };
        let shape = Depthwise {
            input,
            output: [output(0)?, output(1)?],
            kernel,
            stride,
            dilation,
            pad: [pads[0].0, pads[1].0],
        };
        Some(Case {
            shape,
            batch: 2,
            channels: 3,
            multiplier: 1,
        })
    }

    fn batch(self, batch: usize) -> Case {
        Case { batch, ..self }
    }

    fn multiplier(self, multiplier: usize) -> Case {
        Case { multiplier, ..self }
    }

    fn taps(&self) -> usize {
        self.shape.kernel[0] * self.shape.kernel[1]
    }

    /// Output channels.
    fn cout(&self) -> usize {
        self.channels * self.multiplier
    }

    /// A reproducible input, weight and bias for the case.
    fn tensors(&self, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let [h, w] = self.shape.input;
        let x = sample(self.batch * self.channels * h * w, seed);
        let weight = sample(self.cout() * self.taps(), seed + 1);
        let bias = sample(self.cout(), seed + 2);
        let raw = |a: ndarray::Array1<f32>| a.into_raw_vec_and_offset().0;
        (raw(x), raw(weight), raw(bias))
    }

    /// The convolution by its definition, tap by tap with bounds checks, in f64, through
    /// `activation`.
    fn naive(
        &self,
        x: &[f32],
        weight: &[f32],
        bias: Option<&[f32]>,
        activation: Activation,
    ) -> Vec<f32> {
        let s = &self.shape;
        let ([h, w], [oh, ow], [kh, kw]) = (s.input, s.output, s.kernel);
        let mut y = Vec::new();
        for n in 0..self.batch {
            for c in 0..self.cout() {
                let x = &x[(n * self.channels + c / self.multiplier) * h * w..][..h * w];
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = bias.map_or(0.0, |b| f64::from(b[c]));
                        for ki in 0..kh {
                            for kj in 0..kw {
                                let iy = (oy * s.stride[0] + ki * s.dilation[0]) as i64
                                    - s.pad[0] as i64;
                                let ix = (ox * s.stride[1] + kj * s.dilation[1]) as i64
                                    - s.pad[1] as i64;
                                if (0..h as i64).contains(&iy) && (0..w as i64).contains(&ix) {
                                    let v = f64::from(x[iy as usize * w + ix as usize]);
                                    acc += f64::from(weight[c * kh * kw + ki * kw + kj]) * v;
                                }
                            }
                        }
                        y.push(activation.apply(acc as f32));
                    }
                }
            }
        }
        y
    }

    /// The entry point on `isa`'s path, into an output between two runs of sentinels that
    /// must come back untouched.
    fn run(
        &self,
        isa: Isa,
        x: &[f32],
        weight: &[f32],
        bias: Option<&[f32]>,
        activation: Activation,
    ) -> Vec<f32> {
        const GUARD: usize = 64;
        const SENTINEL: f32 = -12345.5;
        let [oh, ow] = self.shape.output;
        let len = self.batch * self.cout() * oh * ow;
        let mut guarded = vec![SENTINEL; GUARD + len + GUARD];
        let y = &mut guarded[GUARD..GUARD + len];
        y.fill(f32::NAN);
        depthwise(isa, &self.shape, x, weight, bias, activation, y);
        let (before, rest) = guarded.split_at(GUARD);
        let (y, after) = rest.split_at(len);
        assert!(
            before.iter().chain(after).all(|&v| v == SENTINEL),
            "{isa:?} {self:?}: a store outside the output"
        );
        y.to_vec()
    }

    /// Runs the case on every path this machine has, with and without its bias, and compares
    /// each with the definition.
    #[track_caller]
    fn check(&self, activation: Activation, seed: u64) {
        let (x, weight, bias) = self.tensors(seed);
        for bias in [None, Some(&bias[..])] {
            let want = self.naive(&x, &weight, bias, activation);
            // f32 sums of `taps` terms against f64 ones: the rounding grows with the terms.
            let tolerance = 1e-5 * (self.taps() as f32).sqrt().max(1.0);
            for isa in isas() {
                let got = self.run(isa, &x, &weight, bias, activation);
                let context = format!("{isa:?} {self:?} {activation:?} bias {}", bias.is_some());
                assert_close(&got, &want, tolerance, &context);
            }
        }
    }
}

/// Every path this CPU has: scalar, 8-channel blocks (AVX2) and 16-channel ones (AVX-512).
fn isas() -> Vec<Isa> {
    Isa::all()
}

#[track_caller]
fn assert_close(got: &[f32], want: &[f32], tolerance: f32, context: &str) {
    assert_eq!(got.len(), want.len(), "{context}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tolerance * (1.0 + w.abs()),
            "{context}: at {i}: got {g}, want {w}"
        );
    }
}

/// A different activation for each case number, among every kind.
fn activation(case: usize) -> Activation {
    EVERY_ACTIVATION[case % EVERY_ACTIVATION.len()]
}

#[test]
fn depthwise_matches_the_definition_for_square_and_rectangular_kernels_up_to_7() {
    let mut cases = 0;
    for kh in 1..=7 {
        for kw in 1..=7 {
            // Planes narrower than a vector, around the flat order's limit and in the row order
            // (one whole vector, a remainder, a moved-back last vector).
            for input in [[1, 1], [3, 5], [6, 9], [9, 17], [11, 31], [7, 40], [5, 75]] {
                for stride in [[1, 1], [2, 2]] {
                    // Symmetric "same" pads, none, and lopsided ones.
                    let pads = [
                        [(kh / 2, kh / 2), (kw / 2, kw / 2)],
                        [(0, 0), (0, 0)],
                        [(kh - 1, 0), (0, kw - 1)],
                    ];
                    for pads in pads {
                        let Some(case) = Case::new(input, [kh, kw], stride, [1, 1], pads) else {
                            continue;
                        };
                        case.check(activation(cases), cases as u64);
                        cases += 1;
                    }
                }
            }
        }
    }
    assert!(cases > 1000, "{cases} cases");
}

#[test]
fn depthwise_matches_the_definition_with_stride_3_and_mixed_strides() {
    let mut cases = 0;
    for stride in [[3, 3], [1, 2], [2, 1], [3, 1], [1, 3], [2, 3], [4, 4]] {
        for kernel in [[1, 1], [2, 2], [3, 3], [5, 5], [3, 5], [7, 2]] {
            for input in [[1, 1], [4, 7], [10, 13], [20, 33], [9, 100]] {
                for pads in [[(0, 0), (0, 0)], [(1, 2), (2, 1)], [(3, 3), (3, 3)]] {
                    let Some(case) = Case::new(input, kernel, stride, [1, 1], pads) else {
                        continue;
                    };
                    case.check(activation(cases), 100 + cases as u64);
                    cases += 1;
                }
            }
        }
    }
    assert!(cases > 300, "{cases} cases");
}

#[test]
fn depthwise_matches_the_definition_with_dilation() {
    let mut cases = 0;
    for dilation in [[2, 2], [1, 2], [2, 1], [3, 2]] {
        for stride in [[1, 1], [2, 2], [1, 3]] {
            for kernel in [[3, 3], [5, 5], [2, 4], [7, 1]] {
                for input in [[3, 3], [9, 12], [15, 40], [8, 70]] {
                    for pads in [[(0, 0), (0, 0)], [(2, 2), (2, 2)], [(4, 1), (0, 6)]] {
                        let Some(case) = Case::new(input, kernel, stride, dilation, pads) else {
                            continue;
                        };
                        case.check(activation(cases), 200 + cases as u64);
                        cases += 1;
                    }
                }
            }
        }
    }
    assert!(cases > 300, "{cases} cases");
}

#[test]
fn depthwise_matches_the_definition_for_kernels_up_to_11_on_mobilenet_like_planes() {
    // EfficientNet's and ConvNeXt's layers at small sizes, and kernels past 7.
    let layers = [
        ([28, 28], [5, 5], [2, 2], 2),
        ([14, 14], [5, 5], [1, 1], 2),
        ([56, 56], [7, 7], [1, 1], 3),
        ([7, 7], [7, 7], [1, 1], 3),
        ([7, 7], [3, 3], [1, 1], 1),
        ([33, 47], [9, 9], [1, 1], 4),
        ([24, 40], [11, 11], [2, 2], 5),
        ([13, 64], [11, 3], [1, 2], 5),
        // Past the unrolled widths: groups of taps at run time, and tap by tap at stride 3.
        ([40, 45], [31, 31], [1, 1], 15),
        ([20, 50], [9, 13], [3, 3], 4),
    ];
    for (i, (input, kernel, stride, pad)) in layers.into_iter().enumerate() {
        let case = Case::new(input, kernel, stride, [1, 1], [(pad, pad), (pad, pad)]).unwrap();
        case.check(activation(i), 300 + i as u64);
    }
}

#[test]
fn depthwise_with_a_depth_multiplier_gives_each_input_plane_m_filters() {
    for multiplier in [2, 3] {
        for (input, kernel, stride) in [
            ([9, 9], [3, 3], [1, 1]),
            ([12, 40], [5, 5], [2, 2]),
            ([6, 6], [3, 1], [3, 1]),
        ] {
            let case = Case::new(input, kernel, stride, [1, 1], [(1, 1), (2, 2)])
                .unwrap()
                .multiplier(multiplier)
                .batch(3);
            case.check(Activation::Relu, 400 + multiplier as u64);
        }
    }
}

#[test]
fn depthwise_fills_blocks_of_8_channels_whole_and_in_part_with_a_depth_multiplier() {
    // 8 and 16 output channels fill whole blocks; 9, 17 and 3 x 3 leave a part, and a
    // multiplier of 3 puts an input channel's filters in two blocks.
    for (channels, multiplier) in [(8, 1), (9, 1), (17, 1), (8, 2), (3, 3), (5, 3)] {
        let case = Case::new([6, 11], [3, 3], [1, 1], [1, 1], [(1, 1), (1, 1)]).unwrap();
        let case = Case {
            channels,
            multiplier,
            batch: 2,
            ..case
        };
        case.check(Activation::Relu6, 450 + channels as u64);
    }
}

#[test]
fn depthwise_on_1x1_planes_batch_1_and_batch_5() {
    for batch in [1, 5] {
        for (kernel, pad) in [([1, 1], 0), ([3, 3], 1), ([5, 5], 2), ([7, 7], 3)] {
            let case = Case::new([1, 1], kernel, [1, 1], [1, 1], [(pad, pad), (pad, pad)])
                .unwrap()
                .batch(batch);
            assert_eq!(case.shape.output, [1, 1]);
            case.check(Activation::LeakyRelu(0.2), 500 + batch as u64);
        }
    }
}

#[test]
fn depthwise_applies_every_activation_in_registers_or_row_by_row_at_any_width() {
    // Several vectors a row, a vector and a part, and less than a vector.
    for width in [40, 12, 5] {
        let case = Case::new([9, width], [3, 3], [1, 1], [1, 1], [(1, 1), (1, 1)]).unwrap();
        for a in 0..7 {
            case.check(activation(a), 600 + a as u64);
        }
    }
}

#[test]
fn depthwise_matches_the_definition_on_random_shapes() {
    // Reproducible draws over every parameter at once, rare combinations included.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut draw = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut cases = 0;
    while cases < 600 {
        let kernel = [1 + draw(11), 1 + draw(11)];
        let stride = [1 + draw(3), 1 + draw(3)];
        let dilation = [1 + draw(2), 1 + draw(2)];
        let input = [1 + draw(30), 1 + draw(70)];
        let pads = [(draw(6), draw(6)), (draw(6), draw(6))];
        let Some(case) = Case::new(input, kernel, stride, dilation, pads) else {
            continue;
        };
        let case = case.batch(1 + draw(2)).multiplier(1 + draw(2));
        case.check(activation(cases), 700 + cases as u64);
        cases += 1;
    }
}

#[test]
fn depthwise_entry_point_splits_planes_over_threads_with_the_same_numbers() {
    // Enough work for the split, 5 channels and a multiplier of 2 so runs of planes start
    // mid-sample and mid-channel; both paths.
    let case = Case::new([64, 72], [5, 5], [1, 1], [1, 1], [(2, 2), (2, 2)])
        .unwrap()
        .batch(3)
        .multiplier(2);
    let case = Case {
        channels: 5,
        ..case
    };
    let [oh, ow] = case.shape.output;
    assert!(
        case.batch * case.cout() * oh * ow * case.taps() >= PARALLEL_WORK,
        "big enough to split"
    );
    let (x, weight, bias) = case.tensors(800);
    let want = case.naive(&x, &weight, Some(&bias), Activation::Relu);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for isa in isas() {
        let got = pool.install(|| case.run(isa, &x, &weight, Some(&bias), Activation::Relu));
        assert_close(&got, &want, 1e-5 * 5.0, &format!("entry point, {isa:?}"));
    }
}

#[test]
fn depthwise_gives_the_same_bits_in_blocks_of_8_or_16_channels_on_1_or_2_threads() {
    // Whole blocks of 16 and a part (24, 33 and 40 channels, a multiplier of 2 putting an
    // input channel's filters in two blocks), on planes from 7x7 to 28x28 at both strides
    // and every kernel the unrolled rows cover, with every activation. Each lane's sums are
    // the same FMAs in the same order whatever the block's width, and the activations the
    // same vector forms, so the vector paths agree bit for bit, and with the definition
    // within the rounding of the sums.
    let layers = [
        ([7, 7], [3, 3], [1, 1]),
        ([7, 7], [7, 7], [1, 1]),
        ([14, 14], [5, 5], [1, 1]),
        ([15, 23], [5, 5], [2, 2]),
        ([28, 28], [7, 7], [1, 1]),
        ([13, 30], [3, 3], [2, 2]),
        ([9, 11], [6, 4], [1, 2]),
    ];
    let pools = [1, 2].map(|threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    });
    let mut cases = 0;
    for (input, kernel, stride) in layers {
        for (channels, multiplier) in [(16, 1), (24, 1), (33, 1), (20, 2)] {
            let pads = [
                (kernel[0] / 2, kernel[0] / 2),
                (kernel[1] / 2, kernel[1] / 2),
            ];
            let case = Case::new(input, kernel, stride, [1, 1], pads).unwrap();
            let case = Case {
                channels,
                multiplier,
                batch: 1 + cases % 2,
                ..case
            };
            let activation = activation(cases);
            case.check(activation, 1000 + cases as u64);
            let (x, weight, bias) = case.tensors(1000 + cases as u64);
            let mut first: Option<Vec<f32>> = None;
            for isa in Isa::all().into_iter().filter(|&isa| isa != Isa::Scalar) {
                for pool in &pools {
                    let got = pool.install(|| case.run(isa, &x, &weight, Some(&bias), activation));
                    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                    match &first {
                        None => first = Some(got),
                        Some(want) => assert!(
                            bits(&got) == bits(want),
                            "{isa:?} on {} threads differs: {case:?} {activation:?}",
                            pool.current_num_threads()
                        ),
                    }
                }
            }
            cases += 1;
        }
    }
}

#[test]
fn depthwise_with_padding_wider_than_the_kernel_gives_the_bias_in_the_border() {
    // Padding 3 around a 3x3 kernel: the outer output ring sees no input at all.
    let case = Case::new([4, 12], [3, 3], [1, 1], [1, 1], [(3, 3), (3, 3)]).unwrap();
    let case = Case {
        batch: 1,
        channels: 1,
        ..case
    };
    let [oh, ow] = case.shape.output;
    assert_eq!([oh, ow], [8, 16]);
    for isa in isas() {
        let y = case.run(
            isa,
            &[1.0; 48],
            &[1.0; 9],
            Some(&[0.5]),
            Activation::Identity,
        );
        assert_eq!(y[0], 0.5, "{isa:?}");
        assert_eq!(y[oh * ow - 1], 0.5, "{isa:?}");
        assert_eq!(y[3 * ow + 4], 9.5, "{isa:?}");
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_staging_is_refused_only_when_far_larger_than_the_planes() {
    // MobileNet's, EfficientNet's and ConvNeXt's layers are staged.
    for (input, kernel, stride, pad) in [
        ([112, 112], [3, 3], [1, 1], 1),
        ([112, 112], [3, 3], [2, 2], 1),
        ([28, 28], [5, 5], [2, 2], 2),
        ([56, 56], [7, 7], [1, 1], 3),
        ([1, 1], [11, 11], [1, 1], 5),
        ([9, 9], [1, 1], [3, 3], 0),
    ] {
        let case = Case::new(input, kernel, stride, [1, 1], [(pad, pad), (pad, pad)]).unwrap();
        assert!(blocked::Layout::new(&case.shape).is_some(), "{case:?}");
    }
    // A dilation of 1000 over a 1x1 input padded by 1000 on each side: a 1x1 output whose
    // staging would hold 2001 x 2001 values of padding. The scalar path computes it, on
    // either `Isa`, with the same numbers.
    let case = Case::new([1, 1], [3, 3], [1, 1], [1000, 1000], [(1000, 1000); 2]).unwrap();
    assert_eq!(case.shape.output, [1, 1]);
    assert!(blocked::Layout::new(&case.shape).is_none());
    case.check(Activation::Identity, 900);
}
