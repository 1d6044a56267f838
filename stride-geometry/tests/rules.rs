//! The geometry rules against hand-checked values and against a brute-force count of window
//! positions.

use proptest::prelude::*;
use stride_geometry::*;

#[test]
fn the_seed_table_of_output_sizes_holds() {
    // (input, kernel, padding, stride) -> output, from the seed document.
    for (input, kernel, padding, stride, output) in [
        (32, 3, 0, 1, 30),
        (32, 3, 1, 1, 32),
        (32, 3, 1, 2, 16),
        (224, 7, 3, 2, 112),
        (8, 3, 0, 3, 2),
    ] {
        let window = Window::new(kernel).padding(padding).stride(stride);
        assert_eq!(
            conv_output(input, window),
            Ok(output),
            "{window:?} on {input}"
        );
    }
    // 7x7 input, 3x3 filter, stride 2: positions 0, 2 and 4 on each axis.
    assert_eq!(conv_output(7, Window::new(3).stride(2)), Ok(3));
}

#[test]
fn conv_refuses_an_effective_kernel_larger_than_the_padded_input() {
    let window = Window::new(5).dilation(2); // effective kernel 9
    assert_eq!(
        conv_output(8, window),
        Err(GeometryError::ConvOutputBelowOne {
            input: 8,
            window,
            output: 0
        })
    );
    assert_eq!(conv_output(8, window.padding(1)), Ok(2));
}

#[test]
fn zero_kernel_stride_dilation_and_input_are_refused() {
    assert_eq!(
        conv_output(8, Window::new(0)),
        Err(GeometryError::Zero(Param::Kernel))
    );
    assert_eq!(
        conv_output(8, Window::new(3).stride(0)),
        Err(GeometryError::Zero(Param::Stride))
    );
    assert_eq!(
        conv_output(8, Window::new(3).dilation(0)),
        Err(GeometryError::Zero(Param::Dilation))
    );
    assert_eq!(
        conv_output(0, Window::new(1)),
        Err(GeometryError::Zero(Param::Input))
    );
    assert_eq!(
        pool_output(8, Window::new(0), false),
        Err(GeometryError::Zero(Param::Kernel))
    );
}

#[test]
fn asymmetric_padding_adds_each_side_once() {
    // 5 + 0 + 1 = 6 padded, kernel 2, stride 2 -> 3 (TensorFlow's SAME for 5 / 2).
    assert_eq!(conv_output(5, Window::new(2).stride(2).pads(0, 1)), Ok(3));
    assert_eq!(conv_output(5, Window::new(3).pads(2, 0)), Ok(5));
    assert_eq!(conv_output(5, Window::new(3).pads(0, 0)), Ok(3));
}

#[test]
fn same_upper_and_same_lower_give_ceil_of_input_over_stride_for_any_stride() {
    for input in 1..40 {
        for kernel in 1..8 {
            for stride in 1..5 {
                for dilation in 1..3 {
                    for mode in [Padding::SameUpper, Padding::SameLower] {
                        let pads = resolve_padding(mode, input, kernel, stride, dilation).unwrap();
                        let window =
                            pads.apply(Window::new(kernel).stride(stride).dilation(dilation));
                        assert_eq!(
                            conv_output(input, window),
                            Ok(input.div_ceil(stride)),
                            "{mode:?} {window:?} on {input}"
                        );
                        assert!(pads.end.abs_diff(pads.begin) <= 1);
                    }
                }
            }
        }
    }
}

#[test]
fn same_upper_puts_the_odd_pad_after_and_same_lower_before() {
    // TensorFlow's example: input 13, kernel 6, stride 5 -> output 3, total pad 3.
    assert_eq!(
        resolve_padding(Padding::SameUpper, 13, 6, 5, 1),
        Ok(Pads { begin: 1, end: 2 })
    );
    assert_eq!(
        resolve_padding(Padding::SameLower, 13, 6, 5, 1),
        Ok(Pads { begin: 2, end: 1 })
    );
    // A stride that already covers the input needs no padding: 8 / 2, kernel 1.
    assert_eq!(
        resolve_padding(Padding::SameUpper, 8, 1, 2, 1),
        Ok(Pads { begin: 0, end: 0 })
    );
}

