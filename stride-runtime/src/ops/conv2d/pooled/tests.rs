use ndarray::Array4;

use super::*;
use crate::Padding2d;
use crate::ops::{Conv2dParams, max_pool2d};
use crate::simd::Activation;
use crate::testing::{EVERY_ACTIVATION, sample};

/// A convolution on the direct kernel and a max pool after it: input channels, output
/// channels, groups, input size, kernel, stride, `(top, bottom, left, right)` pads, and the
/// pool.
#[derive(Debug, Clone, Copy)]
struct Case {
    cin: usize,
    cout: usize,
    groups: usize,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    pads: [usize; 4],
    pool: MaxPool2dParams,
}

impl Case {
    fn conv(&self, activation: Activation, seed: u64) -> Conv2d {
        let [kh, kw] = self.kernel;
        let [top, bottom, left, right] = self.pads;
        let params = Conv2dParams::default()
            .groups(self.groups)
            .stride((self.stride[0], self.stride[1]))
            .padding(Padding2d::asymmetric(top, bottom, left, right));
        let weight = sample((self.cout, self.cin / self.groups, kh, kw), seed);
        // The kernel AVX-512 and the portable path choose (AVX2 takes im2col for one group),
        // so that the fused path is tested on every CPU.
        let algorithm = Algorithm::for_layer(Isa::Scalar, weight.dim(), &params);
        Conv2d::new(weight, Some(sample(self.cout, seed + 1)), params)
            .unwrap()
            .with_algorithm(algorithm)
            .with_activation(activation)
    }
}

/// The convolution on `isa`'s direct kernel, whole, then the max pool as a user calls it.
fn unfused(isa: Isa, conv: &Conv2d, pool: &MaxPool2dParams, x: &Array4<f32>) -> Array4<f32> {
    let g = conv.layer.resolve(x.view()).unwrap();
    let mut mid = Array4::zeros(g.output_shape());
    let bias = conv.bias().unwrap().to_vec();
    let epilogue = Epilogue::finish(Some(&bias), conv.activation());
    let (xs, out) = (x.as_slice().unwrap(), mid.as_slice_mut().unwrap());
    grouped::conv2d(isa, &g, xs, conv.grouped_weights(), &epilogue, out);
    max_pool2d(mid.view(), pool).unwrap()
}

fn bits(y: &Array4<f32>) -> Vec<u32> {
    y.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn a_convolution_fused_with_its_max_pool_gives_the_unfused_values_in_any_band_on_every_path() {
    // ResNet's stem, shrunk, and odd ones: 3x3/2 pools with padding, 2x2/2, GoogLeNet's
    // ceil-mode 3x3/2, a 3x3 at stride 1 on a wide plane, windows that do not overlap and
    // windows that skip rows (stride above the kernel), asymmetric pads, two groups, channel
    // counts off the vector widths; bands of one pooled row, of a few, and the whole map;
    // one thread and two; batches of one and two.
    let pool = |k: usize, s: usize, p: usize| MaxPool2dParams::new(k).stride(s).padding(p);
    let cases = [
        Case {
            cin: 3,
            cout: 64,
            groups: 1,
            input: [40, 36],
            kernel: [7, 7],
            stride: [2, 2],
            pads: [3, 3, 3, 3],
            pool: pool(3, 2, 1),
        },
        Case {
            cin: 3,
            cout: 21,
            groups: 1,
            input: [29, 33],
            kernel: [7, 7],
            stride: [2, 2],
            pads: [3, 3, 3, 3],
            pool: MaxPool2dParams::new(3).stride(2).ceil_mode(true),
        },
        Case {
            cin: 4,
            cout: 16,
            groups: 1,
            input: [23, 18],
            kernel: [3, 3],
            stride: [1, 1],
            pads: [1, 1, 1, 1],
            pool: pool(2, 2, 0),
        },
        Case {
            cin: 1,
            cout: 9,
            groups: 1,
            input: [30, 70],
            kernel: [5, 3],
            stride: [1, 2],
            pads: [2, 0, 1, 1],
            pool: pool(3, 1, 1),
        },
        Case {
            cin: 6,
            cout: 10,
            groups: 2,
            input: [26, 21],
            kernel: [3, 3],
            stride: [2, 1],
            pads: [0, 1, 1, 0],
            pool: MaxPool2dParams::new((2, 3)).stride((3, 2)).padding((1, 0)),
        },
    ];
    let pools = [1, 2].map(|threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    });
    let mut runs = 0;
    for (i, case) in cases.iter().enumerate() {
        let conv = case.conv(
            EVERY_ACTIVATION[(2 * i + 1) % EVERY_ACTIVATION.len()],
            i as u64,
        );
        let x = sample(
            (1 + i % 2, case.cin, case.input[0], case.input[1]),
            10 + i as u64,
        );
        let shape = x.shape().try_into().unwrap();
        for isa in Isa::all() {
            assert!(plan(isa, &conv, &case.pool, shape).is_some(), "{case:?}");
            let want = unfused(isa, &conv, &case.pool, &x);
            let row = case.cout * conv.layer.resolve(x.view()).unwrap().output[1] * 4;
            for band_bytes in [0, 4 * row, usize::MAX / 2] {
                let [one, two] = [&pools[0], &pools[1]].map(|threads| {
                    threads
                        .install(|| banded(isa, &conv, &case.pool, x.view(), band_bytes))
                        .unwrap()
                });
                let context = format!("{isa:?}, bands of {band_bytes} bytes: {case:?}");
                assert!(
                    bits(&one) == bits(&two),
                    "1 and 2 threads differ, {context}"
                );
                assert!(bits(&one) == bits(&want), "not the unfused bits, {context}");
                runs += 1;
            }
        }
        // And through the layer's own entry point.
        if conv.fuses_with_max_pool(&case.pool, shape) {
            let fused = conv.forward_with_max_pool(&case.pool, x.view()).unwrap();
            let separate = max_pool2d(conv.forward(x.view()).unwrap().view(), &case.pool);
            assert!(bits(&fused) == bits(&separate.unwrap()), "{case:?}");
        }
    }
    assert!(runs >= cases.len() * 3);
}

