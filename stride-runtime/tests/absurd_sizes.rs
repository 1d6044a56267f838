//! Every public op whose output size the caller's parameters or input decide refuses an output
//! it cannot allocate with [`Error::TooLarge`], instead of panicking (ndarray's shape check,
//! `Vec`'s capacity overflow) or aborting (`memory allocation of … bytes failed`), and a layer
//! whose parameters are absurd but whose output is small is built and runs.
//!
//! Two kinds of refusal (the bound is in `stride_runtime`'s crate docs): a size above
//! `isize::MAX` bytes, refused by arithmetic; and a size below it that the system refuses to
//! allocate, 4 TiB and more here. The latter relies on the operating system refusing a single
//! allocation larger than its memory, as Linux's default overcommit heuristic, macOS and
//! Windows do; under `vm.overcommit_memory = 1` it would be granted, and the test killed when
//! the kernel writes it.
//!
//! The inputs are small, or empty, or broadcast views (zero strides over one value), so
//! nothing here allocates much.

use ndarray::{Array1, Array2, Array4, ArrayView2, ArrayView4, ShapeBuilder};
use stride_runtime::ops::{
    Activation, AvgPool2dParams, BatchNorm2d, Conv2d, Conv2dParams, ConvTranspose2d,
    ConvTranspose2dParams, LayerNorm2d, LayerScale, Linear, MaxPool2dParams, UpsampleParams,
    adaptive_avg_pool2d, add, avg_pool2d, concat_channels, conv_transpose2d, conv2d, flatten,
    global_avg_pool2d, linear, max_pool2d, relu, scale_channels, upsample,
};
use stride_runtime::{Error, Hw};

/// Asserts that `result` refuses a `tensor` of `op` as too large: above `isize::MAX` bytes
/// (`refused` false) or refused by the system (`refused` true).
#[track_caller]
fn assert_too_large<T: std::fmt::Debug>(
    result: Result<T, Error>,
    op: &str,
    tensor: &str,
    refused: bool,
) {
    match result {
        Err(Error::TooLarge {
            op: got_op,
            tensor: got_tensor,
            refused: got_refused,
            ..
        }) => assert_eq!(
            (got_op, got_tensor, got_refused),
            (op, tensor, refused),
            "{op}"
        ),
        other => panic!("{op}: expected {tensor} to be refused as too large, got {other:?}"),
    }
}

/// An NCHW input with no samples but `channels` channels of `h x w`: no values, any size.
fn empty_batch(channels: usize, h: usize, w: usize) -> ArrayView4<'static, f32> {
    ArrayView4::from_shape((0, channels, h, w), &[]).expect("an empty view")
}

/// A broadcast view of one value as `shape`: far more elements than memory, none stored.
fn broadcast(shape: (usize, usize, usize, usize)) -> ArrayView4<'static, f32> {
    static ONE: [f32; 1] = [1.0];
    ArrayView4::from_shape(shape.strides((0, 0, 0, 0)), &ONE).expect("a broadcast view")
}

fn ones_4x4() -> Array4<f32> {
    Array4::ones((1, 1, 4, 4))
}

#[test]
fn adaptive_avg_pool_refuses_an_output_size_too_large_to_allocate() {
    let x = ones_4x4();
    // Overflows: usize::MAX / 2 * 3 values.
    let huge = adaptive_avg_pool2d(x.view(), Hw([usize::MAX / 2, 3]));
    assert_too_large(huge, "adaptive_avg_pool2d", "output", false);
    // Fits in usize but not in an allocation: 2^62 values are 2^64 bytes.
    let huge = adaptive_avg_pool2d(x.view(), Hw([1 << 62, 1]));
    assert_too_large(huge, "adaptive_avg_pool2d", "output", false);
    // Within isize::MAX, but 4 TiB (it aborted the process before).
    let huge = adaptive_avg_pool2d(x.view(), Hw([1 << 40, 1]));
    assert_too_large(huge, "adaptive_avg_pool2d", "output", true);
    let huge = adaptive_avg_pool2d(x.view(), Hw([1 << 20, 1 << 20]));
    assert_too_large(huge, "adaptive_avg_pool2d", "output", true);
}