#[test]
fn pytorch_same_keeps_the_size_and_refuses_a_stride() {
    // Kernel 4, dilation 2: total pad 6, split 3/3; kernel 4, dilation 1: total 3, split 1/2.
    assert_eq!(
        resolve_padding(Padding::Same, 10, 4, 1, 2),
        Ok(Pads { begin: 3, end: 3 })
    );
    assert_eq!(
        resolve_padding(Padding::Same, 10, 4, 1, 1),
        Ok(Pads { begin: 1, end: 2 })
    );
    assert_eq!(
        resolve_padding(Padding::Same, 10, 3, 2, 1),
        Err(GeometryError::SameWithStride { stride: 2 })
    );
    assert_eq!(
        resolve_padding(Padding::Valid, 10, 3, 2, 1),
        Ok(Pads { begin: 0, end: 0 })
    );
}

#[test]
fn max_pool_ceil_mode_drops_a_window_starting_in_the_right_padding() {
    // 4 + 2*1 padded, kernel 2, stride 3: ceil((6 - 2) / 3) + 1 = 3, but window 2 would start at
    // padded index 6 >= 4 + 1, entirely in the right padding, so PyTorch keeps 2.
    assert_eq!(
        pool_output(4, Window::new(2).stride(3).padding(1), true),
        Ok(2)
    );
    assert_eq!(
        pool_output(4, Window::new(2).stride(3).padding(1), false),
        Ok(2)
    );
    // Without padding the partial last window stays: 5, kernel 2, stride 2 -> 3.
    assert_eq!(pool_output(5, Window::new(2).stride(2), true), Ok(3));
}

#[test]
fn pool_padding_is_limited_to_half_the_effective_kernel_and_half_the_kernel() {
    assert_eq!(
        pool_output(10, Window::new(3).padding(2), false),
        Err(GeometryError::PoolPaddingAboveHalfEffectiveKernel {
            padding: 2,
            kernel: 3,
            dilation: 1,
            limit: 1
        })
    );
    // Dilation 2 makes the effective kernel 5 (limit 2), but max pooling also needs pad <= 3/2.
    assert_eq!(
        pool_output(10, Window::new(3).padding(2).dilation(2), false),
        Err(GeometryError::PoolPaddingAboveHalfKernel {
            padding: 2,
            kernel: 3,
            limit: 1
        })
    );
}

#[test]
fn transposed_output_padding_must_be_below_stride_or_dilation() {
    let axis = TransposedAxis::new(3).stride(2).output_padding(1);
    assert_eq!(axis.output(4), Ok(10));
    assert_eq!(
        axis.output_padding(2).output(4),
        Err(GeometryError::OutputPaddingTooLarge {
            output_padding: 2,
            stride: 2,
            dilation: 1
        })
    );
    // Stride 1 but dilation 3: output_padding 2 is allowed (smaller than the dilation).
    assert_eq!(
        TransposedAxis::new(3)
            .dilation(3)
            .output_padding(2)
            .output(4),
        Ok(12)
    );
}

#[test]
fn receptive_field_follows_the_seed_rule_with_the_effective_kernel() {
    // VGG block: two 3x3 convs then a 2x2/2 pool, then two more 3x3 convs.
    let conv = Window::new(3).padding(1);
    let pool = Window::new(2).stride(2);
    let mut field = Field::INPUT;
    let mut sizes = Vec::new();
    for window in [conv, conv, pool, conv, conv] {
        field = field.through(window).unwrap();
        sizes.push(field.size);
    }
    // r = 1 + 2 + 2 = 5, + 1 = 6, then each 3x3 adds 2 * jump 2 = 4: 10, 14.
    assert_eq!(sizes, [3, 5, 6, 10, 14]);
    assert_eq!(field.jump, 2);
    // A dilated 3x3 (effective 5) grows the field like a 5x5.
    let dilated = Field::INPUT.through(Window::new(3).dilation(2)).unwrap();
    assert_eq!(dilated, Field::INPUT.through(Window::new(5)).unwrap());
    // The start moves left by the padding times the jump before the layer.
    let after = Field {
        size: 5,
        jump: 4,
        start: -2,
    }
    .through(Window::new(3).padding(1))
    .unwrap();
    assert_eq!(
        after,
        Field {
            size: 13,
            jump: 4,
            start: -6
        }
    );
}

