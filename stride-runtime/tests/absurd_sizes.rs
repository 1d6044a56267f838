//! Every public op whose output size the caller's parameters decide refuses an output too large
//! to allocate with an [`Error`], instead of panicking (ndarray's shape check, `Vec`'s capacity
//! overflow) or aborting (an allocation that fails). The inputs are small, or empty, or
//! zero-stride views of one value, so nothing here allocates much. (`concat_channels` checks
//! its result the same way in the rewrite that takes views, on `main`.)

use ndarray::{Array1, Array2, Array4, ArrayView2, ArrayView4, ShapeBuilder};
use stride_runtime::ops::{
    AvgPool2dParams, Conv2d, Conv2dParams, ConvTranspose2d, ConvTranspose2dParams, Linear,
    MaxPool2dParams, UpsampleParams, adaptive_avg_pool2d, avg_pool2d, conv_transpose2d, conv2d,
    global_avg_pool2d, linear, max_pool2d, upsample,
};
use stride_runtime::{Error, Hw};

/// Asserts that `result` is the refusal of an output too large to allocate, naming `op`.
#[track_caller]
fn assert_output_refused<T: std::fmt::Debug>(result: Result<T, Error>, op: &str) {
    match result {
        Err(Error::Shape {
            op: got,
            tensor: "output",
            ..
        }) => assert_eq!(got, op),
        other => panic!("{op}: expected an output refusal, got {other:?}"),
    }
}

/// An NCHW input with no samples but `channels` channels of `h x w`: no values, any size.
fn empty_batch(channels: usize, h: usize, w: usize) -> ArrayView4<'static, f32> {
    ArrayView4::from_shape((0, channels, h, w), &[]).expect("an empty view")
}

#[test]
fn adaptive_avg_pool_refuses_an_output_size_too_large_to_allocate() {
    let x = Array4::<f32>::ones((1, 1, 4, 4));
    // Overflows: usize::MAX / 2 * 3 values.
    let huge = adaptive_avg_pool2d(x.view(), Hw([usize::MAX / 2, 3]));
    assert_output_refused(huge, "adaptive_avg_pool2d");
    // Fits in usize but not in memory: 2^62 values are 2^64 bytes.
    let huge = adaptive_avg_pool2d(x.view(), Hw([1 << 62, 1]));
    assert_output_refused(huge, "adaptive_avg_pool2d");
}

#[test]
fn global_avg_pool_never_outgrows_its_input() {
    // Its output is [N, C, 1, 1], never larger than an input that exists: even a batch of
    // none with 2^61 channels gives an empty output, not a refusal or a panic.
    let x = empty_batch(1 << 61, 1, 1);
    let y = global_avg_pool2d(x).expect("an output no larger than the input");
    assert_eq!(y.shape(), &[0, 1 << 61, 1, 1]);
}

#[test]
fn max_and_avg_pool_refuse_an_output_too_large_to_allocate() {
    // Padding makes the output larger than the input: 2^61 channels of 2x2 out of 1x1, 2^63
    // values, which ndarray refuses to shape even with no sample. (Both pools, dilated or
    // not, share the check; a dilated window never makes the output larger.)
    let x = empty_batch(1 << 61, 1, 1);
    let max = max_pool2d(x, &MaxPool2dParams::new(2).stride(1).padding(1));
    assert_output_refused(max, "max_pool2d");
    let avg = avg_pool2d(x, &AvgPool2dParams::new(2).stride(1).padding(1));
    assert_output_refused(avg, "avg_pool2d");
}

#[test]
fn nearest_and_bilinear_upsample_refuse_an_output_too_large_to_allocate() {
    let x = Array4::<f32>::ones((1, 1, 4, 4));
    for mode in [UpsampleParams::nearest, UpsampleParams::bilinear] {
        // A huge scale: 2^33 x 2^33 values.
        let scaled = upsample(x.view(), &mode(UpsampleParams::scale(1 << 31)));
        assert_output_refused(scaled, "upsample");
        // A huge size: usize::MAX / 2 x 3 values.
        let sized = upsample(x.view(), &mode(UpsampleParams::size((usize::MAX / 2, 3))));
        assert_output_refused(sized, "upsample");
    }
}

#[test]
fn conv2d_refuses_an_output_too_large_to_allocate() {
    // Padding 2^30 on a 1x1 input: 2^31 x 2^31 outputs, 2^62 values.
    let params = Conv2dParams::default().padding(1 << 30);
    let (x, w) = (
        Array4::<f32>::ones((1, 1, 1, 1)),
        Array4::<f32>::ones((1, 1, 1, 1)),
    );
    assert_output_refused(conv2d(x.view(), w.view(), None, &params), "conv2d");
    let layer = Conv2d::new(w, None, params).expect("a valid layer");
    assert_output_refused(layer.forward(x.view()), "conv2d");
}

#[test]
fn conv_transpose2d_refuses_an_output_too_large_to_allocate() {
    // Stride 2^31 on a 2x2 input: 2^31 + 1 outputs per axis.
    let params = ConvTranspose2dParams::default().stride(1 << 31);
    let (x, w) = (
        Array4::<f32>::ones((1, 1, 2, 2)),
        Array4::<f32>::ones((1, 1, 1, 1)),
    );
    let free = conv_transpose2d(x.view(), w.view(), None, &params);
    assert_output_refused(free, "conv_transpose2d");
    let layer = ConvTranspose2d::new(w, None, params).expect("a valid layer");
    assert_output_refused(layer.forward(x.view()), "conv_transpose2d");
}

#[test]
fn a_transposed_layer_with_an_absurd_stride_is_built_and_runs_where_its_output_fits() {
    // On a 1x1 input the stride never shows: the output is the kernel, 2x2.
    let params = ConvTranspose2dParams::default().stride((1 << 31, usize::MAX / 2));
    let w = Array4::from_shape_vec((1, 1, 2, 2), vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
    let layer = ConvTranspose2d::new(w, Some(Array1::from_elem(1, 0.5)), params).unwrap();
    let y = layer
        .forward(Array4::from_elem((1, 1, 1, 1), 2.0f32).view())
        .unwrap();
    assert_eq!(y.into_raw_vec_and_offset().0, [2.5, 4.5, 6.5, 8.5]);
}

#[test]
fn linear_refuses_an_output_too_large_to_allocate() {
    // 2^61 rows of one feature (a zero-stride view of one value) into 4 features: 2^63 values.
    let one = [1.0f32];
    let x = ArrayView2::from_shape((1 << 61, 1).strides((0, 0)), &one).expect("a broadcast view");
    let w = Array2::<f32>::ones((4, 1));
    assert_output_refused(linear(x, w.view(), None), "linear");
    let layer = Linear::new(w, Some(Array1::zeros(4))).expect("a valid layer");
    assert_output_refused(layer.forward(x), "linear");
}