#[test]
fn pools_to_a_huge_size_of_an_empty_batch_give_an_empty_output_without_tables() {
    // No value to compute: the output is empty, and the window tables (one entry per output
    // row, 2^40 here) are not made.
    let y = adaptive_avg_pool2d(empty_batch(3, 4, 4), Hw([1 << 40, 2])).unwrap();
    assert_eq!(y.shape(), &[0, 3, 1 << 40, 2]);
    let up = upsample(empty_batch(3, 4, 4), &UpsampleParams::size((1 << 40, 2))).unwrap();
    assert_eq!(up.shape(), &[0, 3, 1 << 40, 2]);
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
    assert_too_large(max, "max_pool2d", "output", false);
    let avg = avg_pool2d(x, &AvgPool2dParams::new(2).stride(1).padding(1));
    assert_too_large(avg, "avg_pool2d", "output", false);
}

#[test]
fn pools_with_a_huge_kernel_and_half_as_much_padding_run_on_the_taps_over_the_input() {
    // PyTorch allows padding up to half the kernel, so a kernel of 2^31 (or 2^40, or
    // usize::MAX) over a 4x4 input gives a 5x5 output (4x4 for the odd kernel) whose windows
    // all hold the whole input. The padded row the separable kernels use would be as long
    // as the kernel (an 8 GiB scratch and 27 s for 2^31; a capacity overflow for
    // usize::MAX; an abort for 2^40).
    let x = Array4::from_shape_fn((1, 2, 4, 4), |(_, c, h, w)| (c * 16 + h * 4 + w) as f32);
    for kernel in [1usize << 31, 1 << 40, usize::MAX] {
        let pad = kernel / 2;
        let side = if kernel % 2 == 0 { 5 } else { 4 };
        let plane = side * side;
        let max = max_pool2d(
            x.view(),
            &MaxPool2dParams::new(kernel).stride(1).padding(pad),
        );
        let max = max.unwrap();
        assert_eq!(max.shape(), &[1, 2, side, side]);
        assert!(max.iter().take(plane).all(|&v| v == 15.0), "{kernel}");
        assert!(max.iter().skip(plane).all(|&v| v == 31.0), "{kernel}");
        let params = AvgPool2dParams::new(kernel).stride(1).padding(pad);
        let mean = avg_pool2d(x.view(), &params.count_include_pad(false)).unwrap();
        assert!(mean.iter().take(plane).all(|&v| v == 7.5), "{kernel}");
        assert!(mean.iter().skip(plane).all(|&v| v == 23.5), "{kernel}");
        // Divided by the padded window, about kernel² taps: the sums vanish.
        let padded = avg_pool2d(x.view(), &params).unwrap();
        assert_eq!(padded.shape(), &[1, 2, side, side]);
        assert!(
            padded.iter().all(|&v| (0.0..1e-15).contains(&v)),
            "{kernel}"
        );
    }
}

#[test]
fn nearest_and_bilinear_upsample_refuse_an_output_too_large_to_allocate() {
    let x = ones_4x4();
    for mode in [UpsampleParams::nearest, UpsampleParams::bilinear] {
        // A huge scale: 2^33 x 2^33 values, 2^68 bytes.
        let scaled = upsample(x.view(), &mode(UpsampleParams::scale(1 << 31)));
        assert_too_large(scaled, "upsample", "output", false);
        // Scale 2^20: 2^22 x 2^22 values, 64 TiB (it aborted the process before).
        let scaled = upsample(x.view(), &mode(UpsampleParams::scale(1 << 20)));
        assert_too_large(scaled, "upsample", "output", true);
        // A huge size: usize::MAX / 2 x 3 values.
        let sized = upsample(x.view(), &mode(UpsampleParams::size((usize::MAX / 2, 3))));
        assert_too_large(sized, "upsample", "output", false);
    }
}

#[test]
fn conv2d_refuses_an_output_too_large_to_allocate() {
    let (x, w) = (ones_4x4(), Array4::<f32>::ones((1, 1, 3, 3)));
    // Padding 2^30: 2^31 x 2^31 outputs, 2^64 bytes.
    // Padding 2^20 on the 4x4 input: 16 TiB (it aborted the process before).
    for (padding, refused) in [(1 << 30, false), (1 << 20, true)] {
        let params = Conv2dParams::default().padding(padding);
        let free = conv2d(x.view(), w.view(), None, &params);
        assert_too_large(free, "conv2d", "output", refused);
        let layer = Conv2d::new(w.clone(), None, params).expect("a valid layer");
        assert_too_large(layer.forward(x.view()), "conv2d", "output", refused);
    }
}

