use ndarray::Array4;

use super::*;
use crate::Padding2d;
use crate::ops::Conv2dParams;
use crate::ops::conv2d::{depthwise_shape, im2col};
use crate::simd::Activation;
use crate::testing::{EVERY_ACTIVATION, assert_close, sample};

/// An expansion and a depthwise layer: input channels, expanded channels, depth multiplier,
/// input size, kernel, stride, dilation and `(top, bottom, left, right)` pads.
#[derive(Debug, Clone, Copy)]
struct Case {
    cin: usize,
    expanded: usize,
    multiplier: usize,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pads: [usize; 4],
}

impl Case {
    /// The two layers, with biases, the expansion applying `activations.0` and the depthwise
    /// layer `activations.1`.
    fn layers(&self, activations: (Activation, Activation), seed: u64) -> (Conv2d, Conv2d) {
        let (e, m, [kh, kw]) = (self.expanded, self.multiplier, self.kernel);
        let expand = Conv2d::new(
            sample((e, self.cin, 1, 1), seed),
            Some(sample(e, seed + 1)),
            Conv2dParams::default(),
        )
        .unwrap()
        .with_activation(activations.0);
        let [top, bottom, left, right] = self.pads;
        let params = Conv2dParams::default()
            .groups(e)
            .stride((self.stride[0], self.stride[1]))
            .dilation((self.dilation[0], self.dilation[1]))
            .padding(Padding2d::asymmetric(top, bottom, left, right));
        let depthwise = Conv2d::new(
            sample((e * m, 1, kh, kw), seed + 2),
            Some(sample(e * m, seed + 3)),
            params,
        )
        .unwrap()
        .with_activation(activations.1);
        (expand, depthwise)
    }
}

/// The two layers one after the other on `isa`, through the kernels the unfused layers run:
/// the GEMM of the 1x1 layer, then the depthwise kernel on its whole output.
fn unfused(isa: Isa, expand: &Conv2d, depthwise: &Conv2d, x: &Array4<f32>) -> Array4<f32> {
    let ge = expand.layer.resolve(x.view()).unwrap();
    let mut mid = Array4::zeros(ge.output_shape());
    let bias = expand.bias().unwrap().to_vec();
    let epilogue = Epilogue::finish(Some(&bias), expand.activation());
    let xs = x.as_slice().unwrap();
    let mid_out = mid.as_slice_mut().unwrap();
    im2col::conv2d(isa, &ge, xs, expand.im2col_weights(), &epilogue, mid_out);
    let gd = depthwise.layer.resolve(mid.view()).unwrap();
    let mut y = Array4::zeros(gd.output_shape());
    let bias = depthwise.bias().unwrap().to_vec();
    depthwise::depthwise(
        isa,
        &depthwise_shape(&gd),
        mid.as_slice().unwrap(),
        depthwise.layer.weight_slice(),
        Some(&bias),
        depthwise.activation(),
        y.as_slice_mut().unwrap(),
    );
    y
}

