//! The geometry of stride: every output-size, padding, receptive-field and cost rule, once.
//!
//! The `network!` macro calls these functions at expansion time and the runtime calls them for
//! dynamic shapes, so there is exactly one copy of each formula. Everything is a `const fn`
//! returning `Result<_, GeometryError>`, and every refusal is its own error variant carrying the
//! numbers that caused it, so a caller can word the message.
//!
//! The rules are PyTorch's, checked against PyTorch on 1,500 cases (`tests/golden/geometry.json`):
//!
//! ```text
//! conv, pool:     O = floor((W + Pb + Pe - D*(K-1) - 1) / S) + 1       (ceil for ceil_mode pools)
//! transposed:     O = (W - 1)*S - Pb - Pe + D*(K-1) + output_padding + 1
//! ```
//!
//! All functions work on one spatial axis; a 2-D layer applies them to height and width, whose
//! parameters may differ.
//!
//! ```
//! use stride_geometry::{conv_output, Window};
//!
//! // ResNet's stem: 224 -> 112 with a 7x7 kernel, stride 2, padding 3.
//! let window = Window::new(7).stride(2).padding(3);
//! assert_eq!(conv_output(224, window), Ok(112));
//! ```
#![no_std]

mod adaptive;
mod count;
mod error;
mod field;
mod flow;
mod padding;
mod tensors;
mod text;
mod transpose;
mod window;

pub use adaptive::adaptive_bin;
pub use count::{
    batch_norm2d_params, check_groups, conv_transpose2d_macs, conv_transpose2d_params, conv2d_macs,
    conv2d_params, linear_macs, linear_params,
};
pub use error::{Channels, GeometryError, Param};

pub use field::Field;
pub use flow::{AxisRule, FlowError, FlowOp, MAX_DEPTH, Rounding, Tweak, run_flow};
pub use padding::{Padding, Pads, resolve_padding};
pub use tensors::{
    conv_transpose2d_weight_shape, conv2d_weight_shape, linear_weight_shape, tensor_key_separator,
};
pub use text::{Text, axis_name, describe, explain};
pub use transpose::{TransposedAxis, checkerboard_free_kernel, conv_transpose_output};
pub use window::{
    Window, check_pool_padding_2d, conv_output, floor_remainder, pool_output, smallest_padding,
};

/// Output size of an upsampling along one axis by an integer `scale`: `O = W * scale`.
///
/// Refuses a zero input or scale, and a size that does not fit in `usize`.
///
/// ```
/// use stride_geometry::upsample_output;
///
/// assert_eq!(upsample_output(28, 2), Ok(56));
/// assert!(upsample_output(28, 0).is_err());
/// ```
pub const fn upsample_output(input: usize, scale: usize) -> Result<usize, GeometryError> {
    if input == 0 {
        return Err(GeometryError::Zero(Param::Input));
    }
    if scale == 0 {
        return Err(GeometryError::Zero(Param::Scale));
    }
    match input.checked_mul(scale) {
        Some(output) => Ok(output),
        None => Err(GeometryError::Overflow),
    }
}

/// `a` converted to `i128`, in which no sum or product of two `usize`s can overflow.
pub(crate) const fn wide(a: usize) -> i128 {
    a as i128
}

/// A non-negative `i128` result back as `usize`, or [`GeometryError::Overflow`].
pub(crate) const fn narrow(value: i128) -> Result<usize, GeometryError> {
    if value < 0 || value > usize::MAX as i128 {
        Err(GeometryError::Overflow)
    } else {
        Ok(value as usize)
    }
}

/// Integer division rounding toward negative infinity (PyTorch's `div_rtn`).
pub(crate) const fn div_floor(a: i128, b: i128) -> i128 {
    let q = a / b;
    if (a % b != 0) && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    }
}
