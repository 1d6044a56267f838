//! torchvision's ImageNet transform, from an image to the `[N, 3, H, W]` tensor a network takes.

use std::ops::Range;
use std::path::Path;

use ndarray::{Array4, ArrayViewMut3, Axis};

use crate::{Error, RgbImage};

/// The mean of ImageNet's training images, per channel (red, green, blue), on the 0..1 scale.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];

/// The standard deviation of ImageNet's training images, per channel.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The longest side a transform may resize to or crop: larger is taken for a mistake, not a
/// request for a tensor of gigabytes.
pub const MAX_TRANSFORM_SIDE: usize = 16_384;

/// torchvision's classification preprocessing, as a value:
///
/// ```python
/// transforms.Compose([
///     transforms.Resize(resize),       # the shorter side to `resize`, bilinear, antialiased
///     transforms.CenterCrop(crop),
///     transforms.ToTensor(),           # u8 / 255
///     transforms.Normalize(mean, std),
/// ])
/// ```
///
/// on a PIL image, with PIL's arithmetic: the resize is PIL's to the byte (see
/// [`RgbImage::resize`]), the longer side's size `int(resize * long / short)` and the crop's
/// offset `round((size - crop) / 2)` (half to even) as torchvision computes them, and a crop
/// larger than the resized image padded with black as torchvision pads it. Only the cropped
/// part of the resized image is computed.
///
/// ```
/// use stride_vision::{RgbImage, Transform};
///
/// let transform = Transform::imagenet(); // Resize(256), CenterCrop(224), ImageNet statistics
/// let image = RgbImage::from_raw(500, 375, vec![255; 500 * 375 * 3])?;
/// let x = transform.apply(&image); // what a network's `forward` takes
/// assert_eq!(x.dim(), (1, 3, 224, 224));
/// assert_eq!(x[[0, 0, 0, 0]], (1.0 - 0.485) / 0.229);
///
/// let small = Transform::new(144, [128, 128], [0.5; 3], [0.5; 3])?;
/// let batch = small.batch([&image, &image])?;
/// assert_eq!(batch.dim(), (2, 3, 128, 128));
/// # Ok::<(), stride_vision::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    resize: usize,
    crop: [usize; 2],
    mean: [f32; 3],
    std: [f32; 3],
}

impl Transform {
    /// The transform of torchvision's ImageNet classifiers (`ResNet18_Weights.IMAGENET1K_V1
    /// .transforms()`, and most others): resize to 256, center crop 224x224, ImageNet's mean
    /// and standard deviation.
    pub fn imagenet() -> Transform {
        Transform {
            resize: 256,
            crop: [224, 224],
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
        }
    }

    /// A transform that resizes the shorter side to `resize`, crops the center `crop`
    /// (`[height, width]`) and normalises each channel `c` to `(x / 255 - mean[c]) / std[c]`.
    ///
    /// # Errors
    /// [`Error::Transform`] for a size of 0 or above [`MAX_TRANSFORM_SIDE`], a mean that is not
    /// finite, or a standard deviation that is not finite and positive.
    ///
    /// ```
    /// use stride_vision::Transform;
    ///
    /// let refused = Transform::new(256, [224, 224], [0.5; 3], [0.5, 0.0, 0.5]).unwrap_err();
    /// assert_eq!(
    ///     refused.to_string(),
    ///     "transform: std[1] is 0; a standard deviation must be finite and above 0"
    /// );
    /// ```
    pub fn new(
        resize: usize,
        crop: [usize; 2],
        mean: [f32; 3],
        std: [f32; 3],
    ) -> Result<Transform, Error> {
        for (what, size) in [
            ("resize", resize),
            ("crop height", crop[0]),
            ("crop width", crop[1]),
        ] {
            if size == 0 || size > MAX_TRANSFORM_SIDE {
                return Err(Error::Transform(format!(
                    "{what} is {size}; it must be from 1 to {MAX_TRANSFORM_SIDE}"
                )));
            }
        }
        for (c, (&m, &s)) in mean.iter().zip(&std).enumerate() {
            if !m.is_finite() {
                return Err(Error::Transform(format!(
                    "mean[{c}] is {m}; it must be finite"
                )));
            }
            if !(s.is_finite() && s > 0.0) {
                return Err(Error::Transform(format!(
                    "std[{c}] is {s}; a standard deviation must be finite and above 0"
                )));
            }
        }
        Ok(Transform {
            resize,
            crop,
            mean,
            std,
        })
    }