fn bits(y: &Array4<f32>) -> Vec<u32> {
    y.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn fused_expansion_and_depthwise_give_the_unfused_values_in_any_band_on_every_path() {
    // MobileNet's and EfficientNet's shapes, shrunk, and odd ones: stride 1 and 2 (and 3),
    // 3x3 to 7x7 and rectangular kernels, dilation, asymmetric pads, a depth multiplier,
    // channel counts off the vector widths, planes narrower than 8 outputs; bands of one
    // output row, of a few, and the whole map in one; one thread and two.
    let cases = [
        Case {
            cin: 16,
            expanded: 96,
            multiplier: 1,
            input: [24, 20],
            kernel: [3, 3],
            stride: [2, 2],
            dilation: [1, 1],
            pads: [1, 1, 1, 1],
        },
        Case {
            cin: 24,
            expanded: 144,
            multiplier: 1,
            input: [15, 17],
            kernel: [3, 3],
            stride: [1, 1],
            dilation: [1, 1],
            pads: [1, 1, 1, 1],
        },
        Case {
            cin: 5,
            expanded: 33,
            multiplier: 1,
            input: [19, 13],
            kernel: [5, 5],
            stride: [2, 2],
            dilation: [1, 1],
            pads: [2, 2, 2, 2],
        },
        Case {
            cin: 7,
            expanded: 20,
            multiplier: 2,
            input: [11, 9],
            kernel: [7, 7],
            stride: [1, 1],
            dilation: [1, 1],
            pads: [3, 3, 3, 3],
        },
        Case {
            cin: 3,
            expanded: 17,
            multiplier: 1,
            input: [13, 6],
            kernel: [3, 5],
            stride: [3, 1],
            dilation: [2, 1],
            pads: [0, 2, 1, 0],
        },
        Case {
            cin: 8,
            expanded: 24,
            multiplier: 1,
            input: [9, 30],
            kernel: [4, 3],
            stride: [2, 2],
            dilation: [1, 1],
            pads: [2, 1, 1, 1],
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
        let activations = (
            EVERY_ACTIVATION[i % EVERY_ACTIVATION.len()],
            EVERY_ACTIVATION[(3 * i + 2) % EVERY_ACTIVATION.len()],
        );
        let (expand, depthwise) = case.layers(activations, 10 * i as u64);
        let x = sample(
            (1 + i % 2, case.cin, case.input[0], case.input[1]),
            i as u64,
        );
        let shape = x.shape().try_into().unwrap();
        assert!(geometries(&expand, &depthwise, shape).is_some(), "{case:?}");
        // Too small to be worth fusing in a network.
        assert!(!expand.fuses_with(&depthwise, shape), "{case:?}");
        for isa in Isa::all() {
            let want = unfused(isa, &expand, &depthwise, &x);
            for band_bytes in [0, 3 * case.expanded * case.input[1] * 4, usize::MAX / 2] {
                let [one, two] = [&pools[0], &pools[1]].map(|pool| {
                    pool.install(|| banded(isa, &expand, &depthwise, x.view(), band_bytes))
                        .unwrap()
                });
                let context = format!("{isa:?}, bands of {band_bytes} bytes: {case:?}");
                assert!(
                    bits(&one) == bits(&two),
                    "1 and 2 threads differ, {context}"
                );
                if matches!(isa, Isa::Avx2(_)) {
                    // The AVX2 GEMM finishes a tile's last columns with the scalar form of
                    // the activation, a few ulps from the vector form for the smooth ones,
                    // and a band's columns end elsewhere than the whole map's.
                    assert_close(&one, &want);
                } else {
                    assert!(bits(&one) == bits(&want), "not the unfused bits, {context}");
                }
                runs += 1;
            }
        }
        // And the layers as a user calls them, within the golden tolerance.
        let separate = depthwise
            .forward(expand.forward(x.view()).unwrap().view())
            .unwrap();
        assert_close(
            &expand.forward_with_depthwise(&depthwise, x.view()).unwrap(),
            &separate,
        );
    }
    println!("{runs} fused runs compared");
}

#[test]
fn only_an_unpadded_1x1_expansion_into_a_depthwise_layer_reaching_past_its_pads_fuses() {
    let case = Case {
        cin: 4,
        expanded: 8,
        multiplier: 1,
        input: [10, 10],
        kernel: [3, 3],
        stride: [1, 1],
        dilation: [1, 1],
        pads: [1, 1, 1, 1],
    };
    let identity = (Activation::Identity, Activation::Identity);
    let (expand, depthwise) = case.layers(identity, 1);
    assert!(geometries(&expand, &depthwise, [1, 4, 10, 10]).is_some());
    // The expansion's output is not the depthwise layer's input.
    assert!(geometries(&depthwise, &expand, [1, 8, 10, 10]).is_none());
    assert!(geometries(&expand, &depthwise, [1, 5, 10, 10]).is_none());
    // Padding as deep as the kernel's reach: a band could read no input row.
    let deep = Case {
        pads: [3, 1, 1, 1],
        ..case
    };
    let (expand, depthwise) = deep.layers(identity, 1);
    assert!(geometries(&expand, &depthwise, [1, 4, 10, 10]).is_none());
    // A padded or strided 1x1 layer is not the GEMM on the planes as they are.
    let padded = Conv2d::new(
        sample((8, 4, 1, 1), 1),
        None,
        Conv2dParams::default().padding(1),
    )
    .unwrap();
    let (_, depthwise) = case.layers(identity, 1);
    assert!(geometries(&padded, &depthwise, [1, 4, 8, 8]).is_none());
    // The size rule: MobileNetV2's second block at 224x224 fuses (96 channels of 112x112,
    // 4.8 MB), its third (144 of 56x56, 1.8 MB) and sixth (192 of 28x28, 0.6 MB) do not.
    let mobile = |cin: usize, expanded: usize, size: usize| {
        let case = Case {
            cin,
            expanded,
            input: [size, size],
            ..case
        };
        let (expand, depthwise) = case.layers(identity, 1);
        expand.fuses_with(&depthwise, [1, cin, size, size])
    };
    assert!(mobile(16, 96, 112));
    assert!(!mobile(24, 144, 56));
    assert!(!mobile(32, 192, 28));
}
