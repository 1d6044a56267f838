//! Every rule on the values at the edge of `usize` (0, 1, 2^32, 2^63, `usize::MAX`, and
//! neighbours): none panics or wraps around. The rules are `const fn`s the macro runs on any
//! literal a user writes and the runtime on any size it is given; a test build checks
//! overflow, so a wrapping sum would panic here.

use stride_geometry::*;

const EDGES: [usize; 9] = [
    0,
    1,
    2,
    3,
    1 << 32,
    (1 << 63) - 1,
    1 << 63,
    usize::MAX - 1,
    usize::MAX,
];

#[test]
fn window_rules_take_any_values_without_panicking() {
    for &input in &EDGES {
        for &kernel in &EDGES {
            for &stride in &EDGES {
                for &pad in &EDGES {
                    for &dilation in &EDGES {
                        let window = Window::new(kernel)
                            .stride(stride)
                            .padding(pad)
                            .dilation(dilation);
                        let _ = window.effective_kernel();
                        let _ = conv_output(input, window);
                        let _ = pool_output(input, window, false);
                        let _ = pool_output(input, window, true);
                        let _ = window.check_pool_padding();
                        let _ = floor_remainder(input, window);
                        let _ = smallest_padding(input, window);
                        for padding in [
                            Padding::symmetric(pad),
                            Padding::Same,
                            Padding::SameUpper,
                            Padding::SameLower,
                            Padding::Valid,
                        ] {
                            let _ = resolve_padding(padding, input, kernel, stride, dilation);
                        }
                        let axis = TransposedAxis::new(kernel)
                            .stride(stride)
                            .padding(pad)
                            .dilation(dilation)
                            .output_padding(pad);
                        let _ = axis.check();
                        let _ = axis.output(input);
                        let _ = conv_transpose_output(input, axis);
                    }
                }
            }
        }
    }
}

#[test]
fn counts_and_shapes_take_any_values_without_panicking() {
    for &a in &EDGES {
        for &b in &EDGES {
            for &g in &EDGES {
                for &k in &EDGES {
                    let _ = check_groups(a, b, g);
                    let _ = conv2d_params(a, b, g, [k, k], true);
                    let _ = conv2d_macs(a, b, g, [k, k], [a, b]);
                    let _ = conv_transpose2d_params(a, b, g, [k, k], true);
                    let _ = conv_transpose2d_macs(a, b, g, [k, k], [a, b]);
                    let _ = conv2d_weight_shape(a, b, g, [k, k]);
                    let _ = conv_transpose2d_weight_shape(a, b, g, [k, k]);
                }
            }
            let _ = linear_params(a, b, true);
            let _ = linear_macs(a, b);
            let _ = linear_weight_shape(a, b);
            let _ = upsample_output(a, b);
            let _ = adaptive_bin(a, b, a);
            let _ = adaptive_bin(a, b, b.saturating_sub(1));
            let _ = checkerboard_free_kernel(a, b);
        }
        let _ = batch_norm2d_params(a);
    }
}

#[test]
fn fields_take_any_values_without_panicking() {
    for &kernel in &EDGES {
        for &stride in &EDGES {
            let window = Window::new(kernel).stride(stride);
            let mut field = Field::INPUT;
            for _ in 0..4 {
                match field.through(window) {
                    Ok(next) => field = next,
                    Err(_) => break,
                }
            }
            let _ = field.join(Field::INPUT);
        }
    }
}
