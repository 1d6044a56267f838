//! Parameter and multiply-add counts, per sample, as torchvision's model cards count them:
//! parameters are the trainable tensors (batch norm's running statistics are buffers, not
//! parameters), and MACs are those of convolutions and linear layers.

use crate::{Channels, GeometryError, Param};

/// `a * b`, or [`GeometryError::Overflow`].
const fn mul(a: u64, b: u64) -> Result<u64, GeometryError> {
    match a.checked_mul(b) {
        Some(p) => Ok(p),
        None => Err(GeometryError::Overflow),
    }
}

/// Product of a list of factors, or [`GeometryError::Overflow`].
const fn product(factors: &[usize]) -> Result<u64, GeometryError> {
    let mut acc: u64 = 1;
    let mut i = 0;
    while i < factors.len() {
        acc = match mul(acc, factors[i] as u64) {
            Ok(p) => p,
            Err(e) => return Err(e),
        };
        i += 1;
    }
    Ok(acc)
}

/// `product(factors) + extra`, or [`GeometryError::Overflow`].
const fn product_plus(factors: &[usize], extra: usize) -> Result<u64, GeometryError> {
    match product(factors) {
        Ok(p) => match p.checked_add(extra as u64) {
            Some(total) => Ok(total),
            None => Err(GeometryError::Overflow),
        },
        Err(e) => Err(e),
    }
}

/// Refuses zero channel or group counts, and groups that do not divide both channel counts.
///
/// ```
/// use stride_geometry::check_groups;
///
/// assert!(check_groups(32, 32, 32).is_ok()); // depthwise
/// assert!(check_groups(32, 48, 5).is_err());
/// ```
pub const fn check_groups(
    in_channels: usize,
    out_channels: usize,
    groups: usize,
) -> Result<(), GeometryError> {
    if in_channels == 0 || out_channels == 0 {
        return Err(GeometryError::Zero(Param::Channels));
    }
    if groups == 0 {
        return Err(GeometryError::Zero(Param::Groups));
    }
    if in_channels % groups != 0 {
        return Err(GeometryError::GroupsDoNotDivide {
            groups,
            channels: in_channels,
            side: Channels::In,
        });
    }
    if out_channels % groups != 0 {
        return Err(GeometryError::GroupsDoNotDivide {
            groups,
            channels: out_channels,
            side: Channels::Out,
        });
    }
    Ok(())
}

/// Parameters of a convolution: `Cout * (Cin/groups) * kh * kw`, plus `Cout` for the bias.
///
/// ```
/// use stride_geometry::conv2d_params;
///
/// assert_eq!(conv2d_params(3, 64, 1, [7, 7], false), Ok(9_408)); // ResNet conv1
/// ```
pub const fn conv2d_params(
    in_channels: usize,
    out_channels: usize,
    groups: usize,
    kernel: [usize; 2],
    bias: bool,
) -> Result<u64, GeometryError> {
    if let Err(e) = check_groups(in_channels, out_channels, groups) {
        return Err(e);
    }
    let bias = if bias { out_channels } else { 0 };
    product_plus(
        &[out_channels, in_channels / groups, kernel[0], kernel[1]],
        bias,
    )
}

/// Multiply-adds of a convolution per sample: one per output element per kernel tap,
/// `Cout * OH * OW * (Cin/groups) * kh * kw`.
///
/// ```
/// use stride_geometry::conv2d_macs;
///
/// assert_eq!(conv2d_macs(3, 64, 1, [7, 7], [112, 112]), Ok(118_013_952)); // ResNet conv1
/// ```
pub const fn conv2d_macs(
    in_channels: usize,
    out_channels: usize,
    groups: usize,
    kernel: [usize; 2],
    output: [usize; 2],
) -> Result<u64, GeometryError> {
    if let Err(e) = check_groups(in_channels, out_channels, groups) {
        return Err(e);
    }
    product(&[
        out_channels,
        output[0],
        output[1],
        in_channels / groups,
        kernel[0],
        kernel[1],
    ])
}

/// Parameters of a transposed convolution: weight `[Cin, Cout/groups, kh, kw]`, plus `Cout`
/// for the bias.
///
/// ```
/// use stride_geometry::conv_transpose2d_params;
///
/// assert_eq!(conv_transpose2d_params(128, 64, 1, [4, 4], true), Ok(131_136));
/// ```
pub const fn conv_transpose2d_params(
    in_channels: usize,
    out_channels: usize,
    groups: usize,
    kernel: [usize; 2],
    bias: bool,
) -> Result<u64, GeometryError> {
    if let Err(e) = check_groups(in_channels, out_channels, groups) {
        return Err(e);
    }
    let bias = if bias { out_channels } else { 0 };
    product_plus(
        &[in_channels, out_channels / groups, kernel[0], kernel[1]],
        bias,
    )
}

/// Multiply-adds of a transposed convolution per sample, counted from its **input**: each input
/// element is multiplied into `(Cout/groups) * kh * kw` outputs, so
/// `Cin * H * W * (Cout/groups) * kh * kw`.
///
/// Counting from the output size instead (as for a convolution) over-counts by about
/// `stride^2`, since most kernel taps of an output land between input pixels.
///
/// ```
/// use stride_geometry::conv_transpose2d_macs;
///
/// // DCGAN's first layer: 16 -> 64 channels, 1x1 -> 4x4.
/// assert_eq!(conv_transpose2d_macs(16, 64, 1, [4, 4], [1, 1]), Ok(16_384));
/// ```
pub const fn conv_transpose2d_macs(
    in_channels: usize,
    out_channels: usize,
    groups: usize,
    kernel: [usize; 2],
    input: [usize; 2],
) -> Result<u64, GeometryError> {
    if let Err(e) = check_groups(in_channels, out_channels, groups) {
        return Err(e);
    }
    product(&[
        in_channels,
        input[0],
        input[1],
        out_channels / groups,
        kernel[0],
        kernel[1],
    ])
}

/// Parameters of a linear layer: `in * out`, plus `out` for the bias.
///
/// ```
/// use stride_geometry::linear_params;
///
/// assert_eq!(linear_params(512, 1000, true), Ok(513_000)); // ResNet-18 fc
/// ```
pub const fn linear_params(
    in_features: usize,
    out_features: usize,
    bias: bool,
) -> Result<u64, GeometryError> {
    if in_features == 0 || out_features == 0 {
        return Err(GeometryError::Zero(Param::Channels));
    }
    product_plus(
        &[in_features, out_features],
        if bias { out_features } else { 0 },
    )
}

/// Multiply-adds of a linear layer per sample: `in * out`.
///
/// ```
/// use stride_geometry::linear_macs;
///
/// assert_eq!(linear_macs(512, 1000), Ok(512_000));
/// ```
pub const fn linear_macs(in_features: usize, out_features: usize) -> Result<u64, GeometryError> {
    linear_params(in_features, out_features, false)
}

/// Trainable parameters of a batch norm: a scale and a shift per channel (`2 * C`). The running
/// mean and variance are buffers and are not counted, as in torchvision.
///
/// ```
/// use stride_geometry::batch_norm2d_params;
///
/// assert_eq!(batch_norm2d_params(64), Ok(128));
/// ```
pub const fn batch_norm2d_params(channels: usize) -> Result<u64, GeometryError> {
    if channels == 0 {
        return Err(GeometryError::Zero(Param::Channels));
    }
    mul(channels as u64, 2)
}
