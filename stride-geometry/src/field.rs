use crate::{GeometryError, Param, Window};

/// The receptive field of one output position along one axis, in input pixels.
///
/// Walked through a stack of windows (convolutions and pools) with [`Field::through`]:
///
/// ```text
/// size_l  = size_(l-1) + (D_l*(K_l-1)) * jump_(l-1)      (the seed's r_l, with the effective kernel)
/// jump_l  = jump_(l-1) * S_l                              (the product of strides so far)
/// start_l = start_(l-1) - Pb_l * jump_(l-1)
/// ```
///
/// `start` is the input coordinate of the first pixel seen by output 0 (negative where it lies in
/// the padding); output `i` sees input pixels `start + i*jump .. start + i*jump + size`.
///
/// ```
/// use stride_geometry::{Field, Window};
///
/// // ResNet stem: 7x7/2 pad 3, then 3x3/2 pad 1 max pool.
/// let conv1 = Field::INPUT.through(Window::new(7).stride(2).padding(3)).unwrap();
/// let pool = conv1.through(Window::new(3).stride(2).padding(1)).unwrap();
/// assert_eq!((pool.size, pool.jump, pool.start), (11, 4, -5));
/// ```
///
/// Layers that upsample (transposed convolutions, resizes) make the jump fractional; a field is
/// not defined through them, and callers stop tracking it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Field {
    /// Receptive field size.
    pub size: usize,
    /// Distance in input pixels between neighbouring outputs (the cumulative stride).
    pub jump: usize,
    /// Input coordinate of the first pixel seen by output 0.
    pub start: i64,
}

impl Field {
    /// The field of an input pixel: itself.
    pub const INPUT: Field = Field {
        size: 1,
        jump: 1,
        start: 0,
    };

    /// The field after one more window (a convolution or a pool).
    pub const fn through(self, window: Window) -> Result<Field, GeometryError> {
        if window.kernel == 0 {
            return Err(GeometryError::Zero(Param::Kernel));
        }
        if window.stride == 0 {
            return Err(GeometryError::Zero(Param::Stride));
        }
        let grow = match window.dilation.checked_mul(window.kernel - 1) {
            Some(span) => span.checked_mul(self.jump),
            None => None,
        };
        let size = match grow {
            Some(grow) => self.size.checked_add(grow),
            None => None,
        };
        let jump = self.jump.checked_mul(window.stride);
        let shift = (window.pad_begin as i128) * (self.jump as i128);
        let start = self.start as i128 - shift;
        match (size, jump) {
            (Some(size), Some(jump)) if start >= i64::MIN as i128 => Ok(Field {
                size,
                jump,
                start: start as i64,
            }),
            _ => Err(GeometryError::Overflow),
        }
    }

    /// The field of a join (a concat) of branches with fields `self` and `other`: the wider of
    /// the two, when both step alike (equal jumps); `None` when their jumps differ, since the
    /// joined outputs then sample the input on two grids.
    ///
    /// ```
    /// use stride_geometry::{Field, Window};
    ///
    /// let one = Field::INPUT.through(Window::new(1)).unwrap();
    /// let three = Field::INPUT.through(Window::new(3).padding(1)).unwrap();
    /// assert_eq!(one.join(three), Some(three));
    /// let strided = Field::INPUT.through(Window::new(3).stride(2)).unwrap();
    /// assert_eq!(one.join(strided), None);
    /// ```
    pub const fn join(self, other: Field) -> Option<Field> {
        if self.jump != other.jump {
            None
        } else if other.size > self.size {
            Some(other)
        } else {
            Some(self)
        }
    }
}
