//! Upsampling: resizing each plane of an NCHW input by nearest or bilinear interpolation, as
//! PyTorch's `nn.Upsample` and `F.interpolate` with `align_corners = False`.
//!
//! This file holds the params, the public function and its checks; the index rules and the
//! loops are in `upsample/nearest.rs` and `upsample/bilinear.rs`.

mod bilinear;
mod nearest;

use ndarray::{Array4, ArrayView4, Dim};
use stride_geometry::{GeometryError, Param, upsample_output};

use super::check::{AXES, nonempty_plane, nonzero_hw};
use super::plane::map_planes;
use crate::{Error, Hw, Result, memory};

const OP: &str = "upsample";

/// How [`upsample`] computes an output pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UpsampleMode {
    /// The input pixel at `floor(dst * in / out)` along each axis (PyTorch's `nearest`, not
    /// `nearest-exact`). PyTorch's default.
    #[default]
    Nearest,
    /// The four input pixels around `src = (dst + 0.5) * in / out - 0.5`, weighted by distance,
    /// with pixel centres aligned (PyTorch's `bilinear` with `align_corners = False`).
    Bilinear,
}

/// The size [`upsample`] resizes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpsampleTarget {
    /// The input size times an integer factor per axis (PyTorch's `scale_factor`).
    ScaleFactor(Hw),
    /// A fixed output size (PyTorch's `size`), which may also be smaller than the input.
    Size(Hw),
}

/// The parameters of [`upsample`], as PyTorch's `nn.Upsample` with `align_corners = False`.
///
/// Start from the size, [`UpsampleParams::scale`] or [`UpsampleParams::size`] (both nearest,
/// PyTorch's default), then pick the mode:
///
/// ```
/// use stride_runtime::ops::{UpsampleMode, UpsampleParams, UpsampleTarget};
/// use stride_runtime::Hw;
///
/// let params = UpsampleParams::scale(2).bilinear();
/// assert_eq!(params.target, UpsampleTarget::ScaleFactor(Hw([2, 2])));
/// assert_eq!(params.mode, UpsampleMode::Bilinear);
/// assert_eq!(UpsampleParams::size((64, 48)).mode, UpsampleMode::Nearest);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UpsampleParams {
    /// The output size, as a scale factor or as a size.
    pub target: UpsampleTarget,
    /// Nearest or bilinear.
    pub mode: UpsampleMode,
}

impl UpsampleParams {
    /// Nearest upsampling by an integer `factor` on each axis: an int or an `(h, w)` pair.
    ///
    /// ```
    /// # use stride_runtime::ops::UpsampleParams;
    /// assert_eq!(UpsampleParams::scale((2, 1)).output_size([8, 8])?, [16, 8]);
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn scale(factor: impl Into<Hw>) -> Self {
        UpsampleParams {
            target: UpsampleTarget::ScaleFactor(factor.into()),
            mode: UpsampleMode::Nearest,
        }
    }

    /// Nearest resizing to a fixed `size`: an int (square) or an `(h, w)` pair.
    ///
    /// ```
    /// # use stride_runtime::ops::UpsampleParams;
    /// assert_eq!(UpsampleParams::size((64, 48)).output_size([8, 8])?, [64, 48]);
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn size(size: impl Into<Hw>) -> Self {
        UpsampleParams {
            target: UpsampleTarget::Size(size.into()),
            mode: UpsampleMode::Nearest,
        }
    }

    /// The same size, nearest.
    ///
    /// ```
    /// # use stride_runtime::ops::{UpsampleMode, UpsampleParams};
    /// assert_eq!(UpsampleParams::scale(2).bilinear().nearest().mode, UpsampleMode::Nearest);
    /// ```
    pub fn nearest(self) -> Self {
        UpsampleParams {
            mode: UpsampleMode::Nearest,
            ..self
        }
    }

    /// The same size, bilinear.
    ///
    /// ```
    /// # use stride_runtime::ops::{UpsampleMode, UpsampleParams};
    /// assert_eq!(UpsampleParams::scale(2).bilinear().mode, UpsampleMode::Bilinear);
    /// ```
    pub fn bilinear(self) -> Self {
        UpsampleParams {
            mode: UpsampleMode::Bilinear,
            ..self
        }
    }