#[test]
fn parameter_and_mac_counts_match_hand_checked_layers() {
    // ResNet-18 conv1: 64*3*7*7 = 9,408 weights; 112*112 outputs of 147 taps each per channel.
    assert_eq!(conv2d_params(3, 64, 1, [7, 7], false), Ok(9_408));
    assert_eq!(
        conv2d_macs(3, 64, 1, [7, 7], [112, 112]),
        Ok(64 * 112 * 112 * 147)
    );
    // Depthwise 3x3 on 96 channels with bias: 96*1*9 + 96.
    assert_eq!(conv2d_params(96, 96, 96, [3, 3], true), Ok(960));
    assert_eq!(
        conv2d_macs(96, 96, 96, [3, 3], [112, 112]),
        Ok(96 * 112 * 112 * 9)
    );
    // DCGAN 128 -> 64, k4 s2 on a 32x32 input: every input element meets 64*16 weights.
    assert_eq!(
        conv_transpose2d_params(128, 64, 1, [4, 4], false),
        Ok(131_072)
    );
    assert_eq!(
        conv_transpose2d_macs(128, 64, 1, [4, 4], [32, 32]),
        Ok(128 * 32 * 32 * 64 * 16)
    );
    // Grouped transposed conv: 8 -> 4 in 2 groups keeps 8 * (4/2) * 3 * 3 weights.
    assert_eq!(conv_transpose2d_params(8, 4, 2, [3, 3], true), Ok(148));
    assert_eq!(linear_params(4096, 1000, true), Ok(4_097_000));
    assert_eq!(batch_norm2d_params(64), Ok(128));
    assert_eq!(
        conv2d_params(32, 48, 5, [3, 3], false),
        Err(GeometryError::GroupsDoNotDivide {
            groups: 5,
            channels: 32,
            side: Channels::In
        })
    );
    assert_eq!(
        conv2d_macs(usize::MAX, usize::MAX, 1, [3, 3], [9, 9]),
        Err(GeometryError::Overflow)
    );
}

/// Window positions counted one by one: a window is placed at `i*S` (in padded coordinates)
/// while it fits inside the padded input; with `ceil_mode`, also while the one before it left
/// part of the padded input uncovered, as long as it starts inside the input or the left pad.
fn brute_force_positions(input: usize, w: Window, ceil_mode: bool) -> usize {
    let padded = input + w.pad_begin + w.pad_end;
    let effective = w.dilation * (w.kernel - 1) + 1;
    let mut count = 0;
    for i in 0.. {
        let start = i * w.stride;
        let fits = start + effective <= padded;
        let previous_left_a_gap = start + effective < padded + w.stride;
        let starts_before_right_pad = start < input + w.pad_begin;
        if fits || (ceil_mode && previous_left_a_gap && starts_before_right_pad) {
            count += 1;
        } else {
            return count;
        }
    }
    unreachable!()
}

/// Transposed output size by scattering every input position through every kernel tap.
fn brute_force_transposed(input: usize, a: TransposedAxis) -> i64 {
    let mut last = i64::MIN;
    for i in 0..input {
        for k in 0..a.kernel {
            last = last.max((i * a.stride + k * a.dilation) as i64);
        }
    }
    last + 1 - 2 * a.padding as i64 + a.output_padding as i64
}