#[test]
fn conv_transpose2d_refuses_an_output_too_large_to_allocate() {
    let (x, w) = (
        Array4::<f32>::ones((1, 1, 2, 2)),
        Array4::<f32>::ones((1, 1, 3, 3)),
    );
    // Stride 2^31 on a 2x2 input: 2^31 + 3 outputs per axis, 2^64 bytes and more.
    // Stride 2^20: 2^20 + 3 per axis, 4 TiB (it aborted the process before).
    for (stride, refused) in [(1 << 31, false), (1 << 20, true)] {
        let params = ConvTranspose2dParams::default().stride(stride);
        let free = conv_transpose2d(x.view(), w.view(), None, &params);
        assert_too_large(free, "conv_transpose2d", "output", refused);
        let layer = ConvTranspose2d::new(w.clone(), None, params).expect("a valid layer");
        assert_too_large(
            layer.forward(x.view()),
            "conv_transpose2d",
            "output",
            refused,
        );
    }
}

#[test]
fn a_transposed_layer_with_an_absurd_stride_is_built_and_runs_where_its_output_fits() {
    // `ConvTranspose2d::new` with stride usize::MAX panicked (a capacity overflow packing
    // one matrix per output phase). On a 1x1 input the stride never shows: the output is the
    // kernel.
    for stride in [
        (1 << 31, usize::MAX / 2),
        (usize::MAX, usize::MAX),
        (4096, 4096),
    ] {
        let params = ConvTranspose2dParams::default().stride(stride);
        let w = Array4::from_shape_vec((1, 1, 2, 2), vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
        let layer = ConvTranspose2d::new(w, Some(Array1::from_elem(1, 0.5)), params).unwrap();
        let y = layer
            .forward(Array4::from_elem((1, 1, 1, 1), 2.0f32).view())
            .unwrap();
        assert_eq!(y.into_raw_vec_and_offset().0, [2.5, 4.5, 6.5, 8.5]);
    }
}

/// Asserts that `result` is `op`'s refusal by its size arithmetic ([`Error::Geometry`]).
#[track_caller]
fn assert_geometry<T: std::fmt::Debug>(result: Result<T, Error>, op: &str, case: &str) {
    match result {
        Err(Error::Geometry { op: got, .. }) => assert_eq!(got, op, "{case}"),
        other => panic!("{case}: expected a geometry error from {op}, got {other:?}"),
    }
}

#[test]
fn parameters_that_overflow_the_size_arithmetic_are_geometry_errors_naming_the_op() {
    // The panics were of this kind: a transposed stride of usize::MAX, pools with a
    // huge kernel or padding. Where the output's size itself cannot be computed, or comes out
    // below 1, the op refuses with the rule that failed, before it allocates anything. A
    // transposed layer is still built, since its parameters only meet a size with the input.
    let (x, w) = (ones_4x4(), Array4::<f32>::ones((1, 1, 3, 3)));
    let max = usize::MAX;
    let transposed = [
        ("stride", ConvTranspose2dParams::default().stride(max)),
        ("dilation", ConvTranspose2dParams::default().dilation(max)),
        (
            "output padding",
            ConvTranspose2dParams::default()
                .stride(max / 2)
                .output_padding(max / 2 - 1),
        ),
    ];
    for (case, params) in transposed {
        let free = conv_transpose2d(x.view(), w.view(), None, &params);
        assert_geometry(free, "conv_transpose2d", case);
        let layer = ConvTranspose2d::new(w.clone(), None, params).expect("a valid layer");
        assert_geometry(layer.forward(x.view()), "conv_transpose2d", case);
    }
    for (case, params) in [
        ("padding", Conv2dParams::default().padding(max)),
        ("dilation", Conv2dParams::default().dilation(max)),
    ] {
        assert_geometry(conv2d(x.view(), w.view(), None, &params), "conv2d", case);
        // The layer refuses when it is built (a dilated kernel wider than usize) or run.
        let layer = Conv2d::new(w.clone(), None, params).and_then(|l| l.forward(x.view()));
        assert_geometry(layer, "conv2d", case);
    }
    for huge in [1 << 31, 1 << 62, max] {
        // A kernel larger than the input, with no padding to make room: no window fits.
        let max_pool = max_pool2d(x.view(), &MaxPool2dParams::new(huge));
        assert_geometry(max_pool, "max_pool2d", "kernel");
        let avg_pool = avg_pool2d(x.view(), &AvgPool2dParams::new(huge));
        assert_geometry(avg_pool, "avg_pool2d", "kernel");
        // Padding above half the kernel, which PyTorch refuses too.
        let max_pool = max_pool2d(x.view(), &MaxPool2dParams::new(3).padding(huge));
        assert_geometry(max_pool, "max_pool2d", "padding");
        let avg_pool = avg_pool2d(x.view(), &AvgPool2dParams::new(3).padding(huge));
        assert_geometry(avg_pool, "avg_pool2d", "padding");
        // A dilated window wider than the input (or than usize).
        let max_pool = max_pool2d(x.view(), &MaxPool2dParams::new(2).dilation(huge));
        assert_geometry(max_pool, "max_pool2d", "dilation");
    }
    // A stride as large as usize: one window, at the start.
    let pool = MaxPool2dParams::new(2).stride(max).ceil_mode(true);
    assert_eq!(max_pool2d(x.view(), &pool).unwrap().dim(), (1, 1, 1, 1));
}

#[test]
fn linear_refuses_an_output_too_large_to_allocate() {
    // 2^61 rows of one feature (a zero-stride view of one value) into 4 features: 2^63 values.
    let one = [1.0f32];
    let x = ArrayView2::from_shape((1 << 61, 1).strides((0, 0)), &one).expect("a broadcast view");
    let w = Array2::<f32>::ones((4, 1));
    assert_too_large(linear(x, w.view(), None), "linear", "output", false);
    let layer = Linear::new(w, Some(Array1::zeros(4))).expect("a valid layer");
    assert_too_large(layer.forward(x), "linear", "output", false);
    // 2^40 rows: 16 TiB.
    let x = ArrayView2::from_shape((1 << 40, 1).strides((0, 0)), &one).unwrap();
    assert_too_large(layer.forward(x), "linear", "output", true);
}

#[test]
fn ops_whose_output_is_their_inputs_size_refuse_a_broadcast_view_larger_than_memory() {
    // 2^61 values, 2^63 bytes: above isize::MAX.
    let huge = broadcast((1 << 30, 1, 1 << 30, 2));
    // 2^40 values, 4 TiB: refused by the system.
    let large = broadcast((1 << 20, 1, 1 << 20, 1));
    for (x, refused) in [(huge, false), (large, true)] {
        assert_too_large(relu(x), "relu", "output", refused);
        let gelu = Activation::Gelu.map(x);
        assert_too_large(gelu, "gelu", "output", refused);
        assert_too_large(flatten(x), "flatten", "output", refused);
        assert_too_large(add(x, x), "add", "output", refused);
        let (mean, var) = (Array1::zeros(1), Array1::ones(1));
        let bn = BatchNorm2d::new(mean.view(), var.view(), None, None, 1e-5).unwrap();
        assert_too_large(bn.forward(x), "batch_norm2d", "output", refused);
        let norm = LayerNorm2d::new(Array1::ones(1), Array1::zeros(1), 1e-6).unwrap();
        assert_too_large(norm.forward(x), "layer_norm2d", "output", refused);
        let scale = LayerScale::new(Array1::ones(1)).unwrap();
        assert_too_large(scale.forward(x), "layer_scale", "output", refused);
        let (n, c, _, _) = x.dim();
        let gate = broadcast((n, c, 1, 1));
        let scaled = scale_channels(x, gate);
        assert_too_large(scaled, "scale_channels", "output", refused);
    }
    let joined = concat_channels(&[large, large]);
    assert_too_large(joined, "concat", "output", true);
    let joined = concat_channels(&[huge, huge]);
    assert_too_large(joined, "concat", "output", false);
}

#[test]
fn a_conv_or_pool_refuses_to_copy_a_broadcast_input_larger_than_memory() {
    // The output is small (a stride as large as the input), but the kernels read a copy of
    // the input in standard layout: 2^20 x 2^20 values, 4 TiB.
    let x = broadcast((1, 1, 1 << 20, 1 << 20));
    let w = Array4::<f32>::ones((1, 1, 1, 1));
    let params = Conv2dParams::default().stride(1 << 20);
    let y = conv2d(x, w.view(), None, &params);
    assert_too_large(y, "conv2d", "input copy", true);
    let pool = MaxPool2dParams::new(1 << 20);
    assert_too_large(max_pool2d(x, &pool), "max_pool2d", "input copy", true);
}

#[test]
fn a_refusal_names_the_op_the_tensor_its_shape_and_the_limit() {
    let x = ones_4x4();
    let err = adaptive_avg_pool2d(x.view(), Hw([1 << 62, 1])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "adaptive_avg_pool2d: output of shape [1, 1, 4611686018427387904, 1] is too large: \
         18446744073709551616 bytes, above isize::MAX (9223372036854775807), the most one \
         allocation can hold"
    );
    let err = upsample(x.view(), &UpsampleParams::scale(1 << 20)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "upsample: output of shape [1, 1, 4194304, 4194304] needs 70368744177664 bytes, which \
         the system refused to allocate"
    );
}