    /// The `[height, width]` these params resize an `[height, width]` input to.
    ///
    /// Refuses an input size, scale factor or output size of 0, and a scaled size that does not
    /// fit in `usize`.
    ///
    /// ```
    /// use stride_runtime::ops::UpsampleParams;
    ///
    /// assert_eq!(UpsampleParams::scale(3).output_size([2, 5])?, [6, 15]);
    /// let err = UpsampleParams::scale((2, 0)).output_size([2, 5]).unwrap_err();
    /// assert_eq!(err.to_string(), "upsample: width: scale factor must be at least 1, got 0");
    /// # Ok::<(), stride_runtime::Error>(())
    /// ```
    pub fn output_size(&self, input: [usize; 2]) -> Result<[usize; 2]> {
        if let Some(axis) = input.iter().position(|&v| v == 0) {
            return Err(Error::geometry(OP, axis, GeometryError::Zero(Param::Input)));
        }
        match self.target {
            UpsampleTarget::ScaleFactor(factor) => {
                nonzero_hw(OP, "scale factor", factor)?;
                let scaled = |a: usize| {
                    upsample_output(input[a], factor.0[a]).map_err(|_| Error::Param {
                        op: OP,
                        message: format!(
                            "{}: output size {} * {} does not fit in usize",
                            AXES[a], input[a], factor.0[a]
                        ),
                    })
                };
                Ok([scaled(0)?, scaled(1)?])
            }
            UpsampleTarget::Size(size) => {
                nonzero_hw(OP, "output size", size)?;
                Ok(size.0)
            }
        }
    }

    /// PyTorch's `compute_scales_value` along axis `a`: the input step per output step, in
    /// f32. With a scale factor it is `1 / scale` (computed in f64 and rounded to f32, as
    /// PyTorch does), otherwise `input / output` in f32. For an integer scale the two are the
    /// same f32.
    fn ratio(&self, a: usize, input: usize, output: usize) -> f32 {
        match self.target {
            UpsampleTarget::ScaleFactor(factor) => (1.0 / factor.0[a] as f64) as f32,
            UpsampleTarget::Size(_) => input as f32 / output as f32,
        }
    }
}

