//! Spatial parameters that take an int or an `(h, w)` pair, as in PyTorch.

use stride_geometry::{Padding, Pads, resolve_padding};

use crate::{Error, Result};

/// A spatial parameter for height and width. Converts from an int (both axes) or an `(h, w)`
/// pair, so `stride(2)` and `stride((2, 1))` both read as in PyTorch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hw(pub [usize; 2]);

impl Hw {
    /// Height.
    pub const fn h(self) -> usize {
        self.0[0]
    }

    /// Width.
    pub const fn w(self) -> usize {
        self.0[1]
    }
}

impl From<usize> for Hw {
    fn from(v: usize) -> Self {
        Hw([v, v])
    }
}

impl From<(usize, usize)> for Hw {
    fn from((h, w): (usize, usize)) -> Self {
        Hw([h, w])
    }
}

impl From<[usize; 2]> for Hw {
    fn from(hw: [usize; 2]) -> Self {
        Hw(hw)
    }
}

/// Padding for height and width: an int or an `(h, w)` pair (symmetric), explicit
/// `(top, bottom, left, right)` pads, or a mode ([`Padding::Valid`], [`Padding::Same`],
/// [`Padding::SameUpper`], [`Padding::SameLower`]) applied to both axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Padding2d(pub [Padding; 2]);

impl Padding2d {
    /// Explicit pads on each side.
    pub const fn asymmetric(top: usize, bottom: usize, left: usize, right: usize) -> Self {
        Padding2d([
            Padding::Explicit {
                begin: top,
                end: bottom,
            },
            Padding::Explicit {
                begin: left,
                end: right,
            },
        ])
    }

    /// Resolves both axes to explicit pads for an input of `input` with the given kernel,
    /// stride and dilation. `op` names the caller in the error.
    pub fn resolve(
        self,
        op: &'static str,
        input: [usize; 2],
        kernel: Hw,
        stride: Hw,
        dilation: Hw,
    ) -> Result<[Pads; 2]> {
        let axis = |a: usize| {
            resolve_padding(self.0[a], input[a], kernel.0[a], stride.0[a], dilation.0[a])
                .map_err(|e| Error::geometry(op, a, e))
        };
        Ok([axis(0)?, axis(1)?])
    }
}

impl Default for Padding2d {
    fn default() -> Self {
        Padding2d::from(0)
    }
}

impl From<usize> for Padding2d {
    fn from(p: usize) -> Self {
        Padding2d([Padding::symmetric(p); 2])
    }
}

impl From<(usize, usize)> for Padding2d {
    fn from((h, w): (usize, usize)) -> Self {
        Padding2d([Padding::symmetric(h), Padding::symmetric(w)])
    }
}

impl From<[usize; 2]> for Padding2d {
    fn from([h, w]: [usize; 2]) -> Self {
        Padding2d::from((h, w))
    }
}

impl From<Padding> for Padding2d {
    fn from(mode: Padding) -> Self {
        Padding2d([mode; 2])
    }
}
