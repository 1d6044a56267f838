use ndarray::Array4;

use super::*;
use crate::ops::Conv2dParams;
use crate::ops::conv2d::Conv2d;
use crate::ops::conv2d::im2col;
use crate::simd::Activation;
use crate::testing::{EVERY_ACTIVATION, assert_close, sample};

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn pointwise_kernel_gives_the_gemms_values_for_any_shape_activation_residual_and_split() {
    let Some(isa) = Isa::avx512() else {
        // The kernel runs on AVX-512 only; elsewhere the GEMM computes these layers.
        return;
    };
    // (batch, input channels, output channels, height, width): MobileNet's and
    // EfficientNet's channel counts on small planes, and odd ones: one channel, channels off
    // the panel's 6 rows, planes narrower than a vector, ending inside a vector, a tile or a
    // block, and spanning several blocks.
    let shapes = [
        (1, 16, 96, 9, 13),
        (2, 24, 144, 7, 7),
        (1, 32, 16, 17, 19),
        (1, 8, 48, 16, 16),
        (1, 1, 5, 3, 3),
        (3, 13, 7, 1, 1),
        (1, 31, 31, 5, 11),
        (1, 3, 13, 23, 29),
        (2, 20, 40, 1, 47),
        (1, 32, 200, 4, 65),
    ];
    let mut runs = 0;
    for (i, &(n, cin, cout, h, w)) in shapes.iter().enumerate() {
        let x = sample((n, cin, h, w), i as u64);
        let weight = sample((cout, cin, 1, 1), 100 + i as u64);
        let bias = sample(cout, 200 + i as u64);
        let residual = sample((n, cout, h, w), 300 + i as u64);
        let layer = Conv2d::new(weight, None, Conv2dParams::default()).unwrap();
        let g = layer.layer.resolve(x.view()).unwrap();
        assert!(takes(isa, &g), "{:?}", shapes[i]);
        let packed = &layer.im2col_weights()[0];
        let xs = x.as_slice().unwrap();
        for (a, &activation) in EVERY_ACTIVATION.iter().enumerate() {
            for (with_bias, accumulate) in [(true, false), (false, false), (true, true)] {
                let epilogue = Epilogue {
                    bias: with_bias.then(|| bias.as_slice().unwrap()),
                    activation,
                    accumulate,
                };
                let start = if accumulate {
                    residual.clone()
                } else {
                    Array4::from_elem(residual.dim(), f32::NAN)
                };
                let mut want = start.clone();
                let want_out = want.as_slice_mut().unwrap();
                im2col::conv2d(isa, &g, xs, layer.im2col_weights(), &epilogue, want_out);
                let mut one_task = start.clone();
                for tasks in [1, 2, 3, 7] {
                    let mut got = start.clone();
                    let out = got.as_slice_mut().unwrap();
                    conv2d_split(isa, &g, xs, packed, &epilogue, out, tasks);
                    let context = format!(
                        "{:?}, activation {a}, bias {with_bias}, residual {accumulate}, \
                         {tasks} tasks",
                        shapes[i]
                    );
                    // Exact in the scalar and the vector form alike.
                    let exact = matches!(
                        activation,
                        Activation::Identity
                            | Activation::Relu
                            | Activation::Relu6
                            | Activation::LeakyRelu(_)
                    );
                    if exact {
                        assert!(
                            bits(got.as_slice().unwrap()) == bits(want.as_slice().unwrap()),
                            "{context}"
                        );
                    } else {
                        // The GEMM finishes the few columns past a tile's whole vectors
                        // (a 7 x 7 plane's 49th) with the scalar form of the activation,
                        // for the smooth ones and hard swish a few ulps from the vector
                        // form, which this kernel uses on every column.
                        assert_close(&got, &want);
                    }
                    // The split never changes a value.
                    if tasks == 1 {
                        one_task.clone_from(&got);
                    } else {
                        assert!(
                            bits(got.as_slice().unwrap()) == bits(one_task.as_slice().unwrap()),
                            "not the one-task bits, {context}"
                        );
                    }
                    runs += 1;
                }
            }
        }
    }
    assert_eq!(runs, shapes.len() * EVERY_ACTIVATION.len() * 3 * 4);
}

#[test]
fn pointwise_kernel_takes_only_few_channel_unpadded_1x1_layers_at_stride_1() {
    let Some(isa) = Isa::avx512() else {
        return;
    };
    let takes_layer = |cin: usize, k: usize, params: Conv2dParams| {
        let x = Array4::zeros((1, cin, 8, 8));
        let layer =
            Conv2d::new(Array4::zeros((16, cin / params.groups, k, k)), None, params).unwrap();
        takes(isa, &layer.layer.resolve(x.view()).unwrap())
    };
    let plain = Conv2dParams::default();
    assert!(takes_layer(1, 1, plain));
    assert!(takes_layer(MAX_CHANNELS, 1, plain));
    assert!(!takes_layer(MAX_CHANNELS + 1, 1, plain));
    assert!(!takes_layer(16, 3, plain));
    assert!(!takes_layer(16, 1, plain.stride(2)));
    assert!(!takes_layer(16, 1, plain.padding(1)));
    assert!(!takes_layer(16, 1, plain.groups(2)));
    assert!(!takes(Isa::Scalar, &{
        let x = Array4::zeros((1, 16, 8, 8));
        let layer = Conv2d::new(Array4::zeros((16, 16, 1, 1)), None, plain).unwrap();
        layer.layer.resolve(x.view()).unwrap()
    }));
}