    /// The size the shorter side is resized to.
    pub fn resize(&self) -> usize {
        self.resize
    }

    /// The center crop, `[height, width]`.
    pub fn crop(&self) -> [usize; 2] {
        self.crop
    }

    /// The mean subtracted from each channel (on the 0..1 scale).
    pub fn mean(&self) -> [f32; 3] {
        self.mean
    }

    /// The standard deviation each channel is divided by.
    pub fn std(&self) -> [f32; 3] {
        self.std
    }

    /// The size (`[height, width]`) an image of `height`x`width` is resized to: the shorter
    /// side to [`resize`](Self::resize), the longer to `int(resize * long / short)` (the
    /// division in `f64`, truncated), as torchvision's `_compute_resized_output_size`; a square
    /// counts its width as the shorter side.
    ///
    /// ```
    /// let resized = stride_vision::Transform::imagenet().resized_size(375, 500);
    /// assert_eq!(resized, [256, 341]); // int(256 * 500 / 375) = int(341.33)
    /// ```
    pub fn resized_size(&self, height: usize, width: usize) -> [usize; 2] {
        let (short, long) = if width <= height {
            (width, height)
        } else {
            (height, width)
        };
        let long = ((self.resize as f64 * long as f64) / short as f64) as usize;
        if width <= height {
            [long, self.resize]
        } else {
            [self.resize, long]
        }
    }

    /// The image as a batch of one, `[1, 3, crop height, crop width]`.
    pub fn apply(&self, image: &RgbImage) -> Array4<f32> {
        let [h, w] = self.crop;
        let mut x = Array4::zeros((1, 3, h, w));
        self.write(image, x.index_axis_mut(Axis(0), 0));
        x
    }

    /// The images as one batch, `[N, 3, crop height, crop width]`, in their order.
    ///
    /// # Errors
    /// [`Error::EmptyBatch`] if there are none.
    pub fn batch<'a>(
        &self,
        images: impl IntoIterator<Item = &'a RgbImage>,
    ) -> Result<Array4<f32>, Error> {
        let images: Vec<&RgbImage> = images.into_iter().collect();
        if images.is_empty() {
            return Err(Error::EmptyBatch);
        }
        let [h, w] = self.crop;
        let mut x = Array4::zeros((images.len(), 3, h, w));
        for (image, out) in images.iter().zip(x.outer_iter_mut()) {
            self.write(image, out);
        }
        Ok(x)
    }

    /// Reads a PNG or JPEG file and transforms it: a batch of one.
    ///
    /// # Errors
    /// As [`RgbImage::open`].
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Array4<f32>, Error> {
        Ok(self.apply(&RgbImage::open(path)?))
    }

    /// Reads PNG or JPEG files and transforms them into one batch, in their order.
    ///
    /// # Errors
    /// As [`RgbImage::open`] for the first file that fails, and [`Error::EmptyBatch`] for no
    /// files.
    pub fn load_batch(
        &self,
        paths: impl IntoIterator<Item = impl AsRef<Path>>,
    ) -> Result<Array4<f32>, Error> {
        let images = paths
            .into_iter()
            .map(RgbImage::open)
            .collect::<Result<Vec<_>, _>>()?;
        self.batch(&images)
    }

    /// Writes the transformed image into `out`, `[3, crop height, crop width]`, which holds
    /// zeros.
    fn write(&self, image: &RgbImage, mut out: ArrayViewMut3<'_, f32>) {
        let resized = self.resized_size(image.height(), image.width());
        let (rows, top) = crop_axis(resized[0], self.crop[0]);
        let (columns, left) = crop_axis(resized[1], self.crop[1]);
        // ToTensor then Normalize, in f32 as torchvision computes them: (v / 255 - mean) / std.
        let normalise = |c: usize, v: u8| (f32::from(v) / 255.0 - self.mean[c]) / self.std[c];
        // torchvision pads a crop larger than the image with black before normalising.
        for (c, mut plane) in out.outer_iter_mut().enumerate() {
            plane.fill(normalise(c, 0));
        }
        let width = columns.len();
        let region = image.resize_region(resized, rows.clone(), columns);
        for (y, row) in region.chunks_exact(width * 3).enumerate() {
            for (x, pixel) in row.chunks_exact(3).enumerate() {
                for (c, &v) in pixel.iter().enumerate() {
                    out[[c, top + y, left + x]] = normalise(c, v);
                }
            }
        }
    }
}

