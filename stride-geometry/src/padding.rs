use crate::{GeometryError, Param, Window};

/// How a convolution or pool pads one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Padding {
    /// Explicit padding before (top or left) and after (bottom or right) the input.
    Explicit {
        /// Padding before the input.
        begin: usize,
        /// Padding after the input.
        end: usize,
    },
    /// No padding (PyTorch's and TensorFlow's `"valid"`).
    Valid,
    /// PyTorch's `"same"`: output size equals input size. Stride 1 only; when the total padding
    /// `D*(K-1)` is odd, the extra one goes after the input.
    Same,
    /// ONNX `SAME_UPPER` / TensorFlow `"SAME"`: output `ceil(W/S)` for any stride; the extra one
    /// of an odd total goes after the input.
    SameUpper,
    /// ONNX `SAME_LOWER`: as [`Padding::SameUpper`], with the extra one before the input.
    SameLower,
}

impl Padding {
    /// `p` on both sides.
    pub const fn symmetric(p: usize) -> Self {
        Padding::Explicit { begin: p, end: p }
    }
}

impl Default for Padding {
    fn default() -> Self {
        Padding::symmetric(0)
    }
}

/// Padding resolved to numbers: before and after the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pads {
    /// Padding before the input (top or left).
    pub begin: usize,
    /// Padding after the input (bottom or right).
    pub end: usize,
}

impl Pads {
    /// `window` with these pads.
    pub const fn apply(self, window: Window) -> Window {
        window.pads(self.begin, self.end)
    }
}

/// Resolves a padding mode to explicit pads for an axis of size `input` with the given kernel,
/// stride and dilation.
///
/// - `Same` (PyTorch): total `D*(K-1)`, stride 1 only ([`GeometryError::SameWithStride`]).
/// - `SameUpper` / `SameLower` (ONNX, TensorFlow): output `O = ceil(W/S)`, total
///   `max((O-1)*S + D*(K-1) + 1 - W, 0)`.
///
/// An odd total puts the extra one after the input, except for `SameLower`.
///
/// ```
/// use stride_geometry::{resolve_padding, Padding, Pads};
///
/// // TensorFlow's SAME with stride 2 on 7 inputs, kernel 3: output 4, total padding 2.
/// let pads = resolve_padding(Padding::SameUpper, 7, 3, 2, 1);
/// assert_eq!(pads, Ok(Pads { begin: 1, end: 1 }));
/// // Kernel 4, stride 1: total 3, the extra one at the end (PyTorch's `same`).
/// assert_eq!(resolve_padding(Padding::Same, 10, 4, 1, 1), Ok(Pads { begin: 1, end: 2 }));
/// ```
pub const fn resolve_padding(
    padding: Padding,
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
) -> Result<Pads, GeometryError> {
    if kernel == 0 {
        return Err(GeometryError::Zero(Param::Kernel));
    }
    if stride == 0 {
        return Err(GeometryError::Zero(Param::Stride));
    }
    if dilation == 0 {
        return Err(GeometryError::Zero(Param::Dilation));
    }
    // D*(K-1), and the effective kernel D*(K-1) + 1.
    let (span, effective) = match dilation.checked_mul(kernel - 1) {
        Some(span) if span < usize::MAX => (span, span + 1),
        _ => return Err(GeometryError::Overflow),
    };
    let (total, extra_first) = match padding {
        Padding::Explicit { begin, end } => return Ok(Pads { begin, end }),
        Padding::Valid => return Ok(Pads { begin: 0, end: 0 }),
        Padding::Same => {
            if stride != 1 {
                return Err(GeometryError::SameWithStride { stride });
            }
            (span, false)
        }
        Padding::SameUpper | Padding::SameLower => {
            let output = input.div_ceil(stride);
            // (O-1)*S + D*(K-1) + 1 - W, clamped at 0; O >= 1 unless the input is empty.
            let covered = match output.saturating_sub(1).checked_mul(stride) {
                Some(c) => match c.checked_add(effective) {
                    Some(c) => c,
                    None => return Err(GeometryError::Overflow),
                },
                None => return Err(GeometryError::Overflow),
            };
            (
                covered.saturating_sub(input),
                matches!(padding, Padding::SameLower),
            )
        }
    };
    let small = total / 2;
    let large = total - small;
    if extra_first {
        Ok(Pads {
            begin: large,
            end: small,
        })
    } else {
        Ok(Pads {
            begin: small,
            end: large,
        })
    }
}