/// Resizes each plane of an NCHW input, as PyTorch's `F.interpolate` with
/// `align_corners = False`.
///
/// Along each axis, with `ratio = 1 / scale` (or `in / out` for a fixed size), computed in f32
/// as PyTorch does:
/// - nearest: output `dst` copies input `min(floor(dst * ratio), in - 1)`;
/// - bilinear: `src = max((dst + 0.5) * ratio - 0.5, 0)`, interpolating between
///   `floor(src)` and the next input (the last one at the edge), weights `1 - λ` and
///   `λ = src - floor(src)`.
///
/// Refuses an input with an empty plane, a scale factor or output size of 0, an output size
/// that does not fit in `usize`, and an output too large to allocate.
///
/// ```
/// use ndarray::array;
/// use stride_runtime::ops::{upsample, UpsampleParams};
///
/// let x = array![[1.0f32, 2.0], [3.0, 4.0]].into_shape_with_order((1, 1, 2, 2)).unwrap();
/// let y = upsample(x.view(), &UpsampleParams::scale(2))?;
/// let want = array![[1.0f32, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0], [3.0, 3.0, 4.0, 4.0], [3.0, 3.0, 4.0, 4.0]];
/// assert_eq!(y, want.into_shape_with_order((1, 1, 4, 4)).unwrap());
///
/// let y = upsample(x.view(), &UpsampleParams::scale(2).bilinear())?;
/// assert_eq!(y[[0, 0, 1, 1]], 1.75); // 0.75 * (0.75 * 1 + 0.25 * 2) + 0.25 * (0.75 * 3 + 0.25 * 4)
/// # Ok::<(), stride_runtime::Error>(())
/// ```
pub fn upsample(x: ArrayView4<f32>, params: &UpsampleParams) -> Result<Array4<f32>> {
    let input = nonempty_plane(OP, &x)?;
    let output = params.output_size(input)?;
    let (batch, channels, _, _) = x.dim();
    let y = memory::zeros(OP, "output", Dim([batch, channels, output[0], output[1]]))?;
    if y.is_empty() {
        // No plane to fill: no index tables either, whose length the output size decides.
        return Ok(y);
    }
    let [h_ratio, w_ratio] = [0, 1].map(|a| params.ratio(a, input[a], output[a]));
    let width = input[1];
    // One entry per output row and column, each table no larger than the output.
    let table = |items| memory::collect(OP, "index table", items);
    match params.mode {
        UpsampleMode::Nearest => {
            let rows = table(nearest::source_indices(input[0], output[0], h_ratio))?;
            let cols = table(nearest::source_indices(input[1], output[1], w_ratio))?;
            map_planes(OP, x, y, |x, y| {
                nearest::nearest_plane(&rows, &cols, width, x, y)
            })
        }
        UpsampleMode::Bilinear => {
            let table = |items| memory::collect(OP, "index table", items);
            let rows = table(bilinear::source_taps(input[0], output[0], h_ratio))?;
            let cols = table(bilinear::source_taps(input[1], output[1], w_ratio))?;
            map_planes(OP, x, y, |x, y| {
                bilinear::bilinear_plane(&rows, &cols, width, x, y)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, Array4, array};

    use super::*;

    fn plane(x: Array2<f32>) -> Array4<f32> {
        let (h, w) = x.dim();
        x.into_shape_with_order((1, 1, h, w)).unwrap()
    }

    fn only_plane(y: Array4<f32>) -> Array2<f32> {
        let (_, _, h, w) = y.dim();
        y.into_shape_with_order((h, w)).unwrap()
    }

    #[test]
    fn bilinear_doubles_a_two_by_two_input_as_pytorch() {
        // Along each axis: src = (dst + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25
        // (clamped to the last input), so a row [a, b] becomes [a, a + (b-a)/4, a + 3(b-a)/4, b].
        let x = plane(array![[1.0, 2.0], [3.0, 4.0]]);
        let y = upsample(x.view(), &UpsampleParams::scale(2).bilinear()).unwrap();
        assert_eq!(
            only_plane(y),
            array![
                [1.0, 1.25, 1.75, 2.0],
                [1.5, 1.75, 2.25, 2.5],
                [2.5, 2.75, 3.25, 3.5],
                [3.0, 3.25, 3.75, 4.0]
            ]
        );
    }

    #[test]
    fn nearest_triples_by_repeating_each_input() {
        let x = plane(array![[1.0, 2.0]]);
        let y = upsample(x.view(), &UpsampleParams::scale((1, 3))).unwrap();
        assert_eq!(only_plane(y), array![[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]]);
    }

    #[test]
    fn nearest_to_a_non_multiple_size_floors_dst_times_in_over_out() {
        // 3 -> 5: floor(dst * 0.6) = 0, 0, 1, 1, 2.
        let x = plane(array![[1.0, 2.0, 3.0]]);
        let y = upsample(x.view(), &UpsampleParams::size((1, 5))).unwrap();
        assert_eq!(only_plane(y), array![[1.0, 1.0, 2.0, 2.0, 3.0]]);
    }

    #[test]
    fn bilinear_to_a_smaller_size_samples_between_pixel_centres() {
        // 4 -> 2: src = (dst + 0.5) * 2 - 0.5 = 0.5, 2.5.
        let x = plane(array![[0.0, 2.0, 4.0, 6.0]]);
        let y = upsample(x.view(), &UpsampleParams::size((1, 2)).bilinear()).unwrap();
        assert_eq!(only_plane(y), array![[1.0, 5.0]]);
    }

    #[test]
    fn integer_scale_and_the_size_it_gives_resize_alike() {
        // PyTorch divides in f64 then rounds (1 / scale) and in f32 (in / out); for integer
        // scales both are the same f32, so both spellings give the same pixels.
        let x = Array4::from_shape_fn((1, 2, 3, 2), |(_, c, h, w)| (c * 6 + h * 2 + w) as f32);
        for scale in 1..=64 {
            let by_scale = UpsampleParams::scale((scale, 65 - scale));
            let by_size = UpsampleParams::size((3 * scale, 2 * (65 - scale)));
            for (a, b) in [
                (by_scale, by_size),
                (by_scale.bilinear(), by_size.bilinear()),
            ] {
                assert_eq!(
                    upsample(x.view(), &a).unwrap(),
                    upsample(x.view(), &b).unwrap(),
                    "scale {scale}"
                );
            }
        }
    }

    #[test]
    fn nearest_follows_pytorchs_f32_index_even_where_it_is_not_floor_of_dst_over_scale() {
        // PyTorch computes floor(dst * (float)(1.0 / 41)), and 41 * (float)(1/41) rounds to
        // 0.99999994: output 41 copies input 0, not input 1.
        let x = plane(array![[1.0, 2.0]]);
        let y = only_plane(upsample(x.view(), &UpsampleParams::scale((1, 41))).unwrap());
        assert_eq!(y[[0, 40]], 1.0);
        assert_eq!(y[[0, 41]], 1.0);
        assert_eq!(y[[0, 42]], 2.0);
    }

    #[test]
    fn upsample_refuses_an_empty_plane() {
        let x = Array4::<f32>::zeros((1, 3, 0, 4));
        let err = upsample(x.view(), &UpsampleParams::scale(2)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "upsample: input has shape [1, 3, 0, 4], expected [N, C, H, W] with H, W >= 1"
        );
    }

    #[test]
    fn upsample_refuses_a_zero_scale_factor() {
        let x = Array4::<f32>::zeros((1, 3, 4, 4));
        let err = upsample(x.view(), &UpsampleParams::scale((0, 2)).bilinear()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "upsample: height: scale factor must be at least 1, got 0"
        );
    }

    #[test]
    fn upsample_refuses_a_zero_output_size() {
        let x = Array4::<f32>::zeros((1, 3, 4, 4));
        let err = upsample(x.view(), &UpsampleParams::size((8, 0))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "upsample: width: output size must be at least 1, got 0"
        );
    }

    #[test]
    fn upsample_refuses_a_scaled_size_that_overflows() {
        let params = UpsampleParams::scale((1, usize::MAX));
        let err = params.output_size([4, 4]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "upsample: width: output size 4 * {} does not fit in usize",
                usize::MAX
            )
        );
    }

    #[test]
    fn output_size_refuses_an_empty_input() {
        let err = UpsampleParams::size(4).output_size([3, 0]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "upsample: width: input size must be at least 1, got 0"
        );
    }
}
