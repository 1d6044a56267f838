//! The shapes of the tensors a layer stores, in PyTorch's layouts, so that the macro (which
//! names them in the network's tensor specs) and a checkpoint agree on them.

use crate::{GeometryError, check_groups};

/// A convolution's weight, `[Cout, Cin/groups, kh, kw]` (PyTorch's `Conv2d.weight`).
///
/// Refuses zero channels or groups, and groups that do not divide both channel counts.
///
/// ```
/// use stride_geometry::conv2d_weight_shape;
///
/// assert_eq!(conv2d_weight_shape(3, 64, 1, [7, 7]), Ok([64, 3, 7, 7]));
/// assert_eq!(conv2d_weight_shape(32, 32, 32, [3, 3]), Ok([32, 1, 3, 3])); // depthwise
/// assert!(conv2d_weight_shape(32, 48, 5, [3, 3]).is_err());
/// ```
pub const fn conv2d_weight_shape(
    in_channels: usize,
    out_channels: usize,
    groups: usize,
    kernel: [usize; 2],
) -> Result<[usize; 4], GeometryError> {
    match check_groups(in_channels, out_channels, groups) {
        Ok(()) => Ok([out_channels, in_channels / groups, kernel[0], kernel[1]]),
        Err(e) => Err(e),
    }
}

/// A transposed convolution's weight, `[Cin, Cout/groups, kh, kw]` (PyTorch's
/// `ConvTranspose2d.weight`: input channels first).
///
/// Refuses zero channels or groups, and groups that do not divide both channel counts.
///
/// ```
/// use stride_geometry::conv_transpose2d_weight_shape;
///
/// assert_eq!(conv_transpose2d_weight_shape(128, 64, 1, [4, 4]), Ok([128, 64, 4, 4]));
/// assert_eq!(conv_transpose2d_weight_shape(8, 4, 2, [3, 3]), Ok([8, 2, 3, 3]));
/// ```
pub const fn conv_transpose2d_weight_shape(
    in_channels: usize,
    out_channels: usize,
    groups: usize,
    kernel: [usize; 2],
) -> Result<[usize; 4], GeometryError> {
    match check_groups(in_channels, out_channels, groups) {
        Ok(()) => Ok([in_channels, out_channels / groups, kernel[0], kernel[1]]),
        Err(e) => Err(e),
    }
}

/// A linear layer's weight, `[out, in]` (PyTorch's `Linear.weight`).
///
/// ```
/// assert_eq!(stride_geometry::linear_weight_shape(512, 10), [10, 512]);
/// ```
pub const fn linear_weight_shape(in_features: usize, out_features: usize) -> [usize; 2] {
    [out_features, in_features]
}

/// What joins a layer's key to the name of one of its tensors: a dot (`conv1` and `weight`
/// make `conv1.weight`), or nothing for a tensor without a name, which is the layer's own
/// parameter (ConvNeXt's `layer_scale`, stored as `features.1.0.layer_scale`).
///
/// ```
/// use stride_geometry::tensor_key_separator;
///
/// assert_eq!(tensor_key_separator("weight"), ".");
/// assert_eq!(tensor_key_separator(""), "");
/// ```
pub const fn tensor_key_separator(name: &str) -> &'static str {
    if name.is_empty() { "" } else { "." }
}