impl Default for Transform {
    /// [`Transform::imagenet`].
    fn default() -> Transform {
        Transform::imagenet()
    }
}

/// One axis of torchvision's `CenterCrop` of `crop` from `size`: the resized image's samples it
/// keeps, and where the first of them lands in the crop. A crop within the image starts at
/// `round((size - crop) / 2)`, Python's `round` (half to even); a larger crop pads the image
/// with `(crop - size) // 2` before and the rest after.
fn crop_axis(size: usize, crop: usize) -> (Range<usize>, usize) {
    if size >= crop {
        let excess = size - crop;
        let half = excess / 2;
        let start = if excess % 2 == 1 && half % 2 == 1 {
            half + 1
        } else {
            half
        };
        (start..start + crop, 0)
    } else {
        (0..size, (crop - size) / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_offset_rounds_half_to_even_as_python_round() {
        // round(58.5) = 58, round(1.5) = 2, round(0.5) = 0, round(2.5) = 2.
        assert_eq!(crop_axis(341, 224), (58..282, 0));
        assert_eq!(crop_axis(5, 2), (2..4, 0));
        assert_eq!(crop_axis(3, 2), (0..2, 0));
        assert_eq!(crop_axis(7, 2), (2..4, 0));
        assert_eq!(crop_axis(256, 224), (16..240, 0));
    }

    #[test]
    fn a_crop_larger_than_the_image_pads_it_as_torchvision_pads() {
        // padding_ltrb: (crop - size) // 2 before, (crop - size + 1) // 2 after.
        assert_eq!(crop_axis(5, 8), (0..5, 1));
        assert_eq!(crop_axis(5, 10), (0..5, 2));
    }

    #[test]
    fn padding_is_black_normalised() {
        let t = Transform::new(4, [6, 6], IMAGENET_MEAN, IMAGENET_STD).unwrap();
        let image = RgbImage::from_raw(4, 4, vec![255; 4 * 4 * 3]).unwrap();
        let x = t.apply(&image);
        assert_eq!(x[[0, 1, 0, 0]], (0.0 - 0.456) / 0.224);
        assert_eq!(x[[0, 1, 1, 1]], (1.0 - 0.456) / 0.224);
        assert_eq!(x[[0, 1, 5, 5]], (0.0 - 0.456) / 0.224);
    }

    #[test]
    fn resized_size_follows_torchvision() {
        let t = Transform::imagenet();
        assert_eq!(t.resized_size(375, 500), [256, 341]);
        assert_eq!(t.resized_size(500, 375), [341, 256]);
        assert_eq!(t.resized_size(300, 300), [256, 256]);
        assert_eq!(t.resized_size(1, 65_535), [256, 16_776_960]);
    }

    #[test]
    fn a_very_long_image_is_cropped_without_resizing_all_of_it() {
        // Resized to 256 x 16,776,960, of which only the 224x224 crop is computed.
        let image = RgbImage::from_raw(65_535, 1, vec![7; 65_535 * 3]).unwrap();
        let x = Transform::imagenet().apply(&image);
        let want = (7.0 / 255.0 - 0.485) / 0.229;
        assert!(x.index_axis(Axis(1), 0).iter().all(|&v| v == want));
    }

    #[test]
    fn refuses_sizes_and_statistics_that_make_no_sense() {
        let m = IMAGENET_MEAN;
        let s = IMAGENET_STD;
        for (t, message) in [
            (
                Transform::new(0, [224, 224], m, s),
                "resize is 0; it must be from 1 to 16384",
            ),
            (
                Transform::new(256, [224, 0], m, s),
                "crop width is 0; it must be from 1 to 16384",
            ),
            (
                Transform::new(256, [20_000, 224], m, s),
                "crop height is 20000; it must be from 1 to 16384",
            ),
            (
                Transform::new(256, [224, 224], [0.0, f32::NAN, 0.0], s),
                "mean[1] is NaN; it must be finite",
            ),
            (
                Transform::new(256, [224, 224], m, [1.0, 1.0, -1.0]),
                "std[2] is -1; a standard deviation must be finite and above 0",
            ),
        ] {
            assert_eq!(t.unwrap_err().to_string(), format!("transform: {message}"));
        }
        assert!(matches!(
            Transform::imagenet().batch([]),
            Err(Error::EmptyBatch)
        ));
    }
}