proptest! {
    #[test]
    fn conv_output_counts_every_window_that_fits(
        input in 1usize..64, kernel in 1usize..9, stride in 1usize..6, dilation in 1usize..4,
        pad_begin in 0usize..6, pad_end in 0usize..6,
    ) {
        let window = Window::new(kernel).stride(stride).dilation(dilation).pads(pad_begin, pad_end);
        match brute_force_positions(input, window, false) {
            0 => prop_assert!(matches!(conv_output(input, window), Err(GeometryError::ConvOutputBelowOne { .. })), "{:?}", conv_output(input, window)),
            n => prop_assert_eq!(conv_output(input, window), Ok(n)),
        }
    }

    #[test]
    fn floor_remainder_counts_the_padded_input_after_the_last_window(
        input in 1usize..64, kernel in 1usize..9, stride in 1usize..6, dilation in 1usize..4,
        pad_begin in 0usize..6, pad_end in 0usize..6,
    ) {
        let window = Window::new(kernel).stride(stride).dilation(dilation).pads(pad_begin, pad_end);
        let padded = input + pad_begin + pad_end;
        let effective = dilation * (kernel - 1) + 1;
        let expected = match brute_force_positions(input, window, false) {
            0 => 0,
            n => padded - ((n - 1) * stride + effective),
        };
        prop_assert_eq!(floor_remainder(input, window), expected);
    }

    #[test]
    fn pool_output_counts_every_window_pytorch_places(
        input in 1usize..64, kernel in 1usize..9, stride in 1usize..6, dilation in 1usize..4,
        padding in 0usize..5, ceil_mode: bool,
    ) {
        let window = Window::new(kernel).stride(stride).dilation(dilation).padding(padding);
        let result = pool_output(input, window, ceil_mode);
        if padding > kernel / 2 {
            prop_assert!(result.is_err());
        } else {
            match brute_force_positions(input, window, ceil_mode) {
                0 => prop_assert!(matches!(result, Err(GeometryError::PoolOutputBelowOne { .. })), "{:?}", result),
                n => prop_assert_eq!(result, Ok(n)),
            }
        }
    }

    #[test]
    fn transposed_output_is_the_extent_of_the_scattered_input(
        input in 1usize..40, kernel in 1usize..8, stride in 1usize..5, dilation in 1usize..4,
        padding in 0usize..6, output_padding in 0usize..4,
    ) {
        let axis = TransposedAxis::new(kernel).stride(stride).dilation(dilation)
            .padding(padding).output_padding(output_padding);
        let result = axis.output(input);
        if output_padding >= stride && output_padding >= dilation {
            prop_assert!(matches!(result, Err(GeometryError::OutputPaddingTooLarge { .. })), "{:?}", result);
        } else {
            match brute_force_transposed(input, axis) {
                n if n < 1 => prop_assert!(matches!(result, Err(GeometryError::TransposedOutputBelowOne { .. })), "{:?}", result),
                n => prop_assert_eq!(result, Ok(n as usize)),
            }
        }
    }

    #[test]
    fn smallest_padding_is_the_least_symmetric_padding_with_a_window(
        input in 1usize..40, kernel in 1usize..12, stride in 1usize..5, dilation in 1usize..5,
    ) {
        let window = Window::new(kernel).stride(stride).dilation(dilation);
        let least = (0..64)
            .find(|&p| brute_force_positions(input, window.padding(p), false) > 0)
            .unwrap();
        prop_assert_eq!(smallest_padding(input, window), Some(least));
    }

    #[test]
    fn checkerboard_free_kernel_is_the_least_multiple_of_the_stride_not_below_the_kernel(
        kernel in 1usize..40, stride in 1usize..9,
    ) {
        let least = (kernel..).find(|k| k % stride == 0).unwrap();
        prop_assert_eq!(checkerboard_free_kernel(kernel, stride), Some(least));
    }

    #[test]
    fn a_join_of_two_fields_is_the_wider_when_they_step_alike(
        k1 in 1usize..9, k2 in 1usize..9, s1 in 1usize..4, s2 in 1usize..4,
    ) {
        let a = Field::INPUT.through(Window::new(k1).stride(s1)).unwrap();
        let b = Field::INPUT.through(Window::new(k2).stride(s2)).unwrap();
        let joined = a.join(b);
        if s1 == s2 {
            let joined = joined.unwrap();
            prop_assert_eq!(joined.size, k1.max(k2));
            prop_assert_eq!(joined.jump, s1);
        } else {
            prop_assert_eq!(joined, None);
        }
    }
}

#[test]
fn weight_shapes_are_pytorchs_layouts() {
    assert_eq!(conv2d_weight_shape(64, 128, 1, [3, 3]), Ok([128, 64, 3, 3]));
    assert_eq!(conv2d_weight_shape(96, 96, 96, [5, 5]), Ok([96, 1, 5, 5]));
    assert_eq!(
        conv2d_weight_shape(512, 512, 32, [3, 3]),
        Ok([512, 16, 3, 3])
    );
    assert_eq!(
        conv_transpose2d_weight_shape(128, 64, 2, [4, 4]),
        Ok([128, 32, 4, 4])
    );
    assert_eq!(linear_weight_shape(2048, 1000), [1000, 2048]);
    assert!(matches!(
        conv2d_weight_shape(30, 64, 4, [3, 3]),
        Err(GeometryError::GroupsDoNotDivide { .. })
    ));
}
