//! Shape checks shared by the ops' public functions.

use ndarray::ArrayView4;

use crate::{Error, Hw, Result};

/// Refuses a tensor whose shape is not exactly `expected`.
pub(crate) fn exact_shape(
    op: &'static str,
    tensor: &'static str,
    got: &[usize],
    expected: &[usize],
) -> Result<()> {
    if got == expected {
        Ok(())
    } else {
        Err(Error::Shape {
            op,
            tensor,
            expected: format!("{expected:?}"),
            got: got.to_vec(),
        })
    }
}

/// Refuses an NCHW input whose channel count is not `channels`.
pub(crate) fn input_channels(op: &'static str, x: &ArrayView4<f32>, channels: usize) -> Result<()> {
    if x.shape()[1] == channels {
        Ok(())
    } else {
        Err(Error::Shape {
            op,
            tensor: "input",
            expected: format!("[N, {channels}, H, W]"),
            got: x.shape().to_vec(),
        })
    }
}

/// The spatial size `[H, W]` of an NCHW input, or a refusal if either is 0 (a spatial op has
/// nothing to slide over).
pub(crate) fn nonempty_plane(op: &'static str, x: &ArrayView4<f32>) -> Result<[usize; 2]> {
    let (_, _, h, w) = x.dim();
    if h > 0 && w > 0 {
        Ok([h, w])
    } else {
        Err(Error::Shape {
            op,
            tensor: "input",
            expected: "[N, C, H, W] with H, W >= 1".into(),
            got: x.shape().to_vec(),
        })
    }
}

/// Refuses a per-axis parameter (`what`: "output size", "scale factor", …) that is 0 on either
/// axis.
pub(crate) fn nonzero_hw(op: &'static str, what: &str, value: Hw) -> Result<()> {
    match value.0.iter().position(|&v| v == 0) {
        None => Ok(()),
        Some(axis) => Err(Error::Param {
            op,
            message: format!("{}: {what} must be at least 1, got 0", AXES[axis]),
        }),
    }
}

/// The axes' names, in [`Hw`] order.
pub(crate) const AXES: [&str; 2] = ["height", "width"];

/// The slice of an array in standard layout, which always has one.
pub(crate) fn contiguous<T>(slice: Option<T>) -> T {
    slice.expect("an array in standard layout is contiguous")
}