#[test]
fn a_stem_fused_with_its_pool_takes_inputs_down_to_one_pixel() {
    // ResNet's stem and pool on the smallest inputs a network accepts: the whole map is one
    // band, a window may hold a single row, and the output may be 1x1.
    let stem = Case {
        cin: 3,
        cout: 16,
        groups: 1,
        input: [1, 1],
        kernel: [7, 7],
        stride: [2, 2],
        pads: [3, 3, 3, 3],
        pool: MaxPool2dParams::new(3).stride(2).padding(1),
    };
    let conv = stem.conv(Activation::Relu, 3);
    for (h, w) in [(1, 1), (1, 5), (2, 3), (5, 5), (8, 1)] {
        let x = sample((2, 3, h, w), (h * 10 + w) as u64);
        let shape = x.shape().try_into().unwrap();
        for isa in Isa::all() {
            assert!(plan(isa, &conv, &stem.pool, shape).is_some(), "{h}x{w}");
            let want = unfused(isa, &conv, &stem.pool, &x);
            let got = banded(isa, &conv, &stem.pool, x.view(), 0).unwrap();
            assert!(bits(&got) == bits(&want), "{isa:?}, {h}x{w}");
        }
    }
}

#[test]
fn only_the_direct_kernel_and_the_separable_max_pool_fuse() {
    let stem = Case {
        cin: 3,
        cout: 8,
        groups: 1,
        input: [20, 20],
        kernel: [3, 3],
        stride: [2, 2],
        pads: [1, 1, 1, 1],
        pool: MaxPool2dParams::new(3).stride(2).padding(1),
    };
    let shape = [1, 3, 20, 20];
    let conv = stem.conv(Activation::Relu, 1);
    assert!(plan(Isa::Scalar, &conv, &stem.pool, shape).is_some());
    // A dilated pool runs window by window.
    let dilated = stem.pool.dilation(2);
    assert!(plan(Isa::Scalar, &conv, &dilated, shape).is_none());
    // A pool the geometry refuses (padding above half the kernel) is left to report it.
    let refused = MaxPool2dParams::new(3).padding(2);
    assert!(plan(Isa::Scalar, &conv, &refused, shape).is_none());
    // A map so wide that one pooled row's band passes `BAND_BYTES` runs unfused.
    let wide_map = [1, 3, 8, 40_000];
    assert!(plan(Isa::Scalar, &conv, &stem.pool, wide_map).is_none());
    // A 3x3 on 16 channels runs Winograd, not the direct kernel.
    let wide = Case {
        cin: 16,
        stride: [1, 1],
        ..stem
    };
    let conv = wide.conv(Activation::Relu, 2);
    assert!(plan(Isa::Scalar, &conv, &stem.pool, [1, 16, 20, 20]).is_none());
}
